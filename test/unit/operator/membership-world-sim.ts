// A simulator of everything the planner observes — StatefulSet, pods, PVCs and the Raft membership
// as kuorum nodes report it — faithful to the node's admin API contract (one pending conf change,
// 409 on conflicts, learners catch up asynchronously, a member ID lives in its volume). Real
// Kubernetes and real nodes cannot run inside a unit test; the e2e tier exercises those.
import { plan, podName, pvcName, quorum, type Action, type PlannerInput } from '../../../operator/src/planner.js';
import type { NodeMember, NodeStatus } from '../../../operator/src/types.js';

export const CLUSTER = 'kv';
export const NAMESPACE = 'default';
const LAST_INDEX = 1000;

interface Volume {
  memberId: string;
  clusterId: string;
}
interface Pod {
  image: string;
  up: boolean;
  deleting: boolean;
}
interface Member {
  name: string;
  role: 'voter' | 'learner';
  caughtUp: boolean;
}
type Pending = { kind: 'add'; id: string; name: string } | { kind: 'promote'; id: string } | { kind: 'remove'; id: string };

export class Violation extends Error {}

export interface WorldState {
  spec: { replicas: number; image: string };
  bootstrapped: boolean;
  sts: { replicas: number } | null;
  volumes: Map<number, Volume>;
  pods: Map<number, Pod>;
  clusterId: string;
  members: Map<string, Member>;
  leader: string | null;
  pending: Pending | null;
  nextId: number;
  everAdded: Set<string>;
}

export type EnvEvent =
  | { kind: 'kubelet' }
  | { kind: 'applyPending' }
  | { kind: 'catchUp' }
  | { kind: 'elect' }
  | { kind: 'crashPod'; ordinal: number }
  | { kind: 'restartPod'; ordinal: number }
  | { kind: 'wipeVolume'; ordinal: number }
  | { kind: 'loseStatus' }
  | { kind: 'dropPending' }
  | { kind: 'setReplicas'; replicas: number }
  | { kind: 'setImage'; image: string };

export class MembershipWorld {
  s: WorldState;
  readonly log: string[] = [];
  conflicts = 0;

  constructor(replicas: number, image = 'kuorum:1') {
    this.s = {
      spec: { replicas, image },
      bootstrapped: false,
      sts: null,
      volumes: new Map(),
      pods: new Map(),
      clusterId: '',
      members: new Map(),
      leader: null,
      pending: null,
      nextId: 1,
      everAdded: new Set(),
    };
  }

  clone(): MembershipWorld {
    const w = new MembershipWorld(this.s.spec.replicas, this.s.spec.image);
    w.s = {
      ...this.s,
      spec: { ...this.s.spec },
      sts: this.s.sts ? { ...this.s.sts } : null,
      volumes: new Map([...this.s.volumes].map(([k, v]) => [k, { ...v }])),
      pods: new Map([...this.s.pods].map(([k, v]) => [k, { ...v }])),
      members: new Map([...this.s.members].map(([k, v]) => [k, { ...v }])),
      pending: this.s.pending ? { ...this.s.pending } : null,
      everAdded: new Set(this.s.everAdded),
    };
    return w;
  }

  private volumeIdOf(name: string): string | undefined {
    const ord = Number(name.slice(CLUSTER.length + 1));
    return this.s.volumes.get(ord)?.memberId;
  }

  private isUp(id: string): boolean {
    const m = this.s.members.get(id);
    if (!m) return false;
    const ord = Number(m.name.slice(CLUSTER.length + 1));
    const pod = this.s.pods.get(ord);
    return !!pod && pod.up && !pod.deleting && this.s.volumes.get(ord)?.memberId === id;
  }

  private voters(): string[] {
    return [...this.s.members].filter(([, m]) => m.role === 'voter').map(([id]) => id);
  }

  private healthyCount(ids: string[]): number {
    return ids.filter((id) => this.isUp(id)).length;
  }

  // ---- what the operator observes ----

