import { mkdirSync } from 'node:fs';
import type { Server } from 'node:https';
import { join } from 'node:path';
import {
  CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions, type V1ConfigMap, type V1PersistentVolume, type V1PersistentVolumeClaim, type V1Pod, type V1Secret,
} from '@kubernetes/client-node';
import type { ClusterDns } from './cluster-dns.js';
import { defaultImages, type ImageMap } from './images.js';
import { startKubeletServer } from './kubelet-server.js';
import { NodeAgent } from './node-agent.js';
import type { PodNetwork } from './pod-network.js';
import { PodWorker } from './pod-worker.js';
import type { VolumeApi } from './volumes.js';
import { watchResource, type ResourceWatch } from './watch.js';

export interface KubeletOptions {
  nodeName: string;
  /** Kubeconfig of this node's identity (user system:node:<name>, group system:nodes). */
  kubeconfigPath: string;
  network: PodNetwork;
  dns: ClusterDns;
  /** Where pods' working files live (volumes, hosts files, logs). */
  dir: string;
  /** Where pods reach the API server (the relay on the pod network gateway). */
  apiServerHost: string;
  apiServerPort: number;
  kubeletVersion: string;
  images?: ImageMap;
  /** The kubelet's HTTPS endpoint (container logs), listening on the node address. */
  server?: { port: number; cert: string; key: string; clientCa: string };
  /** Cluster dir to mark every pod process with, so orphans of a killed test run can be reaped. */
  ownerMarker?: string;
}

async function orUndefined<T>(read: Promise<T>): Promise<T | undefined> {
  try {
    return await read;
  } catch (err) {
    if ((err as { code?: number }).code === 404) return undefined;
    throw err;
  }
}

/**
 * process-kubelet: a stand-in for kubelet + container runtime on a machine without containers.
 * It registers a Node, runs the pods the scheduler binds to it as local processes in their own
 * network, mount and UTS namespaces, reports their status and probes, and finishes deletions.
 */
export class ProcessKubelet {
  private readonly core: CoreV1Api;
  private readonly workers = new Map<string, PodWorker>();
  private readonly terminations = new Map<string, Promise<void>>();
  /** Pods whose termination is done; their last watch events (the final delete) need no action. */
  private readonly finished = new Set<string>();
  private podWatch: ResourceWatch<V1Pod> | undefined;
  private readonly agent: NodeAgent;
  private unsubscribeDns: (() => void) | undefined;
  private server: Server | undefined;
  private stopped = false;
  readonly logLines: string[] = [];

  constructor(private readonly options: KubeletOptions) {
    const kc = new KubeConfig();
    kc.loadFromFile(options.kubeconfigPath);
    this.kc = kc;
    this.core = kc.makeApiClient(CoreV1Api);
    this.agent = new NodeAgent(kc, {
      name: options.nodeName, hostIp: options.network.gateway, kubeletVersion: options.kubeletVersion, kubeletPort: options.server?.port ?? 0,
    }, (m) => this.log(m));
  }

  private readonly kc: KubeConfig;

  get nodeName(): string {
    return this.options.nodeName;
  }

  log(message: string): void {
    this.logLines.push(`${new Date().toISOString()} ${this.options.nodeName}: ${message}`);
    if (this.logLines.length > 500) this.logLines.shift();
  }

