// The reconciler end to end against simulated surroundings: kuorum nodes are real HTTP servers on
// loopback addresses (one per pod) answering from the membership simulator; the Kubernetes side is
// an in-memory cache plus a recording writer. The real control plane is exercised in the e2e tier.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KubernetesObject, ObjectCache, V1PersistentVolumeClaim, V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import type { KubeWriter } from '../../../operator/src/kube.js';
import { OperatorMetrics } from '../../../operator/src/metrics.js';
import { NodeClient } from '../../../operator/src/node-client.js';
import { Reconciler, DEFAULT_RECONCILER_OPTIONS } from '../../../operator/src/reconciler.js';
import type { EventSpec } from '../../../operator/src/status.js';
import type { RaftCluster, RaftClusterStatus } from '../../../operator/src/types.js';
import { CLUSTER, MembershipWorld, NAMESPACE, Violation } from './membership-world-sim.js';

const ipOf = (ord: number): string => `127.0.0.${20 + ord}`;
const MAX_PODS = 6;

class SimulatedSurroundings implements KubeWriter {
  readonly world: MembershipWorld;
  readonly cluster: RaftCluster;
  readonly events: EventSpec[] = [];
  readonly violations: string[] = [];
  readonly applied: string[] = [];
  servers: Server[] = [];
  /** When set, the leader reports these members: its view of who is alive lags the pods. */
  laggingMembers: unknown[] | undefined;
  port = 0;

  constructor(replicas: number) {
    this.world = new MembershipWorld(replicas);
    this.cluster = { apiVersion: 'kuorum.dev/v1alpha1', kind: 'RaftCluster', metadata: { name: CLUSTER, namespace: NAMESPACE, uid: 'uid-1', generation: 1 }, spec: { replicas, image: 'kuorum:1' } };
  }

  // ---- the node HTTP API, answered from the simulator ----
  async listen(): Promise<void> {
    const first = createServer((req, res) => this.handle(0, req, res));
    await new Promise<void>((r) => first.listen(0, ipOf(0), r));
    this.port = (first.address() as AddressInfo).port;
    this.servers.push(first);
    for (let ord = 1; ord < MAX_PODS; ord++) {
      const s = createServer((req, res) => this.handle(ord, req, res));
      await new Promise<void>((r) => s.listen(this.port, ipOf(ord), r));
      this.servers.push(s);
    }
  }

  close(): void {
    for (const s of this.servers) {
      s.closeAllConnections();
      s.close();
    }
  }

