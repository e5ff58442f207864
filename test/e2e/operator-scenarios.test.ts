// Operator scenarios on a real control plane, each under continuous client writes: pod restart,
// operator killed mid scale-up and mid scale-down, scale 3→1→3, quorum safety, invalid specs.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CustomObjectsApi, DiscoveryV1Api } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RaftCluster } from '../../operator/src/types.js';
import { startCluster, type Cluster } from './harness/cluster.js';
import { hasHealthyVoters, memberIds, pollUntil, raftClusterManifest, readRaftCluster } from './harness/raft-cluster.js';
import { ContinuousWriter, verifyAcked } from './scenarios/continuous-writer.js';
import { signalPod } from './scenarios/pod-process.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const NS = 'default';
const NAME = 'scen';
const OP_NS = 'kuorum-system';
const MANIFEST = raftClusterManifest(NAME, NS);

let cluster: Cluster;
let custom: CustomObjectsApi;
let discovery: DiscoveryV1Api;
let writer: ContinuousWriter | undefined;
let scenario = 0;
/** Set once the RaftCluster serves clients: from then on every scenario must get writes acknowledged. */
let serving = false;

async function raftCluster(): Promise<RaftCluster> {
  return readRaftCluster(custom, NS, NAME);
}

async function report(): Promise<string> {
  const rc = await cluster.kubectl('get', 'raft', '-A', '-o', 'yaml').catch((e: Error) => e.message);
  const ops = await cluster.kubectl('logs', '-n', OP_NS, '-l', 'app.kubernetes.io/name=kuorum-operator', '--tail=60', '--prefix').catch((e: Error) => e.message);
  return `----- kubectl get raft -o yaml -----\n${rc}\n----- operator logs -----\n${ops}\n${cluster.diagnostics()}`;
}

function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 180_000, everyMs = 1000): Promise<T> {
  return pollUntil(what, probe, { timeoutMs, everyMs, report });
}

async function pods(): Promise<{ name: string; ip: string; uid: string; ready: boolean }[]> {
  const list = await cluster.core.listNamespacedPod({ namespace: NS, labelSelector: `app.kubernetes.io/instance=${NAME}` });
  return list.items
    .filter((p) => p.status?.podIP && !p.metadata?.deletionTimestamp)
    .map((p) => ({
      name: p.metadata?.name ?? '',
      ip: p.status?.podIP ?? '',
      uid: p.metadata?.uid ?? '',
      ready: p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    }));
}

/** The client Service's ready endpoints (its EndpointSlices): what a client in the cluster is routed to. */
async function clientEndpoints(): Promise<string[]> {
  const slices = await discovery.listNamespacedEndpointSlice({ namespace: NS, labelSelector: `kubernetes.io/service-name=${NAME}` });
  return slices.items.flatMap((s) => (s.endpoints ?? []).filter((e) => e.conditions?.ready === true).flatMap((e) => e.addresses));
}

async function podIp(name: string): Promise<string> {
  const ip = (await pods()).find((p) => p.name === name)?.ip;
  if (!ip) throw new Error(`${name} has no IP`);
  return ip;
}

const ordinals = (n: number): string[] => Array.from({ length: n }, (_, i) => `${NAME}-${i}`);

async function waitForMembers(voters: number): Promise<RaftCluster> {
  return waitFor(`${NAME} to run with ${voters} healthy voters`, async () => {
    const rc = await raftCluster();
    const s = rc.status;
    const ok = hasHealthyVoters(rc, voters) && s?.observedGeneration === rc.metadata.generation && (s?.members ?? []).length === voters;
    return ok ? rc : undefined;
  });
}

/** The leader's own member list: the expected pods, each exactly once, all voters. */
async function expectLeaderMembers(expected: string[]): Promise<void> {
  const members = await waitFor(`the leader's member list to be ${expected.join(',')}`, async () => {
    const leader = (await raftCluster()).status?.leader;
    if (!leader) return undefined;
    const res = await fetch(`http://${await podIp(leader)}:8080/v1/members`, { signal: AbortSignal.timeout(5_000) });
    if (!res.ok) return undefined;
    const body = (await res.json()) as { members: { id: string; name: string; role: string }[] };
    return body.members.length === expected.length ? body.members : undefined;
  }, 60_000);
  expect(members.map((m) => m.name).sort()).toEqual([...expected].sort());
  expect(new Set(members.map((m) => m.id)).size).toBe(expected.length);
  expect(members.every((m) => m.role === 'voter')).toBe(true);
}

async function operatorPod(): Promise<string> {
  return cluster.kubectl('get', 'lease', 'kuorum-operator', '-n', OP_NS, '-o', 'jsonpath={.spec.holderIdentity}');
}

/** Kills the operator pod that holds the Lease without a grace period (the kubelet SIGKILLs it). */
async function killOperator(): Promise<string> {
  const holder = await operatorPod();
  await cluster.kubectl('delete', 'pod', holder, '-n', OP_NS, '--grace-period=0', '--force');
  return holder;
}

async function stsReplicas(): Promise<number> {
  return Number(await cluster.kubectl('get', 'statefulset', NAME, '-o', 'jsonpath={.spec.replicas}'));
}