  observe(): PlannerInput {
    const s = this.s;
    const pods = [...s.pods].map(([ord, p]) => {
      const vol = s.volumes.get(ord);
      const member = vol ? s.members.get(vol.memberId) : undefined;
      const ready = p.up && !p.deleting && !!member && s.leader !== null && vol?.clusterId !== '';
      return { name: podName(CLUSTER, ord), ordinal: ord, phase: 'Running', ready, ip: `10.0.0.${ord + 1}`, deleting: p.deleting, image: p.image };
    });
    const nodes: Record<string, NodeStatus | null> = {};
    for (const [ord, p] of s.pods) {
      const vol = s.volumes.get(ord);
      if (!vol) continue;
      nodes[podName(CLUSTER, ord)] = p.up && !p.deleting
        ? { id: vol.memberId, name: podName(CLUSTER, ord), clusterId: vol.clusterId, role: 'follower', term: 1, leaderId: s.leader ?? '', commit: 0, applied: 0, lastIndex: 0 }
        : null;
    }
    const leader = s.leader && this.isUp(s.leader)
      ? {
          id: s.leader,
          clusterId: s.clusterId,
          lastIndex: LAST_INDEX,
          commit: LAST_INDEX,
          members: [...s.members].map(([id, m]): NodeMember => ({
            id,
            name: m.name,
            peerAddress: '',
            role: m.role,
            matchIndex: m.caughtUp && this.isUp(id) ? LAST_INDEX : 0,
            lastContactMs: this.isUp(id) ? 0 : 60_000,
          })),
        }
      : null;
    return {
      name: CLUSTER,
      namespace: NAMESPACE,
      spec: { ...s.spec },
      bootstrapped: s.bootstrapped,
      statefulSet: s.sts ? { ...s.sts } : null,
      pods,
      pvcs: [...s.volumes.keys()].map((ord) => ({ name: pvcName(CLUSTER, ord), deleting: false })),
      nodes,
      leader,
    };
  }

  // ---- the operator's actions, as the node API and Kubernetes would carry them out ----