  private handle(ord: number, req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): void {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const json = (status: number, obj: unknown): void => void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(obj));
      const s = this.world.s;
      const pod = s.pods.get(ord);
      const vol = s.volumes.get(ord);
      if (!pod || !pod.up || pod.deleting || !vol) return json(503, { error: 'pod not running', code: 'Unavailable' });
      const act = (action: Parameters<MembershipWorld['execute']>[0]): void => {
        const before = this.world.conflicts;
        try {
          this.world.execute(action);
        } catch (err) {
          if (err instanceof Violation) this.violations.push(err.message);
          return json(500, { error: String(err), code: 'Violation' });
        }
        if (this.world.conflicts > before) return json(409, { error: 'conflict', code: 'Conflict' });
        json(200, {});
      };
      const url = req.url ?? '';
      const podName = `${CLUSTER}-${ord}`;
      if (req.method === 'GET' && url === '/v1/status') {
        return json(200, { id: vol.memberId, name: podName, clusterId: vol.clusterId, role: s.leader === vol.memberId ? 'leader' : 'follower', term: 1, leaderId: s.leader ?? '', commit: 1000, applied: 1000, lastIndex: 1000 });
      }
      if (req.method === 'GET' && url === '/v1/members') {
        const view = this.world.observe().leader;
        if (!view || view.id !== vol.memberId) return json(503, { error: 'not the leader', code: 'NotLeader' });
        return json(200, { members: this.laggingMembers ?? view.members });
      }
      if (req.method === 'POST' && url === '/v1/bootstrap') return act({ type: 'bootstrap', pod: podName });
      if (s.leader !== vol.memberId) return json(503, { error: 'not the leader', code: 'NotLeader' });
      if (req.method === 'POST' && url === '/v1/members') {
        const b = JSON.parse(body) as { id: string; name: string; peerAddress: string };
        return act({ type: 'addLearner', pod: b.name, id: b.id, peerAddress: b.peerAddress });
      }
      const promote = /^\/v1\/members\/([0-9a-f]+)\/promote$/.exec(url);
      if (req.method === 'POST' && promote) return act({ type: 'promote', id: promote[1]!, pod: '' });
      const remove = /^\/v1\/members\/([0-9a-f]+)$/.exec(url);
      if (req.method === 'DELETE' && remove) return act({ type: 'removeMember', id: remove[1]!, pod: '', reason: 'scaleDown' });
      if (req.method === 'POST' && url === '/v1/leader/transfer') {
        const to = (JSON.parse(body) as { to: string }).to;
        return act({ type: 'transferLeadership', from: vol.memberId, to, fromPod: podName, toPod: '', reason: 'scaleDown' });
      }
      json(404, { error: 'no route', code: 'NotFound' });
    });
  }

  // ---- the Kubernetes side ----
  livePods(): V1Pod[] {
    const labels = { 'app.kubernetes.io/name': 'kuorum', 'app.kubernetes.io/instance': CLUSTER, 'app.kubernetes.io/managed-by': 'kuorum-operator' };
    return this.world.observe().pods.map((p) => ({
      metadata: { name: p.name, namespace: NAMESPACE, labels, uid: `uid-${p.name}`, ...(p.deleting ? { deletionTimestamp: new Date() } : {}) },
      spec: { containers: [{ name: 'kuorum', image: p.image }] },
      status: { phase: 'Running', podIP: ipOf(p.ordinal), conditions: [{ type: 'Ready', status: p.ready ? 'True' : 'False' }] },
    }));
  }

  caches() {
    const one = <T extends KubernetesObject>(items: () => T[]): ObjectCache<T> => ({
      get: (name, ns) => items().find((o) => o.metadata?.name === name && (ns === undefined || o.metadata?.namespace === ns)),
      list: (ns) => items().filter((o) => ns === undefined || o.metadata?.namespace === ns),
    });
    const labels = { 'app.kubernetes.io/name': 'kuorum', 'app.kubernetes.io/instance': CLUSTER, 'app.kubernetes.io/managed-by': 'kuorum-operator' };
    return {
      clusters: one<RaftCluster>(() => [this.cluster]),
      statefulSets: one<V1StatefulSet>(() => (this.world.s.sts ? [{ metadata: { name: CLUSTER, namespace: NAMESPACE, labels }, spec: { replicas: this.world.s.sts.replicas } } as unknown as V1StatefulSet] : [])),
      pods: one<V1Pod>(() => this.livePods()),
      pvcs: one<V1PersistentVolumeClaim>(() => [...this.world.s.volumes.keys()].map((ord) => ({ metadata: { name: `data-${CLUSTER}-${ord}`, namespace: NAMESPACE, labels } }))),
    };
  }

  async apply(obj: KubernetesObject): Promise<void> {
    this.applied.push(`${obj.kind}/${obj.metadata?.name}`);
    if (obj.kind === 'StatefulSet') {
      const replicas = (obj as V1StatefulSet).spec?.replicas ?? 0;
      if (!this.world.s.sts) this.world.execute({ type: 'createObjects', replicas });
      else if (replicas !== this.world.s.sts.replicas) this.world.execute({ type: 'scaleStatefulSet', replicas });
    }
  }
  async applyStatus(_c: RaftCluster, status: RaftClusterStatus): Promise<void> {
    this.cluster.status = status;
    this.world.s.bootstrapped = status.bootstrapped ?? false;
  }
  async deletePvc(_ns: string, name: string): Promise<void> {
    this.world.execute({ type: 'deletePvc', name });
  }
  async deletePod(_ns: string, name: string): Promise<void> {
    const pod = this.world.s.pods.get(Number(name.slice(CLUSTER.length + 1)));
    if (pod) pod.deleting = true;
  }
  async readStatefulSetReplicas(): Promise<number | null> {
    return this.world.s.sts?.replicas ?? null;
  }
  async listPods(): Promise<V1Pod[]> {
    return this.livePods();
  }
  async podExists(_ns: string, name: string): Promise<boolean> {
    return this.world.s.pods.has(Number(name.slice(CLUSTER.length + 1)));
  }
  async recordEvent(_c: RaftCluster, event: EventSpec): Promise<void> {
    this.events.push(event);
  }
}

