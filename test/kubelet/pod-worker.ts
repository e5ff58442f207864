import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { V1ConfigMap, V1Container, V1Pod, V1PodStatus, V1Secret } from '@kubernetes/client-node';
import { ownerEnv } from '../controlplane/orphans.js';
import { containerArgv, resolveEnv } from './container-env.js';
import { ContainerRunner, type RestartPolicy } from './container-runner.js';
import { resolveImage, type ImageMap } from './images.js';
import type { PodAttachment, PodNetwork } from './pod-network.js';
import { ConditionClock, podStatus } from './pod-status.js';
import { prepareVolume, VolumeNotReady, type VolumeApi } from './volumes.js';

const podInit = join(dirname(fileURLToPath(import.meta.url)), 'pod-init.sh');

/** Everything a pod worker needs from its kubelet. */
export interface PodWorkerDeps {
  hostIp: string;
  network: PodNetwork;
  images: ImageMap;
  podsDir: string;
  volumes: VolumeApi;
  configMap(namespace: string, name: string): Promise<V1ConfigMap | undefined>;
  secret(namespace: string, name: string): Promise<V1Secret | undefined>;
  /** The cluster dir, put in every container's environment (see controlplane/orphans.ts). */
  ownerMarker?: string;
  /** Variables every container gets (KUBERNETES_SERVICE_HOST/PORT and friends). */
  serviceEnv: Record<string, string>;
  hostsFile(pod: V1Pod, podIp: string): string;
  pushStatus(pod: V1Pod, status: V1PodStatus): Promise<void>;
  log(message: string): void;
}

function podKey(pod: V1Pod): string {
  return `${pod.metadata?.namespace}/${pod.metadata?.name}`;
}

/**
 * One pod on this node: its network namespace, volumes and hosts file, its init containers
 * then containers, and the status it reports, until it is terminated.
 */
export class PodWorker {
  private attachment: PodAttachment | undefined;
  private readonly initRunners: ContainerRunner[] = [];
  private readonly runners: ContainerRunner[] = [];
  private initialized = false;
  private waiting: { reason: string; message: string } | undefined;
  private readonly clock = new ConditionClock();
  private readonly startTime = new Date();
  private terminating = false;
  private pushing: Promise<void> = Promise.resolve();
  private pushQueued = false;
  readonly dir: string;

  constructor(private pod: V1Pod, private readonly deps: PodWorkerDeps) {
    this.dir = join(deps.podsDir, pod.metadata?.uid ?? 'unknown');
  }

  get uid(): string {
    return this.pod.metadata?.uid ?? '';
  }

  get podIp(): string | undefined {
    return this.attachment?.ip;
  }

  get containerNames(): string[] {
    return [...(this.pod.spec?.initContainers ?? []), ...(this.pod.spec?.containers ?? [])].map((c) => c.name);
  }

  update(pod: V1Pod): void {
    this.pod = pod;
  }

