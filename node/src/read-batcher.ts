/**
 * Batches linearizable reads onto shared ReadIndex requests (as etcd does): at most one request
 * is outstanding; reads that arrive meanwhile wait for the next one, which starts as soon as the
 * outstanding one is answered. They cannot join the outstanding one: its read index may predate
 * a write that completed before they arrived. One request (one heartbeat round on the leader)
 * then serves every read queued behind it.
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
}

interface ReadWaiter {
  resolve(index: number): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

interface Batch {
  key: string;
  ctx: Uint8Array;
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

  constructor(private readonly opts: ReadBatcherOptions) {}

  /** ReadIndex requests handed to the core so far, retries included (for tests and metrics). */
  get requestsSent(): number {
    return this.sent;
  }

  /** Resolves with a read index that covers every write completed before this call. */
  wait(): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const waiter: ReadWaiter = {
        resolve,
        reject,
        timer: setTimeout(() => this.expire(waiter), this.opts.timeoutMs),
      };
      this.next.add(waiter);
      if (!this.outstanding) this.startNext();
    });
  }

  /** A ReadState from the core: answers the outstanding request if the context is its own. */
  answer(ctx: Uint8Array, index: number): void {
    const batch = this.outstanding;
    if (!batch || Buffer.from(ctx).toString('hex') !== batch.key) return;
    this.finish(batch);
    for (const w of batch.waiters) {
      clearTimeout(w.timer);
      w.resolve(index);
    }
    this.startNext();
  }

  rejectAll(err: Error): void {
    const waiting = [...(this.outstanding?.waiters ?? []), ...this.next];
    if (this.outstanding) this.finish(this.outstanding);
    this.next = new Set();
    for (const w of waiting) {
      clearTimeout(w.timer);
      w.reject(err);
    }
  }

  private startNext(): void {
    if (this.next.size === 0) return;
    const ctx = Buffer.alloc(16);
    this.prefix.copy(ctx, 0);
    ctx.writeBigUInt64BE(BigInt(++this.seq), 8);
    const ask = (): void => {
      this.sent++;
      this.opts.ask(ctx);
    };
    this.outstanding = { key: ctx.toString('hex'), ctx, waiters: this.next, retry: setInterval(ask, this.opts.retryMs) };
    this.next = new Set();
    ask();
  }

  private finish(batch: Batch): void {
    clearInterval(batch.retry);
    if (this.outstanding === batch) this.outstanding = null;
  }

  private expire(waiter: ReadWaiter): void {
    waiter.reject(new TimeoutError(`the linearizable read (ReadIndex) did not complete within ${this.opts.timeoutMs} ms (no quorum, or the leader changed)`));
    this.next.delete(waiter);
    const batch = this.outstanding;
    if (batch?.waiters.delete(waiter) && batch.waiters.size === 0) {
      // Nobody waits for it any more: stop asking, and let the reads queued behind it go.
      this.finish(batch);
      this.startNext();
    }
  }
}
