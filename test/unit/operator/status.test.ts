import { describe, expect, it } from 'vitest';
import { plan } from '../../../operator/src/planner.js';
import { computeStatus, eventFor } from '../../../operator/src/status.js';
import type { RaftCluster } from '../../../operator/src/types.js';
import { MembershipWorld } from './membership-world-sim.js';

const NOW = new Date('2026-11-22T05:00:00Z');
const LATER = new Date('2026-11-22T05:05:00Z');

function cluster(status?: RaftCluster['status']): RaftCluster {
  return { metadata: { name: 'kv', namespace: 'default', uid: 'u', generation: 4 }, spec: { replicas: 3, image: 'kuorum:1' }, ...(status ? { status } : {}) };
}

function converged(n: number): MembershipWorld {
  const w = new MembershipWorld(n);
  w.converge();
  return w;
}

describe('status', () => {
  it('reports a healthy converged cluster as Running and Available', () => {
    const w = converged(3);
    const input = w.observe();
    const action = plan(input);
    const s = computeStatus(cluster(), input, action, NOW, 'sel', true);
    expect(s).toMatchObject({ observedGeneration: 4, phase: 'Running', replicas: 3, readyReplicas: 3, faultTolerance: 1, selector: 'sel', bootstrapped: true, clusterId: 'cluster-1' });
    expect(s.leader).toMatch(/^kv-[0-2]$/);
    expect(s.members).toHaveLength(3);
    expect(s.members?.every((m) => m.healthy && m.role === 'voter')).toBe(true);
    expect(s.operation).toBeUndefined();
    const byType = Object.fromEntries((s.conditions ?? []).map((c) => [c.type, c.status]));
    expect(byType).toEqual({ Available: 'True', Progressing: 'False', Degraded: 'False' });
  });

  it('marks an unhealthy voter Degraded and lowers the fault tolerance', () => {
    const w = converged(3);
    const follower = [...w.s.members].find(([id]) => id !== w.s.leader)![1].name;
    w.apply({ kind: 'crashPod', ordinal: Number(follower.slice(3)) });
    const input = w.observe();
    const s = computeStatus(cluster(), input, plan(input), NOW, 'sel', true);
    expect(s.faultTolerance).toBe(0);
    expect(s.phase).toBe('Degraded');
    const degraded = s.conditions?.find((c) => c.type === 'Degraded');
    expect(degraded).toMatchObject({ status: 'True', reason: 'MembersUnhealthy' });
    expect(degraded?.message).toContain(follower);
    expect(s.members?.find((m) => m.name === follower)?.healthy).toBe(false);
  });

  it('keeps the operation start time and the condition transition time while nothing changes', () => {
    const w = converged(3);
    w.apply({ kind: 'setReplicas', replicas: 5 });
    const input = w.observe();
    const action = plan(input);
    expect(action.type).toBe('scaleStatefulSet');
    const first = computeStatus(cluster({ phase: 'Running' }), input, action, NOW, 'sel', true);
    expect(first.phase).toBe('Scaling');
    expect(first.operation).toEqual({ what: 'scaleStatefulSet', on: '4', since: NOW.toISOString() });
    const second = computeStatus(cluster(first), input, action, LATER, 'sel', true);
    expect(second.operation?.since).toBe(NOW.toISOString());
    expect(second.conditions?.find((c) => c.type === 'Progressing')?.lastTransitionTime).toBe(NOW.toISOString());
  });

  it('reports waiting on quorum as Degraded with a Warning event', () => {
    const w = converged(3);
    w.s.leader = [...w.s.members].find(([, m]) => m.name === 'kv-0')![0];
    w.apply({ kind: 'crashPod', ordinal: 1 });
    w.apply({ kind: 'setReplicas', replicas: 2 });
    const input = w.observe();
    const action = plan(input);
    const s = computeStatus(cluster(), input, action, NOW, 'sel', true);
    expect(s.phase).toBe('Degraded');
    expect(s.conditions?.find((c) => c.type === 'Progressing')).toMatchObject({ status: 'True', reason: 'QuorumAtRisk' });
    expect(eventFor(action)).toMatchObject({ type: 'Warning', reason: 'QuorumAtRisk' });
  });

  it('emits Normal events for steps and none when converged', () => {
    expect(eventFor({ type: 'addLearner', pod: 'kv-1', id: 'ab', peerAddress: 'x' })).toEqual({ type: 'Normal', reason: 'AddLearner', message: 'Adding kv-1 (ab) as a learner' });
    expect(eventFor({ type: 'none' })).toBeNull();
    expect(eventFor({ type: 'wait', reason: 'LearnerCatchingUp', message: 'm' })).toBeNull();
  });

  it('starts Pending without a StatefulSet and keeps a known cluster ID when no leader answers', () => {
    const w = new MembershipWorld(3);
    const input = w.observe();
    expect(computeStatus(cluster(), input, plan(input), NOW, 'sel', false).phase).toBe('Pending');
    const w2 = converged(3);
    const input2 = w2.observe();
    input2.leader = null;
    const s = computeStatus(cluster({ clusterId: 'cluster-1', phase: 'Running' }), input2, plan(input2), NOW, 'sel', true);
    expect(s.clusterId).toBe('cluster-1');
    expect(s.phase).toBe('Degraded');
    expect(s.conditions?.find((c) => c.type === 'Available')).toMatchObject({ status: 'False', reason: 'NoLeader' });
  });
});