async function applyRejected(manifest: string, ...extra: string[]): Promise<string> {
  return cluster.kubectlStdin(manifest, 'apply', '--validate=strict', ...extra, '-f', '-').then((out) => `accepted: ${out}`, (err: Error) => err.message);
}

const invalid = (name: string, spec: string): string =>
  `apiVersion: kuorum.dev/v1alpha1\nkind: RaftCluster\nmetadata: {name: ${name}, namespace: ${NS}}\nspec: ${spec}\n`;

beforeAll(async () => {
  for (const f of ['dist/operator/src/main.js', 'dist/node/src/main.js']) {
    if (!existsSync(join(root, f))) throw new Error(`${f} is missing: run \`make build\` first`);
  }
  cluster = await startCluster({ kubelets: 1 });
  custom = cluster.kubeConfig.makeApiClient(CustomObjectsApi);
  discovery = cluster.kubeConfig.makeApiClient(DiscoveryV1Api);
  await cluster.helm('install', 'kuorum-operator', join(root, 'charts/kuorum-operator'), '--namespace', OP_NS, '--create-namespace', '--set', 'replicaCount=1', '--wait', '--timeout', '180s');
}, 600_000);

afterAll(async () => {
  await writer?.stop();
  await cluster?.stop();
});

// Every scenario runs under a continuous writer; every acknowledged write must be readable after it.
beforeEach(() => {
  scenario++;
  writer = new ContinuousWriter(`s${scenario}`, clientEndpoints);
  writer.start();
});

afterEach(async () => {
  const w = writer;
  writer = undefined;
  if (!w) return;
  const stats = await w.stop();
  console.log(`writer ${scenario}: ${stats.acked} acknowledged, ${stats.failed} failed`);
  if (!serving) return;
  expect(stats.acked, 'the background writer got no write acknowledged').toBeGreaterThan(0);
  const ips = await waitFor('a ready member to read from', async () => {
    const e = await clientEndpoints();
    return e.length > 0 ? e : undefined;
  }, 120_000);
  const bad = await verifyAcked(w.acked, ips);
  expect(bad, `acknowledged writes lost (${stats.acked} acked, ${stats.failed} failed)`).toEqual([]);
});

