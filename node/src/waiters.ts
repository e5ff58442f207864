import { TimeoutError } from './errors.js';

interface Waiter<T> {
  resolve(v: T): void;
  reject(e: Error): void;
  /** performance.now() at which it times out. */
  deadline: number;
  timeoutMs: number;
  what: string;
}

/**
 * Promises keyed by an ID (a proposal's request ID, a read's context), each with a deadline so
 * that no request ever hangs: on expiry it fails with a 503 TimeoutError carrying `what`.
 *
 * One timer for all of them, not one each: a write's setTimeout and clearTimeout cost the put
 * path more than the rest of its waiting. The timer is armed for the oldest waiter's deadline;
 * when it fires, it expires every waiter that is due and re-arms for the next. With equal
 * timeouts the Map's insertion order is deadline order and a sweep stops at the first waiter not
 * yet due; once a waiter is added with an earlier deadline than the last one, sweeps check all.
 */
export class Waiters<K, T> {
  private readonly map = new Map<K, Waiter<T>>();
  private timer: NodeJS.Timeout | null = null;
  /** When the armed timer fires (performance.now()); Infinity when none is armed. */
  private timerAt = Infinity;
  private lastDeadline = -Infinity;
  private inDeadlineOrder = true;

  constructor(private readonly onTimeout?: (key: K) => void) {}

  wait(key: K, timeoutMs: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const deadline = performance.now() + timeoutMs;
      // A key waited for again keeps its old place in the Map: out of deadline order.
      if (deadline < this.lastDeadline || this.map.has(key)) this.inDeadlineOrder = false;
      this.lastDeadline = deadline;
      this.map.set(key, { resolve, reject, deadline, timeoutMs, what });
      if (deadline < this.timerAt) this.arm(deadline);
    });
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  get size(): number {
    return this.map.size;
  }

  resolve(key: K, value: T): boolean {
    const w = this.map.get(key);
    if (!w) return false;
    this.map.delete(key);
    w.resolve(value);
    return true;
  }

  reject(key: K, err: Error): boolean {
    const w = this.map.get(key);
    if (!w) return false;
    this.map.delete(key);
    w.reject(err);
    return true;
  }

  rejectAll(err: Error): void {
    for (const key of [...this.map.keys()]) this.reject(key, err);
  }

  private arm(at: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.expire(), Math.max(0, Math.ceil(at - performance.now())));
  }

  private expire(): void {
    this.timer = null;
    this.timerAt = Infinity;
    const now = performance.now();
    let next = Infinity;
    for (const [key, w] of this.map) {
      if (w.deadline > now) {
        next = Math.min(next, w.deadline);
        if (this.inDeadlineOrder) break;
        continue;
      }
      this.map.delete(key);
      this.onTimeout?.(key);
      w.reject(new TimeoutError(`${w.what} did not complete within ${w.timeoutMs} ms (no quorum, or the leader changed); it may still take effect`));
    }
    if (this.map.size === 0) {
      this.inDeadlineOrder = true;
      this.lastDeadline = -Infinity;
    }
    if (next !== Infinity) this.arm(next);
  }
}
