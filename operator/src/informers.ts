// Informers on RaftClusters and the objects the operator owns, each feeding reconcile keys.
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  makeInformer,
  type Informer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type ObjectCache,
  type V1PersistentVolumeClaim,
  type V1Pod,
  type V1StatefulSet,
} from '@kubernetes/client-node';
import { MANAGED_BY } from './builders.js';
import type { Caches } from './reconciler.js';
import { GROUP, PLURAL, VERSION, type RaftCluster } from './types.js';

const OWNED = `app.kubernetes.io/managed-by=${MANAGED_BY}`;

type Cached<T extends KubernetesObject> = Informer<T> & ObjectCache<T>;

export interface InformerSet {
  caches: Caches;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** False while any watch is failing (it reconnects by itself). */
  healthy(): boolean;
  /** True once every informer has listed its objects: before that, a missing object proves nothing. */
  synced(): boolean;
}

/** Enqueue on any change of an owned object; for RaftClusters only when the spec generation moves (status writes do not loop). */
export function makeInformers(kc: KubeConfig, namespace: string | undefined, enqueue: (key: string) => void, log: (msg: string, f?: Record<string, unknown>) => void): InformerSet {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const apps = kc.makeApiClient(AppsV1Api);
  const core = kc.makeApiClient(CoreV1Api);
  const nsPath = (group: string, resource: string): string => (namespace ? `${group}/namespaces/${namespace}/${resource}` : `${group}/${resource}`);

  const clusters: Cached<RaftCluster> = makeInformer<RaftCluster>(
    kc,
    nsPath(`/apis/${GROUP}/${VERSION}`, PLURAL),
    async () =>
      (namespace
        ? await custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL })
        : await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL })) as KubernetesListObject<RaftCluster>,
  );
  const statefulSets: Cached<V1StatefulSet> = makeInformer<V1StatefulSet>(
    kc,
    nsPath('/apis/apps/v1', 'statefulsets'),
    () => (namespace ? apps.listNamespacedStatefulSet({ namespace, labelSelector: OWNED }) : apps.listStatefulSetForAllNamespaces({ labelSelector: OWNED })),
    OWNED,
  );
  const pods: Cached<V1Pod> = makeInformer<V1Pod>(
    kc,
    nsPath('/api/v1', 'pods'),
    () => (namespace ? core.listNamespacedPod({ namespace, labelSelector: OWNED }) : core.listPodForAllNamespaces({ labelSelector: OWNED })),
    OWNED,
  );
  const pvcs: Cached<V1PersistentVolumeClaim> = makeInformer<V1PersistentVolumeClaim>(
    kc,
    nsPath('/api/v1', 'persistentvolumeclaims'),
    () =>
      namespace
        ? core.listNamespacedPersistentVolumeClaim({ namespace, labelSelector: OWNED })
        : core.listPersistentVolumeClaimForAllNamespaces({ labelSelector: OWNED }),
    OWNED,
  );

  const seenGeneration = new Map<string, number>();
  const clusterKey = (c: RaftCluster): string => `${c.metadata.namespace}/${c.metadata.name}`;
  clusters.on('add', (c) => {
    seenGeneration.set(clusterKey(c), c.metadata.generation ?? 0);
    enqueue(clusterKey(c));
  });
  clusters.on('update', (c) => {
    const key = clusterKey(c);
    const gen = c.metadata.generation ?? 0;
    if (seenGeneration.get(key) === gen && !c.metadata.deletionTimestamp) return;
    seenGeneration.set(key, gen);
    enqueue(key);
  });
  clusters.on('delete', (c) => {
    seenGeneration.delete(clusterKey(c));
    enqueue(clusterKey(c));
  });
  const owned = (obj: KubernetesObject): void => {
    const instance = obj.metadata?.labels?.['app.kubernetes.io/instance'];
    if (instance && obj.metadata?.namespace) enqueue(`${obj.metadata.namespace}/${instance}`);
  };
  const all = [clusters, statefulSets, pods, pvcs] as Cached<KubernetesObject>[];
  let stopped = false;
  const failing = new Set<number>();
  for (const [i, inf] of all.entries()) {
    for (const verb of ['add', 'update', 'delete'] as const) if (i > 0) inf.on(verb, owned);
    inf.on('connect', () => failing.delete(i));
    inf.on('error', (err) => {
      failing.add(i);
      if (stopped) return;
      log('watch failed; restarting', { error: (err as Error | undefined)?.message });
      setTimeout(() => void inf.start().catch(() => {}), 2_000).unref();
    });
  }
  return {
    caches: { clusters, statefulSets, pods, pvcs },
    start: async () => {
      await Promise.all(all.map((i) => i.start()));
    },
    healthy: () => failing.size === 0,
    synced: () => all.every((i) => (i as unknown as { latestResourceVersion(): string }).latestResourceVersion() !== ''),
    stop: async () => {
      stopped = true;
      await Promise.all(all.map((i) => i.stop()));
    },
  };
}
