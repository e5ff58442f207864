// One reconcile of one RaftCluster: keep the owned objects applied, observe, plan ONE step,
// carry it out, then report status, conditions, an Event and metrics.
import type { ObjectCache, V1PersistentVolumeClaim, V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import { buildClientService, buildPeerService, buildPodDisruptionBudget, buildStatefulSet, selectorString } from './builders.js';
import type { KubeWriter } from './kube.js';
import type { OperatorMetrics } from './metrics.js';
import { NodeApiError, type NodeClient } from './node-client.js';
import { observe, observePod, type Observation } from './observe.js';
import { plan, restartBlocker, type Action, type ObservedPod, type PlannerOptions } from './planner.js';
import { computeStatus, eventFor, type EventSpec } from './status.js';
import type { RaftCluster } from './types.js';

export interface Caches {
  clusters: ObjectCache<RaftCluster>;
  statefulSets: ObjectCache<V1StatefulSet>;
  pods: ObjectCache<V1Pod>;
  pvcs: ObjectCache<V1PersistentVolumeClaim>;
}

export interface ReconcilerOptions {
  planner: Partial<PlannerOptions>;
  /** Requeue delays: after a step, while waiting, and when converged (periodic health refresh). */
  afterActionMs: number;
  whileWaitingMs: number;
  whenConvergedMs: number;
  /** The same Event is not repeated within this window. */
  eventDedupMs: number;
}

export const DEFAULT_RECONCILER_OPTIONS: ReconcilerOptions = {
  planner: {},
  afterActionMs: 1_000,
  whileWaitingMs: 3_000,
  whenConvergedMs: 30_000,
  eventDedupMs: 10 * 60_000,
};

export type Logger = (msg: string, fields?: Record<string, unknown>) => void;

/** A spec the CRD schema should have rejected, checked again because the operator must not crash on it. */
export function specProblem(cluster: RaftCluster): string | null {
  const spec = cluster.spec as Partial<RaftCluster['spec']> | undefined;
  if (!spec) return 'spec is missing';
  if (!Number.isInteger(spec.replicas) || (spec.replicas as number) < 1 || (spec.replicas as number) > 9) return 'spec.replicas must be an integer from 1 to 9';
  if (typeof spec.image !== 'string' || spec.image === '') return 'spec.image must be set';
  return null;
}

/** The cache was behind the API server; the step is re-planned on the next round. */
export class StaleObservation extends Error {}

const instanceOf = (obj: { metadata?: { labels?: Record<string, string> } }): string | undefined => obj.metadata?.labels?.['app.kubernetes.io/instance'];

export class Reconciler {
  private readonly appliedGeneration = new Map<string, number>();
  private readonly lastEvent = new Map<string, { key: string; at: number }>();

  constructor(
    private readonly caches: Caches,
    private readonly kube: KubeWriter,
    private readonly nodes: NodeClient,
    private readonly metrics: OperatorMetrics,
    private readonly log: Logger,
    private readonly options: ReconcilerOptions = DEFAULT_RECONCILER_OPTIONS,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async reconcile(key: string): Promise<{ requeueAfterMs?: number }> {
    const [namespace, name] = key.split('/') as [string, string];
    const end = this.metrics.reconcileDuration.startTimer();
    try {
      const result = await this.reconcileCluster(namespace, name);
      this.metrics.reconciles.inc({ result: 'success' });
      return result;
    } catch (err) {
      this.metrics.reconciles.inc({ result: 'error' });
      throw err;
    } finally {
      end();
    }
  }

  private async reconcileCluster(namespace: string, name: string): Promise<{ requeueAfterMs?: number }> {
    const key = `${namespace}/${name}`;
    const cluster = this.caches.clusters.get(name, namespace);
    if (!cluster || cluster.metadata.deletionTimestamp) {
      this.appliedGeneration.delete(key);
      this.lastEvent.delete(key);
      this.metrics.forgetCluster(namespace, name);
      return {};
    }
    const problem = specProblem(cluster);
    if (problem) {
      await this.event(key, cluster, { type: 'Warning', reason: 'InvalidSpec', message: problem });
      this.log('invalid spec', { cluster: key, problem });
      return {};
    }

    const sts = this.caches.statefulSets.get(name, namespace);
    const mine = <T extends { metadata?: { labels?: Record<string, string> } }>(objs: readonly T[]): T[] => objs.filter((o) => instanceOf(o) === name);
    // The template (image, env, scheduling) follows the spec; replicas only ever move by one, as planned.
    const generation = cluster.metadata.generation ?? 0;
    if (sts && !cluster.spec.paused && this.appliedGeneration.get(key) !== generation) {
      // Replicas from a fresh read: a stale cache must never move the StatefulSet back.
      const replicas = (await this.kube.readStatefulSetReplicas(namespace, name)) ?? sts.spec?.replicas ?? 1;
      await this.applyObjects(cluster, replicas);
      this.appliedGeneration.set(key, generation);
    }

    const obs = await observe(cluster, sts, mine(this.caches.pods.list(namespace)), mine(this.caches.pvcs.list(namespace)), this.nodes, this.options.planner);
    const action = plan(obs.input);
    let bootstrapped = obs.input.bootstrapped || obs.input.leader !== null;
    let outcome: 'done' | 'busy' = 'done';
    if (action.type !== 'wait' && action.type !== 'none') {
      this.log('step', { cluster: key, action });
      try {
        await this.execute(cluster, action, obs);
        this.metrics.membershipChanges.inc({ action: action.type });
        if (action.type === 'createObjects') this.appliedGeneration.set(key, generation);
        if (action.type === 'bootstrap') bootstrapped = true;
      } catch (err) {
        // 409: another change is still pending, or the node already did this; 503: no leader right now.
        if (err instanceof StaleObservation || (err instanceof NodeApiError && (err.status === 409 || err.status === 503 || err.status === 0))) {
          outcome = 'busy';
          if (action.type === 'bootstrap' && err instanceof NodeApiError && err.status === 409) bootstrapped = true;
          this.log('step deferred', { cluster: key, action: action.type, error: err.message });
        } else {
          throw err;
        }
      }
    } else if (action.type === 'wait') {
      this.log('waiting', { cluster: key, reason: action.reason, message: action.message, errors: obs.errors });
    }

    const status = computeStatus(cluster, obs.input, action, this.now(), selectorString(cluster), bootstrapped);
    await this.kube.applyStatus(cluster, status);
    const ev = outcome === 'done' ? eventFor(action) : null;
    if (ev) await this.event(key, cluster, ev);
    this.recordHealth(namespace, name, status);

    if (action.type === 'none') return { requeueAfterMs: this.options.whenConvergedMs };
    if (action.type === 'wait' || outcome === 'busy') return { requeueAfterMs: this.options.whileWaitingMs };
    return { requeueAfterMs: this.options.afterActionMs };
  }

  private async applyObjects(cluster: RaftCluster, replicas: number): Promise<void> {
    await this.kube.apply(buildPeerService(cluster));
    await this.kube.apply(buildClientService(cluster));
    await this.kube.apply(buildPodDisruptionBudget(cluster));
    await this.kube.apply(buildStatefulSet(cluster, replicas));
  }

  private async execute(cluster: RaftCluster, action: Action, obs: Observation): Promise<void> {
    const ns = cluster.metadata.namespace;
    const leaderIp = (): string => {
      if (!obs.leaderIp) throw new NodeApiError('no reachable leader', 503, 'NoLeader');
      return obs.leaderIp;
    };
    const podIp = (pod: string): string => {
      const ip = obs.podIps.get(pod);
      if (!ip) throw new NodeApiError(`${pod} has no IP`, 0, 'Unreachable');
      return ip;
    };
    switch (action.type) {
      case 'createObjects': {
        // Only ever creates: an existing StatefulSet missing from a lagging cache must not be reset to one replica.
        if ((await this.kube.readStatefulSetReplicas(ns, cluster.metadata.name)) !== null) {
          throw new StaleObservation(`StatefulSet ${cluster.metadata.name} exists but was not in the cache`);
        }
        return this.applyObjects(cluster, action.replicas);
      }
      case 'scaleStatefulSet': {
        // One step from the live value, never from a stale one.
        const live = await this.kube.readStatefulSetReplicas(ns, cluster.metadata.name);
        if (live === null || Math.abs(live - action.replicas) !== 1) {
          throw new StaleObservation(`StatefulSet ${cluster.metadata.name} has ${live} replicas, not one step from ${action.replicas}`);
        }
        return this.kube.apply(buildStatefulSet(cluster, action.replicas));
      }
      case 'bootstrap':
        return this.nodes.bootstrap(podIp(action.pod));
      case 'addLearner':
        return this.nodes.addMember(leaderIp(), { id: action.id, name: action.pod, peerAddress: action.peerAddress, learner: true });
      case 'promote':
        return this.nodes.promote(leaderIp(), action.id);
      case 'removeMember':
        return this.nodes.removeMember(leaderIp(), action.id);
      case 'transferLeadership':
        return this.nodes.transferLeadership(leaderIp(), action.to);
      case 'deletePvc': {
        // Deleting data is irreversible: re-check against the API, not the cache, that no pod can use it.
        const ordinal = Number(action.name.slice(action.name.lastIndexOf('-') + 1));
        const replicas = await this.kube.readStatefulSetReplicas(ns, cluster.metadata.name);
        const pod = `${cluster.metadata.name}-${ordinal}`;
        if (replicas === null || ordinal < replicas || (await this.kube.podExists(ns, pod))) {
          throw new StaleObservation(`${action.name}: the StatefulSet or ${pod} changed since it was observed`);
        }
        return this.kube.deletePvc(ns, action.name);
      }
      case 'deletePodForUpgrade': {
        // The cache can lag this operator's own last delete by a few hundred milliseconds: re-check
        // against the API that every wanted pod is there, ready and not terminating, or a second
        // restart could follow the first before it is seen and lose quorum.
        const name = cluster.metadata.name;
        const live = (await this.kube.listPods(ns, selectorString(cluster))).map((p) => observePod(name, p)).filter((p): p is ObservedPod => p !== null);
        const blocker = restartBlocker(name, live, obs.input.statefulSet?.replicas ?? 0);
        if (blocker) throw new StaleObservation(`not restarting ${action.pod}: ${blocker.message}`);
        // Exactly the pod that was observed on the old image, not a replacement that a stale cache hides.
        const uid = obs.input.pods.find((p) => p.name === action.pod)?.uid;
        try {
          return await this.kube.deletePod(ns, action.pod, uid);
        } catch (err) {
          if ((err as { code?: unknown }).code === 409) throw new StaleObservation(`${action.pod} was replaced since it was observed`);
          throw err;
        }
      }
      case 'recyclePod':
        // The PVC is protected while the pod uses it; it goes when the pod does, and the
        // StatefulSet then creates the pod with a fresh claim.
        await this.kube.deletePvc(ns, action.pvc);
        return this.kube.deletePod(ns, action.pod);
      case 'wait':
      case 'none':
        return;
    }
  }

  private async event(key: string, cluster: RaftCluster, ev: EventSpec): Promise<void> {
    const id = `${ev.type}/${ev.reason}/${ev.message}`;
    const last = this.lastEvent.get(key);
    const nowMs = this.now().getTime();
    if (last && last.key === id && nowMs - last.at < this.options.eventDedupMs) return;
    this.lastEvent.set(key, { key: id, at: nowMs });
    try {
      await this.kube.recordEvent(cluster, ev);
    } catch (err) {
      this.log('could not record event', { cluster: key, error: (err as Error).message });
    }
  }

  private recordHealth(namespace: string, cluster: string, status: ReturnType<typeof computeStatus>): void {
    const members = status.members ?? [];
    this.metrics.members.set({ namespace, cluster, role: 'voter' }, members.filter((m) => m.role === 'voter').length);
    this.metrics.members.set({ namespace, cluster, role: 'learner' }, members.filter((m) => m.role === 'learner').length);
    this.metrics.readyReplicas.set({ namespace, cluster }, status.readyReplicas ?? 0);
    this.metrics.faultTolerance.set({ namespace, cluster }, status.faultTolerance ?? 0);
    this.metrics.hasLeader.set({ namespace, cluster }, status.leader ? 1 : 0);
  }
}