  execute(action: Action, opts: { loseStatusWrite?: boolean } = {}): void {
    this.log.push(JSON.stringify(action));
    const s = this.s;
    const conflict = (): void => {
      this.conflicts++;
    };
    switch (action.type) {
      case 'none':
      case 'wait':
        return;
      case 'createObjects':
        if (!s.sts) s.sts = { replicas: action.replicas };
        return;
      case 'bootstrap': {
        const vol = s.volumes.get(0);
        const pod = s.pods.get(0);
        if (!vol || !pod?.up || pod.deleting) return conflict();
        if (vol.clusterId !== '') return conflict(); // 409: already formed
        if (s.clusterId !== '') throw new Violation(`bootstrapped a second cluster: ${this.log.join(' ')}`);
        s.clusterId = 'cluster-1';
        vol.clusterId = s.clusterId;
        s.members.set(vol.memberId, { name: podName(CLUSTER, 0), role: 'voter', caughtUp: true });
        s.everAdded.add(vol.memberId);
        s.leader = vol.memberId;
        if (!opts.loseStatusWrite) s.bootstrapped = true;
        return;
      }
      case 'addLearner': {
        if (s.members.has(action.id)) throw new Violation(`added ${action.id} twice`);
        if (s.everAdded.has(action.id)) throw new Violation(`re-added removed member ${action.id}`);
        if (this.volumeIdOf(action.pod) !== action.id) return conflict(); // stale view
        if (!this.leaderUp() || s.pending) return conflict();
        s.pending = { kind: 'add', id: action.id, name: action.pod };
        return;
      }
      case 'promote': {
        const m = s.members.get(action.id);
        if (!m || m.role !== 'learner') return conflict();
        if (!this.leaderUp() || s.pending || !m.caughtUp) return conflict();
        const v = this.voters();
        if (this.healthyCount(v) + 1 < quorum(v.length + 1)) throw new Violation(`promote ${action.id} breaks quorum`);
        s.pending = { kind: 'promote', id: action.id };
        return;
      }
      case 'removeMember': {
        const m = s.members.get(action.id);
        if (!m) return conflict(); // 404
        if (action.id === s.leader) throw new Violation(`removed the leader ${action.id} without a transfer`);
        if (!this.leaderUp() || s.pending) return conflict();
        if (m.role === 'voter') {
          const before = this.voters();
          const after = before.filter((id) => id !== action.id);
          if (this.healthyCount(before) < quorum(before.length) || this.healthyCount(after) < quorum(after.length)) {
            throw new Violation(`removing ${action.id} breaks quorum`);
          }
        }
        s.pending = { kind: 'remove', id: action.id };
        return;
      }
      case 'transferLeadership': {
        if (s.leader !== action.from || !this.leaderUp()) return conflict();
        const to = s.members.get(action.to);
        if (!to || to.role !== 'voter' || !this.isUp(action.to)) return conflict();
        s.leader = action.to;
        return;
      }
      case 'scaleStatefulSet': {
        if (!s.sts) throw new Violation('scaled a missing StatefulSet');
        if (Math.abs(action.replicas - s.sts.replicas) !== 1) throw new Violation(`scaled by more than one: ${s.sts.replicas}→${action.replicas}`);
        if (action.replicas < s.sts.replicas) {
          const gone = podName(CLUSTER, action.replicas);
          for (const [, m] of s.members) if (m.name === gone && m.role === 'voter') throw new Violation(`shrank away voter ${gone}`);
        }
        s.sts.replicas = action.replicas;
        return;
      }
      case 'deletePvc': {
        const ord = Number(action.name.slice(`data-${CLUSTER}-`.length));
        const vol = s.volumes.get(ord);
        if (!vol) return conflict();
        if (s.members.has(vol.memberId)) throw new Violation(`deleted the PVC of member ${vol.memberId} (${action.name})`);
        if (s.pods.has(ord)) throw new Violation(`deleted the PVC ${action.name} under a live pod`);
        s.volumes.delete(ord);
        return;
      }
      case 'recyclePod': {
        const ord = Number(action.pod.slice(CLUSTER.length + 1));
        const vol = s.volumes.get(ord);
        if (vol && s.members.has(vol.memberId)) throw new Violation(`recycled member ${vol.memberId}`);
        s.volumes.delete(ord);
        const pod = s.pods.get(ord);
        if (pod) pod.deleting = true;
        return;
      }
      case 'deletePodForUpgrade': {
        const ord = Number(action.pod.slice(CLUSTER.length + 1));
        const pod = s.pods.get(ord);
        if (!pod) return conflict();
        const id = s.volumes.get(ord)?.memberId ?? '';
        const v = this.voters();
        if (v.length > 1) {
          if (id === s.leader) throw new Violation(`restarted the leader ${action.pod} for an upgrade without a transfer`);
          if (v.includes(id) && this.healthyCount(v.filter((x) => x !== id)) < quorum(v.length)) {
            throw new Violation(`upgrade restart of ${action.pod} breaks quorum`);
          }
        }
        pod.deleting = true;
        return;
      }
    }
  }

  private leaderUp(): boolean {
    return this.s.leader !== null && this.isUp(this.s.leader);
  }

  // ---- the world moving on by itself ----

