// Leader election on a coordination.k8s.io/v1 Lease, so several operator replicas can run and
// only one reconciles. Expiry is judged by when THIS process last saw the lease change (not by the
// holder's clock), as client-go does.
import { V1MicroTime, type CoordinationV1Api, type V1Lease } from '@kubernetes/client-node';

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

export interface LeaderCallbacks {
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

const statusCode = (err: unknown): number | undefined => {
  const c = (err as { code?: unknown }).code;
  return typeof c === 'number' ? c : undefined;
};

export class LeaderElector {
  private leading = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private lastRenew = 0;
  private observed: { holder: string; renewTime: string; at: number } | undefined;

  constructor(
    private readonly api: CoordinationV1Api,
    private readonly opts: LeaderElectionOptions,
    private readonly cb: LeaderCallbacks,
    private readonly now: () => number = Date.now,
  ) {}

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    void this.loop();
  }

  private async loop(): Promise<void> {
    if (this.stopped) return;
    let ok = false;
    try {
      ok = await this.tryAcquireOrRenew();
    } catch (err) {
      this.cb.log?.('lease update failed', { error: (err as Error).message });
    }
    if (this.stopped) return;
    if (ok) {
      this.lastRenew = this.now();
      if (!this.leading) {
        this.leading = true;
        this.cb.log?.('became leader', { lease: `${this.opts.namespace}/${this.opts.name}`, identity: this.opts.identity });
        this.cb.onStartedLeading();
      }
    } else if (this.leading && this.now() - this.lastRenew > this.opts.renewDeadlineMs) {
      this.leading = false;
      this.cb.log?.('lost leadership', { identity: this.opts.identity });
      this.cb.onStoppedLeading();
    }
    this.timer = setTimeout(() => void this.loop(), this.opts.retryPeriodMs);
  }

  /** True when this process holds the lease after the call. */
  async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity } = this.opts;
    const durationSeconds = Math.max(1, Math.round(this.opts.leaseDurationMs / 1000));
    const nowTime = new V1MicroTime(this.now());
    let lease: V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ name, namespace });
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
      await this.api.createNamespacedLease({
        namespace,
        body: {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name, namespace },
          spec: { holderIdentity: identity, leaseDurationSeconds: durationSeconds, acquireTime: nowTime, renewTime: nowTime, leaseTransitions: 0 },
        },
      });
      return true;
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const renewTime = spec.renewTime ? new Date(spec.renewTime).toISOString() : '';
    if (!this.observed || this.observed.holder !== holder || this.observed.renewTime !== renewTime) {
      this.observed = { holder, renewTime, at: this.now() };
    }
    const heldByOther = holder !== '' && holder !== identity;
    const duration = (spec.leaseDurationSeconds ?? durationSeconds) * 1000;
    if (heldByOther && this.now() - this.observed.at < duration) return false;
    const body: V1Lease = {
      ...lease,
      spec: {
        ...spec,
        holderIdentity: identity,
        leaseDurationSeconds: durationSeconds,
        renewTime: nowTime,
        acquireTime: holder === identity && spec.acquireTime ? spec.acquireTime : nowTime,
        leaseTransitions: (spec.leaseTransitions ?? 0) + (holder === identity ? 0 : 1),
      },
    };
    try {
      await this.api.replaceNamespacedLease({ name, namespace, body });
    } catch (err) {
      if (statusCode(err) === 409) return false; // someone else wrote it first
      throw err;
    }
    return true;
  }

  /** Stops campaigning; a leader gives the lease up so a standby takes over without waiting for expiry. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (!this.leading) return;
    this.leading = false;
    try {
      const lease = await this.api.readNamespacedLease({ name: this.opts.name, namespace: this.opts.namespace });
      if (lease.spec?.holderIdentity === this.opts.identity) {
        await this.api.replaceNamespacedLease({
          name: this.opts.name,
          namespace: this.opts.namespace,
          body: { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1 } },
        });
      }
    } catch (err) {
      this.cb.log?.('could not release the lease', { error: (err as Error).message });
    }
  }
}
