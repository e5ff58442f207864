import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, StorageV1Api, type KubeConfig, type V1PersistentVolume, type V1PersistentVolumeClaim } from '@kubernetes/client-node';
import { watchResource, type ResourceWatch } from '../../kubelet/watch.js';

export const storageClassName = 'process-local';
const provisionerName = 'kuorum.dev/process-local';

/**
 * A small dynamic provisioner for the e2e cluster: the default StorageClass `process-local`
 * makes every unbound claim of that class get a hostPath PersistentVolume backed by a fresh
 * directory, pre-bound to the claim (claimRef) so the real persistentvolume-binder controller
 * binds them. Released volumes are deleted with their directory, as a Delete reclaim policy
 * would; they are created Retain so no controller tries a hostPath deleter of its own.
 */
export class HostPathProvisioner {
  private claims: ResourceWatch<V1PersistentVolumeClaim> | undefined;
  private volumes: ResourceWatch<V1PersistentVolume> | undefined;
  private readonly inFlight = new Set<string>();
  readonly errors: string[] = [];

  constructor(private readonly kc: KubeConfig, private readonly root: string) {}

  async start(): Promise<void> {
    mkdirSync(this.root, { recursive: true });
    const core = this.kc.makeApiClient(CoreV1Api);
    const storage = this.kc.makeApiClient(StorageV1Api);
    await storage.createStorageClass({
      body: {
        metadata: { name: storageClassName, annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
        provisioner: provisionerName,
        reclaimPolicy: 'Delete',
        volumeBindingMode: 'Immediate',
      },
    });
    this.claims = await watchResource<V1PersistentVolumeClaim>(this.kc, '/api/v1/persistentvolumeclaims',
      () => core.listPersistentVolumeClaimForAllNamespaces(),
      { upsert: (pvc) => void this.provision(core, pvc), remove: () => undefined });
    this.volumes = await watchResource<V1PersistentVolume>(this.kc, '/api/v1/persistentvolumes',
      () => core.listPersistentVolume(),
      { upsert: (pv) => void this.reclaim(core, pv), remove: () => undefined });
  }

  private record(message: string): void {
    this.errors.push(message);
  }

  private async provision(core: CoreV1Api, pvc: V1PersistentVolumeClaim): Promise<void> {
    const uid = pvc.metadata?.uid ?? '';
    if (pvc.status?.phase !== 'Pending' || pvc.spec?.volumeName || pvc.metadata?.deletionTimestamp) return;
    if ((pvc.spec?.storageClassName ?? '') !== storageClassName || this.inFlight.has(uid)) return;
    this.inFlight.add(uid);
    const name = `pvc-${uid}`;
    const path = join(this.root, `${pvc.metadata?.namespace}-${pvc.metadata?.name}-${uid.slice(0, 8)}`);
    try {
      mkdirSync(path, { recursive: true });
      await core.createPersistentVolume({
        body: {
          metadata: { name, annotations: { 'pv.kubernetes.io/provisioned-by': provisionerName }, labels: { 'kuorum.dev/provisioner': 'process-local' } },
          spec: {
            capacity: { storage: pvc.spec?.resources?.requests?.storage ?? '1Gi' },
            accessModes: pvc.spec?.accessModes ?? ['ReadWriteOnce'],
            persistentVolumeReclaimPolicy: 'Retain',
            storageClassName,
            volumeMode: pvc.spec?.volumeMode ?? 'Filesystem',
            hostPath: { path, type: 'Directory' },
            claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: pvc.metadata?.namespace, name: pvc.metadata?.name, uid },
          },
        },
      });
    } catch (err) {
      if ((err as { code?: number }).code !== 409) {
        this.inFlight.delete(uid);
        this.record(`provisioning ${name}: ${(err as Error).message}`);
      }
    }
  }

  private async reclaim(core: CoreV1Api, pv: V1PersistentVolume): Promise<void> {
    if (pv.metadata?.labels?.['kuorum.dev/provisioner'] !== 'process-local' || pv.status?.phase !== 'Released') return;
    const name = pv.metadata.name ?? '';
    try {
      await core.deletePersistentVolume({ name });
      const path = pv.spec?.hostPath?.path;
      if (path?.startsWith(this.root)) rmSync(path, { recursive: true, force: true });
    } catch (err) {
      if ((err as { code?: number }).code !== 404) this.record(`reclaiming ${name}: ${(err as Error).message}`);
    }
  }

  async stop(): Promise<void> {
    await this.claims?.stop();
    await this.volumes?.stop();
  }
}
