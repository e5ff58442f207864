/**
 * When the leader's core defers commit broadcasts (RaftConfig.deferCommitBroadcast), a new commit
 * index reaches the followers with the next append, which under a steady stream of writes follows
 * within a fraction of a millisecond. This timer covers the rest: a notice due for `delayMs`
 * without a break is sent by calling `send`.
 *
 * The Ready loop reports after each iteration whether a notice is due; a report of "not due"
 * (an append carried the commit) ends the wait, and the next due notice waits `delayMs` afresh.
 */
export const COMMIT_NOTICE_DELAY_MS = 2;

export interface NoticeClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realClock: NoticeClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export class CommitNoticeTimer {
  private dueSince: number | null = null;
  private timer: unknown = null;
  private stopped = false;

  constructor(
    private readonly send: () => void,
    private readonly delayMs = COMMIT_NOTICE_DELAY_MS,
    private readonly clock: NoticeClock = realClock,
  ) {}

  /** After each iteration of the Ready loop: whether some follower waits for a commit index. */
  observe(due: boolean): void {
    if (this.stopped) return;
    if (!due) {
      this.dueSince = null; // a timer already set finds nothing to do
      return;
    }
    const now = this.clock.now();
    if (this.dueSince === null) this.dueSince = now;
    if (this.timer === null) this.arm(this.dueSince + this.delayMs - now);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  private arm(ms: number): void {
    this.timer = this.clock.setTimeout(() => this.fired(), Math.max(0, ms));
  }

  private fired(): void {
    this.timer = null;
    if (this.stopped || this.dueSince === null) return;
    const left = this.dueSince + this.delayMs - this.clock.now();
    if (left > 0) return this.arm(left);
    this.dueSince = null;
    this.send();
  }
}
