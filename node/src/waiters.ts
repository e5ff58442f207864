import { TimeoutError } from './errors.js';

interface Waiter<T> {
  resolve(v: T): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * Promises keyed by an ID (a proposal's request ID, a read's context), each with a deadline so
 * that no request ever hangs: on expiry it fails with a 503 TimeoutError carrying `what`.
 */
export class Waiters<K, T> {
  private readonly map = new Map<K, Waiter<T>>();

  constructor(private readonly onTimeout?: (key: K) => void) {}

  wait(key: K, timeoutMs: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.map.delete(key)) {
          this.onTimeout?.(key);
          reject(new TimeoutError(`${what} did not complete within ${timeoutMs} ms (no quorum, or the leader changed); it may still take effect`));
        }
      }, timeoutMs);
      this.map.set(key, { resolve, reject, timer });
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
    clearTimeout(w.timer);
    w.resolve(value);
    return true;
  }

  reject(key: K, err: Error): boolean {
    const w = this.map.get(key);
    if (!w) return false;
    this.map.delete(key);
    clearTimeout(w.timer);
    w.reject(err);
    return true;
  }

  rejectAll(err: Error): void {
    for (const key of [...this.map.keys()]) this.reject(key, err);
  }
}
