import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import type {
  V1ConfigMap, V1DownwardAPIVolumeFile, V1KeyToPath, V1PersistentVolume, V1PersistentVolumeClaim, V1Pod, V1Secret, V1Volume, V1VolumeProjection,
} from '@kubernetes/client-node';
import { fieldRefValue } from './container-env.js';

/** The API reads a pod's volumes need, made with the kubelet's own (node) identity. */
export interface VolumeApi {
  pvc(namespace: string, name: string): Promise<V1PersistentVolumeClaim | undefined>;
  pv(name: string): Promise<V1PersistentVolume | undefined>;
  configMap(namespace: string, name: string): Promise<V1ConfigMap | undefined>;
  secret(namespace: string, name: string): Promise<V1Secret | undefined>;
  serviceAccountToken(pod: V1Pod, audience: string | undefined, expirationSeconds: number): Promise<string>;
}

/** Raised while a volume cannot be set up yet (e.g. its claim is not bound); the pod stays Pending and retries. */
export class VolumeNotReady extends Error {}

function safeJoin(root: string, relative: string): string {
  const path = normalize(join(root, relative));
  if (path !== root && !path.startsWith(`${root}/`)) throw new Error(`volume path ${relative} escapes its volume`);
  return path;
}

function writeKeys(dir: string, entries: Record<string, Buffer>, items: V1KeyToPath[] | undefined, what: string, optional: boolean): void {
  const selected = items?.length ? items : Object.keys(entries).map((key) => ({ key, path: key }));
  for (const item of selected) {
    const data = entries[item.key];
    if (data === undefined) {
      if (optional) continue;
      throw new VolumeNotReady(`${what} has no key ${item.key}`);
    }
    const file = safeJoin(dir, item.path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, data);
  }
}

function configMapEntries(cm: V1ConfigMap): Record<string, Buffer> {
  const entries: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries(cm.data ?? {})) entries[k] = Buffer.from(v, 'utf8');
  for (const [k, v] of Object.entries(cm.binaryData ?? {})) entries[k] = Buffer.from(v, 'base64');
  return entries;
}

function secretEntries(secret: V1Secret): Record<string, Buffer> {
  return Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')]));
}

function writeDownward(dir: string, pod: V1Pod, items: V1DownwardAPIVolumeFile[], podIp: string, hostIp: string): void {
  for (const item of items) {
    const file = safeJoin(dir, item.path);
    mkdirSync(dirname(file), { recursive: true });
    const value = item.fieldRef ? fieldRefValue(pod, item.fieldRef, podIp, hostIp) : '';
    writeFileSync(file, value);
  }
}

async function writeProjection(dir: string, pod: V1Pod, source: V1VolumeProjection, api: VolumeApi, podIp: string, hostIp: string): Promise<void> {
  const namespace = pod.metadata?.namespace ?? 'default';
  if (source.configMap) {
    const cm = await api.configMap(namespace, source.configMap.name ?? '');
    if (!cm && !source.configMap.optional) throw new VolumeNotReady(`configMap ${source.configMap.name} not found`);
    if (cm) writeKeys(dir, configMapEntries(cm), source.configMap.items, `configMap ${source.configMap.name}`, !!source.configMap.optional);
  }
  if (source.secret) {
    const secret = await api.secret(namespace, source.secret.name ?? '');
    if (!secret && !source.secret.optional) throw new VolumeNotReady(`secret ${source.secret.name} not found`);
    if (secret) writeKeys(dir, secretEntries(secret), source.secret.items, `secret ${source.secret.name}`, !!source.secret.optional);
  }
  if (source.downwardAPI) writeDownward(dir, pod, source.downwardAPI.items ?? [], podIp, hostIp);
  if (source.serviceAccountToken) {
    const token = await api.serviceAccountToken(pod, source.serviceAccountToken.audience, source.serviceAccountToken.expirationSeconds ?? 3600);
    const file = safeJoin(dir, source.serviceAccountToken.path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, token, { mode: 0o600 });
  }
}

/** The host path backing a persistent volume (hostPath or local volumes only: there are no other disks here). */
function persistentVolumePath(pv: V1PersistentVolume): string {
  const path = pv.spec?.hostPath?.path ?? pv.spec?.local?.path;
  if (!path) throw new Error(`persistent volume ${pv.metadata?.name} is neither hostPath nor local`);
  return path;
}

/**
 * Materializes one pod volume on the host and returns the directory (or file) that backs it.
 * Content volumes (configMap, secret, downwardAPI, projected) are written once, at pod start.
 */
export async function prepareVolume(volume: V1Volume, pod: V1Pod, podDir: string, api: VolumeApi, podIp: string, hostIp: string): Promise<string> {
  const namespace = pod.metadata?.namespace ?? 'default';
  const dir = join(podDir, 'volumes', volume.name);
  if (volume.persistentVolumeClaim) {
    const claimName = volume.persistentVolumeClaim.claimName;
    const pvc = await api.pvc(namespace, claimName);
    if (!pvc) throw new VolumeNotReady(`persistentvolumeclaim ${claimName} not found`);
    const pvName = pvc.spec?.volumeName;
    if (!pvName || pvc.status?.phase !== 'Bound') throw new VolumeNotReady(`persistentvolumeclaim ${claimName} is not bound`);
    const pv = await api.pv(pvName);
    if (!pv) throw new VolumeNotReady(`persistentvolume ${pvName} not found`);
    const path = persistentVolumePath(pv);
    mkdirSync(path, { recursive: true });
    return path;
  }
  if (volume.hostPath) {
    if (volume.hostPath.type === 'DirectoryOrCreate') mkdirSync(volume.hostPath.path, { recursive: true });
    return volume.hostPath.path;
  }
  mkdirSync(dir, { recursive: true });
  if (volume.emptyDir) return dir;
  if (volume.configMap) {
    const cm = await api.configMap(namespace, volume.configMap.name ?? '');
    if (!cm && !volume.configMap.optional) throw new VolumeNotReady(`configMap ${volume.configMap.name} not found`);
    if (cm) writeKeys(dir, configMapEntries(cm), volume.configMap.items, `configMap ${volume.configMap.name}`, !!volume.configMap.optional);
    return dir;
  }
  if (volume.secret) {
    const secret = await api.secret(namespace, volume.secret.secretName ?? '');
    if (!secret && !volume.secret.optional) throw new VolumeNotReady(`secret ${volume.secret.secretName} not found`);
    if (secret) writeKeys(dir, secretEntries(secret), volume.secret.items, `secret ${volume.secret.secretName}`, !!volume.secret.optional);
    return dir;
  }
  if (volume.downwardAPI) {
    writeDownward(dir, pod, volume.downwardAPI.items ?? [], podIp, hostIp);
    return dir;
  }
  if (volume.projected) {
    for (const source of volume.projected.sources ?? []) await writeProjection(dir, pod, source, api, podIp, hostIp);
    return dir;
  }
  throw new Error(`volume ${volume.name}: unsupported volume type (supported: persistentVolumeClaim, hostPath, emptyDir, configMap, secret, downwardAPI, projected)`);
}
