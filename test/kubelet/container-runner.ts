import type { V1Container, V1ContainerStatus } from '@kubernetes/client-node';
import { spawnManaged, type ManagedProcess } from '../controlplane/process-group.js';
import { ProbeLoop, runProbe } from './probes.js';

export type RestartPolicy = 'Always' | 'OnFailure' | 'Never';

/** How to start the container's process (already wrapped in the pod's namespaces). */
export interface ContainerLaunch {
  command: string;
  args: string[];
  env: Record<string, string>;
  logPath: string;
}

type State =
  | { kind: 'waiting'; reason: string; message?: string }
  | { kind: 'running'; startedAt: Date }
  | { kind: 'terminated'; exitCode: number; signal?: string; reason: string; startedAt: Date; finishedAt: Date };

// Much shorter than the real kubelet's 10 s → 5 min, so that crash loops resolve within a test.
const backoffBaseMs = 1000;
const backoffMaxMs = 20_000;
/** A container that ran this long before exiting restarts without backoff. */
const backoffResetMs = 60_000;

/**
 * One container of a pod: its process, its restarts under the pod's restartPolicy with
 * exponential backoff, and its liveness and readiness probes.
 */
export class ContainerRunner {
  private state: State = { kind: 'waiting', reason: 'ContainerCreating' };
  private lastTerminated: Extract<State, { kind: 'terminated' }> | undefined;
  private restartCount = 0;
  private readinessPassing = false;
  private process: ManagedProcess | undefined;
  private probes: ProbeLoop[] = [];
  private stopping = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private consecutiveCrashes = 0;

  constructor(
    readonly container: V1Container,
    private readonly launch: ContainerLaunch,
    private readonly restartPolicy: RestartPolicy,
    private readonly podIp: string,
    private readonly gracePeriodMs: number,
    private readonly onChange: () => void,
  ) {}

  start(): void {
    if (this.stopping) return;
    const proc = spawnManaged(this.container.name, this.launch.command, this.launch.args, {
      logPath: this.launch.logPath,
      env: this.launch.env,
    });
    this.process = proc;
    const startedAt = new Date();
    this.state = { kind: 'running', startedAt };
    this.readinessPassing = false;
    this.startProbes(proc);
    this.onChange();
    void proc.exited.then((result) => this.exited(proc, result, startedAt));
  }

  private startProbes(proc: ManagedProcess): void {
    const { readinessProbe, livenessProbe } = this.container;
    if (readinessProbe) {
      this.probes.push(new ProbeLoop(readinessProbe, () => runProbe(readinessProbe, this.container, this.podIp), (passing) => {
        if (passing !== this.readinessPassing && this.process === proc) {
          this.readinessPassing = passing;
          this.onChange();
        }
      }));
    }
    if (livenessProbe) {
      this.probes.push(new ProbeLoop(livenessProbe, () => runProbe(livenessProbe, this.container, this.podIp), (passing) => {
        if (!passing && this.process === proc && proc.running()) void proc.stop(this.gracePeriodMs);
      }));
    }
    for (const probe of this.probes) probe.start();
  }

  private stopProbes(): void {
    for (const probe of this.probes) probe.stop();
    this.probes = [];
  }

  private exited(proc: ManagedProcess, result: number | string, startedAt: Date): void {
    if (this.process !== proc) return;
    this.stopProbes();
    this.readinessPassing = false;
    const exitCode = typeof result === 'number' ? result : 128 + (signalNumbers[result] ?? 9);
    const finishedAt = new Date();
    const terminated: State = {
      kind: 'terminated', exitCode, reason: exitCode === 0 ? 'Completed' : 'Error', startedAt, finishedAt,
      ...(typeof result === 'string' ? { signal: result } : {}),
    };
    this.state = terminated;
    this.lastTerminated = terminated;
    const restart = !this.stopping && (this.restartPolicy === 'Always' || (this.restartPolicy === 'OnFailure' && exitCode !== 0));
    if (restart) {
      this.consecutiveCrashes = finishedAt.getTime() - startedAt.getTime() > backoffResetMs ? 0 : this.consecutiveCrashes + 1;
      const delay = this.consecutiveCrashes === 0 ? 0 : Math.min(backoffBaseMs * 2 ** (this.consecutiveCrashes - 1), backoffMaxMs);
      this.state = { kind: 'waiting', reason: 'CrashLoopBackOff', message: `back-off ${delay} ms restarting failed container` };
      this.restartTimer = setTimeout(() => {
        this.restartCount++;
        this.start();
      }, delay);
    }
    this.onChange();
  }

  /** True once the container will not run again (terminated and not to be restarted). */
  get finished(): boolean {
    return this.state.kind === 'terminated';
  }

  get exitCode(): number | undefined {
    return this.state.kind === 'terminated' ? this.state.exitCode : undefined;
  }

  get running(): boolean {
    return this.state.kind === 'running';
  }

  get ready(): boolean {
    return this.state.kind === 'running' && (this.container.readinessProbe ? this.readinessPassing : true);
  }

  /** Stops for good: SIGTERM to the process group, SIGKILL after graceMs. */
  async terminate(graceMs: number): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.stopProbes();
    if (this.process?.running()) await this.process.stop(graceMs);
  }

  status(image: string): V1ContainerStatus {
    const render = (s: State): V1ContainerStatus['state'] => {
      switch (s.kind) {
        case 'waiting': return { waiting: { reason: s.reason, ...(s.message ? { message: s.message } : {}) } };
        case 'running': return { running: { startedAt: s.startedAt } };
        case 'terminated': return {
          terminated: { exitCode: s.exitCode, reason: s.reason, startedAt: s.startedAt, finishedAt: s.finishedAt, ...(s.signal ? { message: `killed by ${s.signal}` } : {}) },
        };
      }
    };
    const last = this.lastTerminated && this.lastTerminated !== this.state ? render(this.lastTerminated) : undefined;
    return {
      name: this.container.name,
      image,
      imageID: `process-kubelet://${image}`,
      containerID: this.process ? `process://${this.process.pid}` : undefined,
      ready: this.ready,
      started: this.state.kind === 'running',
      restartCount: this.restartCount,
      state: render(this.state),
      ...(last ? { lastState: last } : {}),
    } as V1ContainerStatus;
  }
}

const signalNumbers: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15 };
