// The Kubernetes writes the operator makes: server-side apply of owned objects and of the status
// subresource, deletions, and Events.
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubernetesObjectApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type KubernetesObject,
  type V1Pod,
} from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { FIELD_MANAGER, GROUP, PLURAL, VERSION, type RaftCluster, type RaftClusterStatus } from './types.js';
import type { EventSpec } from './status.js';

export interface KubeWriter {
  apply(obj: KubernetesObject): Promise<void>;
  applyStatus(cluster: RaftCluster, status: RaftClusterStatus): Promise<void>;
  deletePvc(namespace: string, name: string): Promise<void>;
  /** With `uid`, deletes only that incarnation of the pod (409 if it was replaced meanwhile). */
  deletePod(namespace: string, name: string, uid?: string): Promise<void>;
  recordEvent(cluster: RaftCluster, event: EventSpec): Promise<void>;
  /** Fresh reads (not the informer cache) to re-check before a destructive step. */
  readStatefulSetReplicas(namespace: string, name: string): Promise<number | null>;
  podExists(namespace: string, name: string): Promise<boolean>;
  listPods(namespace: string, labelSelector: string): Promise<V1Pod[]>;
}

const isNotFound = (err: unknown): boolean => (err as { code?: unknown }).code === 404;

export class KubeClient implements KubeWriter {
  private readonly objects: KubernetesObjectApi;
  private readonly custom: CustomObjectsApi;
  private readonly core: CoreV1Api;
  private readonly apps: AppsV1Api;

  constructor(kc: KubeConfig, private readonly identity: string) {
    this.objects = KubernetesObjectApi.makeApiClient(kc);
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.core = kc.makeApiClient(CoreV1Api);
    this.apps = kc.makeApiClient(AppsV1Api);
  }

  async readStatefulSetReplicas(namespace: string, name: string): Promise<number | null> {
    try {
      return (await this.apps.readNamespacedStatefulSet({ namespace, name })).spec?.replicas ?? 0;
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async podExists(namespace: string, name: string): Promise<boolean> {
    try {
      await this.core.readNamespacedPod({ namespace, name });
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  async listPods(namespace: string, labelSelector: string): Promise<V1Pod[]> {
    return (await this.core.listNamespacedPod({ namespace, labelSelector })).items;
  }

  async apply(obj: KubernetesObject): Promise<void> {
    await this.objects.patch(obj, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
  }

  async applyStatus(cluster: RaftCluster, status: RaftClusterStatus): Promise<void> {
    await this.custom.patchNamespacedCustomObjectStatus(
      {
        group: GROUP,
        version: VERSION,
        plural: PLURAL,
        namespace: cluster.metadata.namespace,
        name: cluster.metadata.name,
        body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'RaftCluster', metadata: { name: cluster.metadata.name, namespace: cluster.metadata.namespace }, status },
        fieldManager: FIELD_MANAGER,
        force: true,
      },
      setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
    );
  }

  async deletePvc(namespace: string, name: string): Promise<void> {
    try {
      await this.core.deleteNamespacedPersistentVolumeClaim({ namespace, name });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  async deletePod(namespace: string, name: string, uid?: string): Promise<void> {
    try {
      await this.core.deleteNamespacedPod({ namespace, name, ...(uid ? { body: { preconditions: { uid } } } : {}) });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  async recordEvent(cluster: RaftCluster, event: EventSpec): Promise<void> {
    const now = new Date();
    await this.core.createNamespacedEvent({
      namespace: cluster.metadata.namespace,
      body: {
        metadata: { name: `${cluster.metadata.name}.${randomBytes(8).toString('hex')}`, namespace: cluster.metadata.namespace },
        involvedObject: {
          apiVersion: `${GROUP}/${VERSION}`,
          kind: 'RaftCluster',
          name: cluster.metadata.name,
          namespace: cluster.metadata.namespace,
          uid: cluster.metadata.uid,
          resourceVersion: cluster.metadata.resourceVersion,
        },
        reason: event.reason,
        message: event.message,
        type: event.type,
        source: { component: FIELD_MANAGER },
        reportingComponent: `${GROUP}/operator`,
        reportingInstance: this.identity,
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      },
    });
  }
}
