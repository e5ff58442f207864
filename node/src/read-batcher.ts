/**
 * Batches linearizable reads onto shared ReadIndex requests (as etcd does): at most one request
 * is outstanding; reads that arrive meanwhile wait for the next one, which starts as soon as the
 * outstanding one is answered. They cannot join the outstanding one: its read index may predate
 * a write that completed before they arrived. One request (one heartbeat round on the leader)
 * then serves every read queued behind it.
 *
 * Under load, a request is held back briefly after an answer (see gatherMs): the clients of the
 * reads just answered come back within a moment, and one request for all of them costs the
 * cluster far less than several (each is a round of peer messages and Raft loop passes).
 */
import { randomBytes } from 'node:crypto';
import { TimeoutError } from './errors.js';

export interface ReadBatcherOptions {
  /** Hands a ReadIndex request with this context to the Raft core. */
  ask(ctx: Uint8Array): void;
  /** A request is dropped without a leader and its messages may be lost: ask again this often. */
  retryMs: number;
  /** A read waiting longer fails with a TimeoutError. */
  timeoutMs: number;
  /**
   * After answering a request that served several reads, the next request waits until as many
   * reads queue again, or this long (default 1 ms). A lone read never waits.
   */
  gatherMs?: number;
}

const DEFAULT_GATHER_MS = 1;

interface ReadWaiter {
  resolve(index: number): void;
  reject(err: Error): void;
  /** performance.now() after which the read fails. */
  deadline: number;
}

interface Batch {
  ctx: Buffer;
  waiters: Set<ReadWaiter>;
  retry: NodeJS.Timeout;
}

export class ReadBatcher {
  // Contexts are unique across members (the leader ignores a context it already holds): a
  // random prefix per node and a counter.
  private readonly prefix = randomBytes(8);
  private seq = 0;
  private outstanding: Batch | null = null;
  private next = new Set<ReadWaiter>();
  private sent = 0;
  // One timer for every waiting read (a timer each cost more than the read's other work): it
  // fires at the oldest read's deadline. Reads wait in arrival order, the outstanding batch's
  // before the next one's, so the oldest is the first of the first non-empty set.
  private expiry: NodeJS.Timeout | null = null;
  // While set, the next request is held back until `next` holds `target` reads or the timer fires.
  private gathering: { target: number; timer: NodeJS.Timeout } | null = null;

  constructor(private readonly opts: ReadBatcherOptions) {}

  /** ReadIndex requests handed to the core so far, retries included (for tests and metrics). */
  get requestsSent(): number {
    return this.sent;
  }

  /** Resolves with a read index that covers every write completed before this call. */
  wait(): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      this.next.add({ resolve, reject, deadline: performance.now() + this.opts.timeoutMs });
      if (!this.expiry) this.expiry = setTimeout(() => this.expireDue(), this.opts.timeoutMs);
      if (this.gathering) {
        if (this.next.size >= this.gathering.target) this.endGathering();
      } else if (!this.outstanding) {
        this.startNext();
      }
    });
  }

  /** A ReadState from the core: answers the outstanding request if the context is its own. */
  answer(ctx: Uint8Array, index: number): void {
    const batch = this.outstanding;
    if (!batch || !batch.ctx.equals(ctx)) return;
    this.finish(batch);
    for (const w of batch.waiters) w.resolve(index);
    const served = batch.waiters.size;
    if (served > 1 && this.next.size < served) {
      this.gathering = { target: served, timer: setTimeout(() => this.endGathering(), this.opts.gatherMs ?? DEFAULT_GATHER_MS) };
      return;
    }
    this.startNext();
    if (this.next.size === 0 && !this.outstanding) this.stopExpiry();
  }

  rejectAll(err: Error): void {
    this.stopGathering();
    const waiting = [...(this.outstanding?.waiters ?? []), ...this.next];
    if (this.outstanding) this.finish(this.outstanding);
    this.next = new Set();
    this.stopExpiry();
    for (const w of waiting) w.reject(err);
  }

  private startNext(): void {
    if (this.next.size === 0) return;
    const ctx = Buffer.alloc(16);
    this.prefix.copy(ctx, 0);
    ctx.writeUInt32BE(Math.floor(++this.seq / 0x1_0000_0000), 8);
    ctx.writeUInt32BE(this.seq >>> 0, 12);
    const ask = (): void => {
      this.sent++;
      this.opts.ask(ctx);
    };
    this.outstanding = { ctx, waiters: this.next, retry: setInterval(ask, this.opts.retryMs) };
    this.next = new Set();
    ask();
  }

  private finish(batch: Batch): void {
    clearInterval(batch.retry);
    if (this.outstanding === batch) this.outstanding = null;
  }

  private endGathering(): void {
    this.stopGathering();
    this.startNext();
    if (this.next.size === 0 && !this.outstanding) this.stopExpiry();
  }

  private stopGathering(): void {
    if (this.gathering) clearTimeout(this.gathering.timer);
    this.gathering = null;
  }

  private stopExpiry(): void {
    if (this.expiry) clearTimeout(this.expiry);
    this.expiry = null;
  }

  private expireDue(): void {
    this.expiry = null;
    const now = performance.now();
    const err = new TimeoutError(`the linearizable read (ReadIndex) did not complete within ${this.opts.timeoutMs} ms (no quorum, or the leader changed)`);
    const batch = this.outstanding;
    if (batch) {
      expireFrom(batch.waiters, now, err);
      if (batch.waiters.size === 0) {
        // Nobody waits for it any more: stop asking, and let the reads queued behind it go.
        this.finish(batch);
        expireFrom(this.next, now, err);
        this.startNext();
      }
    } else {
      expireFrom(this.next, now, err);
    }
    const oldest = firstOf(this.outstanding?.waiters) ?? firstOf(this.next);
    if (oldest) this.expiry = setTimeout(() => this.expireDue(), Math.max(0, oldest.deadline - now));
  }
}

/** Fails the reads at the front of `waiters` whose deadline has passed (they are in arrival order). */
function expireFrom(waiters: Set<ReadWaiter>, now: number, err: Error): void {
  for (const w of waiters) {
    if (w.deadline > now) return;
    waiters.delete(w);
    w.reject(err);
  }
}

function firstOf(waiters: Set<ReadWaiter> | undefined): ReadWaiter | undefined {
  if (!waiters) return undefined;
  for (const w of waiters) return w;
  return undefined;
}