let env: SimulatedSurroundings;
beforeAll(async () => {
  env = new SimulatedSurroundings(3);
  await env.listen();
});
afterAll(() => env.close());

async function reconcileUntilConverged(reconciler: Reconciler, maxRounds = 80): Promise<number> {
  for (let round = 0; round < maxRounds; round++) {
    const { requeueAfterMs } = await reconciler.reconcile(`${NAMESPACE}/${CLUSTER}`);
    if (requeueAfterMs === DEFAULT_RECONCILER_OPTIONS.whenConvergedMs) return round;
    for (const kind of ['kubelet', 'applyPending', 'catchUp', 'elect'] as const) env.world.apply({ kind });
  }
  throw new Error(`not converged: ${JSON.stringify(env.cluster.status?.conditions)}`);
}

describe('reconciler', () => {
  it('creates a 3-member cluster through the node API and reports it', async () => {
    const metrics = new OperatorMetrics(false);
    const reconciler = new Reconciler(env.caches(), env, new NodeClient({ timeoutMs: 2000, port: env.port }), metrics, () => {});
    await reconcileUntilConverged(reconciler);
    expect(env.violations).toEqual([]);
    expect(env.world.differencesFromSpec()).toEqual([]);
    expect(env.applied.slice(0, 4)).toEqual(['Service/kv-peers', 'Service/kv', 'PodDisruptionBudget/kv', 'StatefulSet/kv']);
    const status = env.cluster.status!;
    expect(status).toMatchObject({ phase: 'Running', replicas: 3, readyReplicas: 3, faultTolerance: 1, bootstrapped: true, observedGeneration: 1 });
    expect(status.selector).toBe('app.kubernetes.io/name=kuorum,app.kubernetes.io/instance=kv');
    expect(status.conditions?.find((c) => c.type === 'Available')?.status).toBe('True');
    expect(env.events.map((e) => e.reason)).toEqual(['CreateObjects', 'Bootstrap', 'ScaleStatefulSet', 'AddLearner', 'Promote', 'ScaleStatefulSet', 'AddLearner', 'Promote']);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/kuorum_operator_membership_changes_total\{action="promote"\} 2/);
    expect(text).toMatch(/kuorum_operator_cluster_members\{namespace="default",cluster="kv",role="voter"\} 3/);
  });

  it('scales down to 1 and back to 3 after a restart of the operator', async () => {
    env.cluster.spec.replicas = 1;
    env.cluster.metadata.generation = 2;
    env.world.apply({ kind: 'setReplicas', replicas: 1 });
    const fresh = (): Reconciler => new Reconciler(env.caches(), env, new NodeClient({ timeoutMs: 2000, port: env.port }), new OperatorMetrics(false), () => {});
    await reconcileUntilConverged(fresh());
    expect(env.world.differencesFromSpec()).toEqual([]);
    expect(env.cluster.status).toMatchObject({ replicas: 1, faultTolerance: 0 });
    env.cluster.spec.replicas = 3;
    env.cluster.metadata.generation = 3;
    env.world.apply({ kind: 'setReplicas', replicas: 3 });
    await reconcileUntilConverged(fresh());
    expect(env.violations).toEqual([]);
    expect(env.world.differencesFromSpec()).toEqual([]);
    expect(env.cluster.status?.observedGeneration).toBe(3);
  });

  it('touches nothing while paused, and reports it', async () => {
    env.cluster.spec.paused = true;
    env.cluster.spec.replicas = 5;
    env.cluster.metadata.generation = 10;
    env.world.apply({ kind: 'setReplicas', replicas: 5 });
    const before = env.applied.length;
    const reconciler = new Reconciler(env.caches(), env, new NodeClient({ timeoutMs: 2000, port: env.port }), new OperatorMetrics(false), () => {});
    await reconciler.reconcile(`${NAMESPACE}/${CLUSTER}`);
    expect(env.applied.length).toBe(before);
    expect(env.world.s.sts?.replicas).toBe(3);
    expect(env.cluster.status).toMatchObject({ phase: 'Paused', observedGeneration: 10 });
    env.cluster.spec.paused = false;
    env.cluster.spec.replicas = 3;
    env.world.apply({ kind: 'setReplicas', replicas: 3 });
  });

  it('never resets a StatefulSet that a lagging cache does not show yet', async () => {
    const lagging = { ...env.caches(), statefulSets: { get: () => undefined, list: () => [] } };
    const reconciler = new Reconciler(lagging, env, new NodeClient({ timeoutMs: 2000, port: env.port }), new OperatorMetrics(false), (m, f) => console.log(m, JSON.stringify(f)));
    const before = env.applied.length;
    await reconciler.reconcile(`${NAMESPACE}/${CLUSTER}`);
    expect(env.applied.length).toBe(before);
    expect(env.world.s.sts?.replicas).toBe(3);
    expect(env.violations).toEqual([]);
  });

  it('re-checks the pods with the API before an upgrade restart: a lagging cache must not restart a second one', async () => {
    env.cluster.spec.image = 'kuorum:2';
    env.cluster.metadata.generation = 20;
    env.world.apply({ kind: 'setImage', image: 'kuorum:2' });
    // The informer cache as it was a moment ago (every pod ready, none terminating), and the leader
    // still counting every member as alive, as it does until a stopped member's contact times out.
    const frozen = env.livePods();
    env.laggingMembers = env.world.observe().leader!.members;
    // Meanwhile one follower went away (a drain, a crash, or this operator's own previous restart).
    const leaderName = env.world.s.members.get(env.world.s.leader!)!.name;
    const followers = frozen.map((p) => p.metadata!.name!).filter((n) => n !== leaderName).sort();
    const gone = followers[1]!;
    env.world.s.pods.get(Number(gone.slice(CLUSTER.length + 1)))!.deleting = true;
    const lagging = { ...env.caches(), pods: { get: (n: string) => frozen.find((p) => p.metadata?.name === n), list: () => frozen } };
    const reconciler = new Reconciler(lagging, env, new NodeClient({ timeoutMs: 2000, port: env.port }), new OperatorMetrics(false), () => {});
    await reconciler.reconcile(`${NAMESPACE}/${CLUSTER}`);
    expect(env.world.observe().pods.filter((p) => p.deleting).map((p) => p.name)).toEqual([gone]);
    env.laggingMembers = undefined;
    await reconcileUntilConverged(new Reconciler(env.caches(), env, new NodeClient({ timeoutMs: 2000, port: env.port }), new OperatorMetrics(false), () => {}));
    expect(env.violations).toEqual([]);
    expect(env.world.differencesFromSpec()).toEqual([]);
    expect(env.world.observe().pods.map((p) => p.image)).toEqual(['kuorum:2', 'kuorum:2', 'kuorum:2']);
  });

  it('reports an invalid spec as a Warning event without touching anything', async () => {
    const before = env.applied.length;
    env.cluster.spec.replicas = 0;
    const reconciler = new Reconciler(env.caches(), env, new NodeClient({ timeoutMs: 2000, port: env.port }), new OperatorMetrics(false), () => {});
    expect(await reconciler.reconcile(`${NAMESPACE}/${CLUSTER}`)).toEqual({});
    expect(env.events.at(-1)).toMatchObject({ type: 'Warning', reason: 'InvalidSpec' });
    expect(env.applied.length).toBe(before);
    env.cluster.spec.replicas = 3;
  });
});