  /** Sets the pod up and starts its containers; retries while volumes are not ready. */
  async run(): Promise<void> {
    const spec = this.pod.spec;
    if (!spec) return;
    mkdirSync(join(this.dir, 'logs'), { recursive: true });
    this.attachment = await this.deps.network.attach(this.uid);
    this.refreshHosts();
    this.requestPush();

    let volumePaths: Map<string, string> | undefined;
    while (!this.terminating && !volumePaths) {
      try {
        volumePaths = new Map();
        for (const volume of spec.volumes ?? []) {
          volumePaths.set(volume.name, await prepareVolume(volume, this.pod, this.dir, this.deps.volumes, this.attachment.ip, this.deps.hostIp));
        }
        this.waiting = undefined;
      } catch (err) {
        volumePaths = undefined;
        const message = (err as Error).message;
        if (!(err instanceof VolumeNotReady)) this.deps.log(`pod ${podKey(this.pod)}: ${message}`);
        this.setWaiting('ContainerCreating', message);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    if (this.terminating || !volumePaths) return;

    const policy = (spec.restartPolicy ?? 'Always') as RestartPolicy;
    for (const container of spec.initContainers ?? []) {
      const runner = await this.createRunner(container, volumePaths, policy === 'Never' ? 'Never' : 'OnFailure', 'init');
      if (!runner) return;
      this.initRunners.push(runner);
      runner.start();
      await this.until(() => runner.finished);
      if (this.terminating || runner.exitCode !== 0) return;
    }
    this.initialized = true;
    for (const container of spec.containers) {
      const runner = await this.createRunner(container, volumePaths, policy, 'main');
      if (!runner) return;
      this.runners.push(runner);
    }
    for (const runner of this.runners) runner.start();
    this.requestPush();
  }

  private setWaiting(reason: string, message: string): void {
    if (this.waiting?.reason === reason && this.waiting.message === message) return;
    this.waiting = { reason, message };
    this.requestPush();
  }

  private until(done: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (done() || this.terminating) resolve();
        else setTimeout(check, 200);
      };
      check();
    });
  }

  private async createRunner(container: V1Container, volumePaths: Map<string, string>, policy: RestartPolicy, kind: string): Promise<ContainerRunner | undefined> {
    const image = resolveImage(this.deps.images, container.image ?? '');
    if (!image && !container.command?.length) {
      this.setWaiting('ErrImagePull', `process-kubelet has no local program for image ${container.image}`);
      return undefined;
    }
    const attachment = this.attachment;
    if (!attachment) return undefined;
    const namespace = this.pod.metadata?.namespace ?? 'default';
    let env: Record<string, string>;
    let argv: string[];
    try {
      env = await resolveEnv(container, {
        pod: this.pod,
        podIp: attachment.ip,
        hostIp: this.deps.hostIp,
        base: {
          PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
          HOME: '/root',
          HOSTNAME: this.hostname,
          KUORUM_HOSTS_FILE: join(this.dir, 'hosts'),
          // Lets the next test run kill this pod's processes should this one die without cleanup.
          ...(this.deps.ownerMarker ? { [ownerEnv]: this.deps.ownerMarker } : {}),
          ...this.deps.serviceEnv,
          ...image?.env,
        },
        configMap: (name) => this.deps.configMap(namespace, name),
        secret: (name) => this.deps.secret(namespace, name),
      });
      argv = containerArgv(container, image?.entrypoint ?? [], image?.args ?? [], env);
    } catch (err) {
      this.setWaiting('CreateContainerConfigError', (err as Error).message);
      return undefined;
    }
    const mounts = [`${join(this.dir, 'hosts')}\t/etc/hosts\trw`];
    for (const mount of container.volumeMounts ?? []) {
      const base = volumePaths.get(mount.name);
      if (!base) {
        this.setWaiting('CreateContainerConfigError', `volumeMount ${mount.name} names no volume`);
        return undefined;
      }
      const source = mount.subPath ? normalize(join(base, mount.subPath)) : base;
      if (mount.subPath) mkdirSync(source, { recursive: true });
      mounts.push(`${source}\t${mount.mountPath}\t${mount.readOnly ? 'ro' : 'rw'}`);
    }
    // Parents before children, so a nested mount is not hidden by its parent's.
    mounts.sort((a, b) => (a.split('\t')[1] ?? '').split('/').length - (b.split('\t')[1] ?? '').split('/').length);
    const mountsFile = join(this.dir, `${kind}-${container.name}.mounts`);
    writeFileSync(mountsFile, `${mounts.join('\n')}\n`);
    const workingDir = container.workingDir ?? image?.workingDir ?? '/';
    const grace = (this.pod.spec?.terminationGracePeriodSeconds ?? 30) * 1000;
    return new ContainerRunner(container, {
      command: 'nsenter',
      args: [`--net=${attachment.netnsPath}`, '--', 'unshare', '--mount', '--uts', '--propagation', 'private', '--',
        'sh', podInit, mountsFile, this.hostname, workingDir, '--', ...argv],
      env,
      logPath: join(this.dir, 'logs', `${container.name}.log`),
    }, policy, attachment.ip, grace, () => this.requestPush());
  }

  private get hostname(): string {
    return this.pod.spec?.hostname ?? this.pod.metadata?.name ?? 'pod';
  }

  /** Rewrites the hosts file in place: it is bind-mounted by inode into running containers. */
  refreshHosts(): void {
    if (!this.attachment) return;
    writeFileSync(join(this.dir, 'hosts'), this.deps.hostsFile(this.pod, this.attachment.ip));
  }

  /** The path of a container's log (all its restarts, appended). */
  logPath(container: string): string {
    return join(this.dir, 'logs', `${container}.log`);
  }

  private currentStatus(): V1PodStatus {
    const image = (c: V1Container): string => c.image ?? '';
    const pending = (c: V1Container, reason: string) => ({
      name: c.name, image: image(c), imageID: '', ready: false, started: false, restartCount: 0, state: { waiting: { reason, message: this.waiting?.message } },
    });
    const spec = this.pod.spec;
    const initStatuses = (spec?.initContainers ?? []).map((c, i) => this.initRunners[i]?.status(image(c)) ?? pending(c, this.waiting?.reason ?? 'PodInitializing'));
    const waitingReason = this.waiting?.reason ?? (this.initialized ? 'ContainerCreating' : (spec?.initContainers?.length ? 'PodInitializing' : 'ContainerCreating'));
    const containerStatuses = (spec?.containers ?? []).map((c, i) => this.runners[i]?.status(image(c)) ?? pending(c, waitingReason));
    return podStatus({
      pod: this.pod,
      podIp: this.attachment?.ip,
      hostIp: this.deps.hostIp,
      startTime: this.startTime,
      initStatuses,
      containerStatuses,
      initialized: this.initialized || !(spec?.initContainers?.length),
      restartPolicy: spec?.restartPolicy ?? 'Always',
    }, this.clock);
  }

  /** Coalesces status pushes: at most one in flight and one queued. */
  requestPush(): void {
    if (this.pushQueued) return;
    this.pushQueued = true;
    this.pushing = this.pushing.then(async () => {
      this.pushQueued = false;
      try {
        await this.deps.pushStatus(this.pod, this.currentStatus());
      } catch (err) {
        const code = (err as { code?: number }).code;
        if (code !== 404) this.deps.log(`pod ${podKey(this.pod)}: status update failed: ${(err as Error).message}`);
      }
    });
  }

  /** Stops every container (SIGTERM, SIGKILL after the grace period) and releases the pod's resources. */
  async terminate(graceSeconds: number): Promise<void> {
    this.terminating = true;
    await Promise.all([...this.initRunners, ...this.runners].map((r) => r.terminate(graceSeconds * 1000)));
    await this.pushing;
    await this.deps.network.detach(this.uid);
    this.attachment = undefined;
    if (process.env.KUORUM_E2E_KEEP !== '1') rmSync(this.dir, { recursive: true, force: true });
  }
}