  apply(e: EnvEvent): void {
    const s = this.s;
    switch (e.kind) {
      case 'kubelet': {
        for (const [ord, pod] of [...s.pods]) {
          if (pod.deleting || !s.sts || ord >= s.sts.replicas) {
            s.pods.delete(ord);
            if (s.leader && s.volumes.get(ord)?.memberId === s.leader) s.leader = null;
          }
        }
        for (let ord = 0; s.sts && ord < s.sts.replicas; ord++) {
          if (s.pods.has(ord)) continue;
          if (!s.volumes.has(ord)) s.volumes.set(ord, { memberId: (s.nextId++).toString(16).padStart(16, '0'), clusterId: '' });
          s.pods.set(ord, { image: s.spec.image, up: true, deleting: false });
        }
        return;
      }
      case 'applyPending': {
        const p = s.pending;
        if (!p || !this.leaderUp()) return;
        s.pending = null;
        if (p.kind === 'add') {
          s.members.set(p.id, { name: p.name, role: 'learner', caughtUp: false });
          s.everAdded.add(p.id);
          const ord = Number(p.name.slice(CLUSTER.length + 1));
          const vol = s.volumes.get(ord);
          if (vol && vol.memberId === p.id) vol.clusterId = s.clusterId;
        } else if (p.kind === 'promote') {
          const m = s.members.get(p.id);
          if (m) m.role = 'voter';
        } else {
          s.members.delete(p.id);
        }
        return;
      }
      case 'catchUp':
        for (const [id, m] of s.members) if (this.isUp(id)) m.caughtUp = true;
        return;
      case 'elect': {
        if (this.leaderUp()) return;
        const v = this.voters();
        const up = v.filter((id) => this.isUp(id));
        s.leader = up.length >= quorum(v.length) ? (up.sort()[0] ?? null) : null;
        return;
      }
      case 'crashPod': {
        const pod = s.pods.get(e.ordinal);
        if (!pod) return;
        pod.up = false;
        if (s.leader && s.volumes.get(e.ordinal)?.memberId === s.leader) s.leader = null;
        return;
      }
      case 'restartPod': {
        const pod = s.pods.get(e.ordinal);
        if (pod) pod.up = true;
        return;
      }
      case 'wipeVolume': {
        // Only while the voters whose data survives still form a quorum: beyond that no operator can help.
        const vol = s.volumes.get(e.ordinal);
        if (!vol) return;
        const hasData = (id: string): boolean => id !== vol.memberId && [...s.volumes.values()].some((x) => x.memberId === id);
        const v = this.voters();
        const pending = s.pending;
        const promoted = pending?.kind === 'promote' ? [pending.id] : [];
        const vAfter = pending?.kind === 'remove' ? v.filter((id) => id !== pending.id) : [...v, ...promoted];
        for (const config of [v, vAfter]) if (config.filter(hasData).length < quorum(config.length)) return;
        if (s.leader === vol.memberId) s.leader = null;
        s.volumes.set(e.ordinal, { memberId: (s.nextId++).toString(16).padStart(16, '0'), clusterId: '' });
        const pod = s.pods.get(e.ordinal);
        if (pod) pod.up = true;
        return;
      }
      case 'dropPending':
        // An uncommitted conf change may be lost with its leader.
        if (!this.leaderUp()) s.pending = null;
        return;
      case 'loseStatus':
        s.bootstrapped = false;
        return;
      case 'setReplicas':
        s.spec.replicas = e.replicas;
        return;
      case 'setImage':
        s.spec.image = e.image;
        return;
    }
  }

  /** Everything transient recovers: pods restart, the scheduler and the leader catch up. */
  heal(): void {
    for (const pod of this.s.pods.values()) pod.up = true;
    this.apply({ kind: 'kubelet' });
    this.apply({ kind: 'elect' });
  }

  /** Re-plan and act until the planner says there is nothing left to do. Returns the number of steps. */
  converge(maxSteps = 400): number {
    for (let step = 0; step < maxSteps; step++) {
      const action = plan(this.observe());
      if (action.type === 'none') return step;
      this.execute(action);
      this.apply({ kind: 'kubelet' });
      this.apply({ kind: 'applyPending' });
      this.apply({ kind: 'catchUp' });
      this.apply({ kind: 'elect' });
    }
    throw new Error(`no convergence after ${maxSteps} steps; last plan ${JSON.stringify(plan(this.observe()))}; log tail ${this.log.slice(-10).join(' ')}`);
  }

  /** The converged state DESIGN.md asks for; returns a list of differences (empty when converged). */
  differencesFromSpec(): string[] {
    const s = this.s;
    const out: string[] = [];
    const n = s.spec.replicas;
    if (s.sts?.replicas !== n) out.push(`sts replicas ${s.sts?.replicas} != ${n}`);
    if (s.members.size !== n) out.push(`${s.members.size} members != ${n}`);
    for (let ord = 0; ord < n; ord++) {
      const vol = s.volumes.get(ord);
      const m = vol ? s.members.get(vol.memberId) : undefined;
      if (!m || m.role !== 'voter' || m.name !== podName(CLUSTER, ord)) out.push(`${podName(CLUSTER, ord)} is not a voter`);
      if (s.pods.get(ord)?.image !== s.spec.image) out.push(`${podName(CLUSTER, ord)} runs an old image`);
    }
    for (const ord of s.volumes.keys()) if (ord >= n) out.push(`stale PVC ${pvcName(CLUSTER, ord)}`);
    if (!s.leader) out.push('no leader');
    return out;
  }
}