describe('kuorum operator scenarios', () => {
  it('rejects invalid specs at the API server with clear messages', async () => {
    const zero = await applyRejected(invalid('bad-zero', '{replicas: 0, image: x}'));
    expect(zero).toMatch(/spec\.replicas/);
    expect(zero).toMatch(/greater than or equal to 1/);
    const ten = await applyRejected(invalid('bad-ten', '{replicas: 10, image: x}'));
    expect(ten).toMatch(/spec\.replicas/);
    expect(ten).toMatch(/less than or equal to 9/);
    const size = await applyRejected(invalid('bad-size', '{replicas: 3, image: x, storage: {size: "lots of space"}}'));
    expect(size).toMatch(/spec\.storage\.size/);
    expect(size).toMatch(/should match/);
    const unknown = await applyRejected(invalid('bad-field', '{replicas: 3, image: x, replicaz: 4}'));
    expect(unknown).toMatch(/unknown field "spec\.replicaz"/);
    const serverSide = await applyRejected(invalid('bad-field-ssa', '{replicas: 3, image: x, replicaz: 4}'), '--server-side');
    expect(serverSide).toMatch(/\.spec\.replicaz: field not declared in schema/);
    expect(await cluster.kubectl('get', 'raft', '-o', 'name')).not.toMatch(/bad-/);
  });

  it('forms a 3-member cluster while a client writes', async () => {
    await cluster.kubectlStdin(MANIFEST, 'apply', '-f', '-');
    await waitForMembers(3);
    await expectLeaderMembers(ordinals(3));
    await waitFor('the writer to get acknowledgements', async () => (writer!.stats().acked >= 5 ? true : undefined), 60_000);
    serving = true;
  });

  it('brings a deleted pod back with the same data and the same member ID', async () => {
    const before = memberIds(await raftCluster());
    const victim = `${NAME}-1`;
    const oldUid = (await pods()).find((p) => p.name === victim)?.uid;
    const marker = `marker-${Date.now()}`;
    await waitFor('the marker write', async () => {
      const res = await fetch(`http://${await podIp(`${NAME}-0`)}:8080/v1/kv/pod-delete-marker`, { method: 'PUT', body: marker, signal: AbortSignal.timeout(5_000) });
      return res.ok ? true : undefined;
    }, 60_000);
    await cluster.kubectl('delete', 'pod', victim);
    await waitFor(`${victim} to come back as a new pod`, async () => {
      const p = (await pods()).find((x) => x.name === victim);
      return p && p.uid !== oldUid && p.ready ? p : undefined;
    });
    const rc = await waitForMembers(3);
    expect(memberIds(rc)).toEqual(before);
    // serializable: the returned pod's own copy of the data, not a forwarded read
    const local = await waitFor(`${victim} to serve the marker from its own state`, async () => {
      const res = await fetch(`http://${await podIp(victim)}:8080/v1/kv/pod-delete-marker?consistency=serializable`, { signal: AbortSignal.timeout(5_000) });
      return res.ok ? res.text() : undefined;
    }, 60_000);
    expect(local).toBe(marker);
    await expectLeaderMembers(ordinals(3));
  });

  it('converges after the operator is killed in the middle of a scale-up', async () => {
    const idsBefore = memberIds(await raftCluster());
    await cluster.kubectl('scale', `raftcluster/${NAME}`, '--replicas=4');
    const seen = await waitFor('the scale-up to be in flight (StatefulSet raised or learner added)', async () => {
      const op = (await raftCluster()).status?.operation;
      if (op && ['addLearner', 'promote'].includes(op.what)) return `${op.what} ${op.on}`;
      return (await stsReplicas()) === 4 ? 'StatefulSet at 4' : undefined;
    }, 120_000, 200);
    const killed = await killOperator();
    console.log(`operator ${killed} killed during scale-up at: ${seen}`);
    await waitFor('another operator pod to take the Lease', async () => {
      const h = await operatorPod();
      return h && h !== killed ? h : undefined;
    }, 120_000);
    const rc = await waitForMembers(4);
    expect(seen).toBeTruthy();
    for (const [name, id] of Object.entries(idsBefore)) expect(memberIds(rc)[name]).toBe(id);
    await expectLeaderMembers(ordinals(4));
  });

  it('converges after the operator is killed in the middle of a scale-down', async () => {
    await cluster.kubectl('scale', `raftcluster/${NAME}`, '--replicas=3');
    const seen = await waitFor('the scale-down to be in flight', async () => {
      const op = (await raftCluster()).status?.operation;
      if (op && ['transferLeadership', 'removeMember', 'scaleStatefulSet', 'deletePvc'].includes(op.what)) return `${op.what} ${op.on}`;
      return undefined;
    }, 120_000, 200);
    const killed = await killOperator();
    console.log(`operator ${killed} killed during scale-down at: ${seen}`);
    await waitFor('another operator pod to take the Lease', async () => {
      const h = await operatorPod();
      return h && h !== killed ? h : undefined;
    }, 120_000);
    await waitForMembers(3);
    expect(seen).toBeTruthy();
    await expectLeaderMembers(ordinals(3));
    await waitFor('the StatefulSet at 3 and data-scen-3 deleted', async () => {
      const pvcs = (await cluster.core.listNamespacedPersistentVolumeClaim({ namespace: NS })).items.map((p) => p.metadata?.name);
      return (await stsReplicas()) === 3 && !pvcs.includes(`data-${NAME}-3`) ? true : undefined;
    }, 120_000);
  });

  it('scales 3 → 1 and 1 → 3', async () => {
    await cluster.kubectl('scale', `raftcluster/${NAME}`, '--replicas=1');
    const one = await waitForMembers(1);
    expect(one.status?.leader).toBe(`${NAME}-0`);
    await expectLeaderMembers(ordinals(1));
    await cluster.kubectl('scale', `raftcluster/${NAME}`, '--replicas=3');
    await waitForMembers(3);
    await expectLeaderMembers(ordinals(3));
  });

  it('waits with QuorumAtRisk instead of removing a member when that would break quorum, then proceeds', async () => {
    const rc0 = await waitForMembers(3);
    // Hold one of the members that stay down; removing scen-2 would then leave one healthy voter of two.
    const frozen = [`${NAME}-0`, `${NAME}-1`].find((n) => n !== rc0.status?.leader)!;
    signalPod(cluster.dir, frozen, 'SIGSTOP');
    let thawed = false;
    try {
      await waitFor(`${frozen} to be seen unhealthy`, async () => {
        const m = (await raftCluster()).status?.members?.find((x) => x.name === frozen);
        return m && !m.healthy ? true : undefined;
      }, 60_000, 500);
      await cluster.kubectl('scale', `raftcluster/${NAME}`, '--replicas=2');
      const progressing = await waitFor('a QuorumAtRisk condition', async () => {
        const c = (await raftCluster()).status?.conditions?.find((x) => x.type === 'Progressing');
        return c?.reason === 'QuorumAtRisk' ? c : undefined;
      }, 40_000, 500);
      expect(progressing.status).toBe('True');
      expect(progressing.message).toMatch(/too few healthy voters/);
      const events = await cluster.kubectl('get', 'events', '-n', NS, '--field-selector', `involvedObject.name=${NAME},reason=QuorumAtRisk`, '-o', 'jsonpath={range .items[*]}{.type} {.message}{"\\n"}{end}');
      expect(events).toMatch(/Warning .*too few healthy voters/);
      // nothing was removed while waiting
      const waiting = await raftCluster();
      expect(waiting.status?.members?.map((m) => m.name).sort()).toEqual(ordinals(3));
      expect(await stsReplicas()).toBe(3);
      signalPod(cluster.dir, frozen, 'SIGCONT');
      thawed = true;
    } finally {
      if (!thawed) signalPod(cluster.dir, frozen, 'SIGCONT');
    }
    await waitForMembers(2);
    await expectLeaderMembers(ordinals(2));
  });
});