  async start(): Promise<void> {
    mkdirSync(join(this.options.dir, 'pods'), { recursive: true });
    const server = this.options.server;
    if (server) {
      this.server = await startKubeletServer({
        host: this.options.network.gateway,
        ...server,
        logPath: (namespace, pod, container) => {
          const worker = this.worker(namespace, pod);
          return worker?.containerNames.includes(container) ? worker.logPath(container) : undefined;
        },
      });
    }
    await this.agent.register();
    this.unsubscribeDns = this.options.dns.onChange(() => {
      for (const worker of this.workers.values()) worker.refreshHosts();
    });
    this.podWatch = await watchResource<V1Pod>(this.kc, '/api/v1/pods',
      () => this.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${this.options.nodeName}` }),
      { upsert: (pod) => this.sync(pod), remove: (pod) => this.removed(pod) },
      `spec.nodeName=${this.options.nodeName}`);
  }

  /** The worker of a running pod, e.g. to read its container logs. */
  worker(namespace: string, name: string): PodWorker | undefined {
    for (const [uid, key] of this.podNames) if (key === `${namespace}/${name}`) return this.workers.get(uid);
    return undefined;
  }

  private readonly podNames = new Map<string, string>();

  /** Log files of the containers of every pod this kubelet runs. */
  podLogPaths(): { pod: string; container: string; path: string }[] {
    const result: { pod: string; container: string; path: string }[] = [];
    for (const [uid, worker] of this.workers) {
      for (const container of worker.containerNames) {
        result.push({ pod: this.podNames.get(uid) ?? uid, container, path: worker.logPath(container) });
      }
    }
    return result;
  }

  private sync(pod: V1Pod): void {
    if (this.stopped) return;
    const uid = pod.metadata?.uid ?? '';
    if (this.terminations.has(uid) || this.finished.has(uid)) return;
    let worker = this.workers.get(uid);
    if (pod.metadata?.deletionTimestamp) {
      const grace = pod.metadata.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30;
      this.terminate(pod, worker, grace);
      return;
    }
    const phase = pod.status?.phase;
    if (worker) {
      worker.update(pod);
      return;
    }
    if (phase === 'Succeeded' || phase === 'Failed') return;
    worker = new PodWorker(pod, this.workerDeps());
    this.workers.set(uid, worker);
    this.podNames.set(uid, `${pod.metadata?.namespace}/${pod.metadata?.name}`);
    this.log(`starting pod ${pod.metadata?.namespace}/${pod.metadata?.name}`);
    worker.run().catch((err) => this.log(`pod ${pod.metadata?.name} failed to start: ${(err as Error).stack}`));
  }

  /** SIGTERM, SIGKILL after the grace period, then the final delete that lets controllers move on. */
  private terminate(pod: V1Pod, worker: PodWorker | undefined, graceSeconds: number): void {
    const uid = pod.metadata?.uid ?? '';
    const name = pod.metadata?.name ?? '';
    const namespace = pod.metadata?.namespace ?? 'default';
    this.log(`terminating pod ${namespace}/${name} (grace ${graceSeconds}s)`);
    const done = (async () => {
      if (worker) await worker.terminate(graceSeconds);
      this.workers.delete(uid);
      this.podNames.delete(uid);
      try {
        await this.core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0, body: { gracePeriodSeconds: 0, preconditions: { uid } } });
      } catch (err) {
        const code = (err as { code?: number }).code;
        if (code !== 404 && code !== 409) this.log(`final delete of ${namespace}/${name} failed: ${(err as Error).message}`);
      }
    })();
    this.terminations.set(uid, done);
    void done.finally(() => {
      this.finished.add(uid);
      this.terminations.delete(uid);
    });
  }

  /** The pod is gone from the API (force-deleted): its processes go too. */
  private removed(pod: V1Pod): void {
    const uid = pod.metadata?.uid ?? '';
    this.finished.delete(uid);
    const worker = this.workers.get(uid);
    if (!worker || this.terminations.has(uid)) return;
    this.workers.delete(uid);
    this.podNames.delete(uid);
    const done = worker.terminate(2);
    this.terminations.set(uid, done);
    void done.finally(() => this.terminations.delete(uid));
  }

  private workerDeps() {
    const core = this.core;
    const namespaceOf = (pod: V1Pod): string => pod.metadata?.namespace ?? 'default';
    const volumes: VolumeApi = {
      pvc: (namespace, name) => orUndefined<V1PersistentVolumeClaim>(core.readNamespacedPersistentVolumeClaim({ name, namespace })),
      pv: (name) => orUndefined<V1PersistentVolume>(core.readPersistentVolume({ name })),
      configMap: (namespace, name) => orUndefined<V1ConfigMap>(core.readNamespacedConfigMap({ name, namespace })),
      secret: (namespace, name) => orUndefined<V1Secret>(core.readNamespacedSecret({ name, namespace })),
      serviceAccountToken: async (pod, audience, expirationSeconds) => {
        const token = await core.createNamespacedServiceAccountToken({
          name: pod.spec?.serviceAccountName ?? 'default',
          namespace: namespaceOf(pod),
          body: {
            spec: {
              audiences: audience ? [audience] : [],
              expirationSeconds,
              boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata?.name ?? '', uid: pod.metadata?.uid ?? '' },
            },
          },
        });
        const value = token.status?.token;
        if (!value) throw new Error('TokenRequest returned no token');
        return value;
      },
    };
    const host = this.options.apiServerHost;
    const port = String(this.options.apiServerPort);
    return {
      hostIp: this.options.network.gateway,
      network: this.options.network,
      images: this.options.images ?? defaultImages(),
      podsDir: join(this.options.dir, 'pods'),
      volumes,
      configMap: volumes.configMap,
      secret: volumes.secret,
      serviceEnv: {
        KUBERNETES_SERVICE_HOST: host,
        KUBERNETES_SERVICE_PORT: port,
        KUBERNETES_SERVICE_PORT_HTTPS: port,
        KUBERNETES_PORT: `tcp://${host}:${port}`,
        KUBERNETES_PORT_443_TCP: `tcp://${host}:${port}`,
        KUBERNETES_PORT_443_TCP_PROTO: 'tcp',
        KUBERNETES_PORT_443_TCP_ADDR: host,
        KUBERNETES_PORT_443_TCP_PORT: port,
      },
      ...(this.options.ownerMarker ? { ownerMarker: this.options.ownerMarker } : {}),
      hostsFile: (pod: V1Pod, podIp: string) => this.options.dns.hostsFor(pod, podIp),
      pushStatus: async (pod: V1Pod, status: object) => {
        await core.patchNamespacedPodStatus(
          { name: pod.metadata?.name ?? '', namespace: namespaceOf(pod), body: { status } },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
      },
      log: (message: string) => this.log(message),
    };
  }

  /** Stops watching, kills every pod at once (no grace: the cluster is going away) and stops heartbeats. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribeDns?.();
    await this.podWatch?.stop();
    await this.agent.stop();
    const server = this.server;
    if (server) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
    await Promise.all([...this.workers.values()].map((w) => w.terminate(0)));
    await Promise.all(this.terminations.values());
    this.workers.clear();
  }
}
