// A work queue of reconcile keys ("namespace/name"): one worker per key at a time (per-cluster
// serialization), duplicates collapse, failures retry with exponential backoff per key.

export interface WorkQueueOptions {
  workers: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export type Handler = (key: string) => Promise<{ requeueAfterMs?: number } | void>;

export function backoffDelay(failures: number, baseDelayMs: number, maxDelayMs: number): number {
  if (failures <= 0) return 0;
  return Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(failures - 1, 30));
}

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly active = new Set<string>();
  /** Keys added while being processed: run again once the current run ends. */
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, { timer: NodeJS.Timeout; dueAt: number }>();
  private running = 0;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly handler: Handler,
    private readonly options: WorkQueueOptions = { workers: 2, baseDelayMs: 250, maxDelayMs: 60_000 },
    private readonly onError: (key: string, err: unknown) => void = () => {},
  ) {}

  add(key: string): void {
    if (this.stopped) return;
    if (this.active.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.queue.push(key);
    this.pump();
  }

  /**
   * Adds the key after a delay. A key already waiting keeps the sooner of the two times: a 30 s
   * periodic refresh scheduled while converged must not hold back a 3 s re-check asked for later.
   */
  addAfter(key: string, delayMs: number): void {
    if (this.stopped) return;
    if (delayMs <= 0) return this.add(key);
    const dueAt = Date.now() + delayMs;
    const pending = this.timers.get(key);
    if (pending) {
      if (pending.dueAt <= dueAt) return;
      clearTimeout(pending.timer);
    }
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.timers.set(key, { timer, dueAt });
  }

  failureCount(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  get length(): number {
    return this.queue.length;
  }

  /** Resolves when nothing is queued or running (delayed keys do not count). */
  idle(): Promise<void> {
    if (this.queue.length === 0 && this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t.timer);
    this.timers.clear();
    this.queue.length = 0;
    this.queued.clear();
  }

  private pump(): void {
    while (!this.stopped && this.running < this.options.workers) {
      const idx = this.queue.findIndex((k) => !this.active.has(k));
      if (idx < 0) break;
      const [key] = this.queue.splice(idx, 1) as [string];
      this.queued.delete(key);
      this.active.add(key);
      this.running++;
      void this.run(key);
    }
    if (this.queue.length === 0 && this.running === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private async run(key: string): Promise<void> {
    let retryAfter: number | undefined;
    let failed = false;
    try {
      const result = await this.handler(key);
      this.failures.delete(key);
      if (result && result.requeueAfterMs !== undefined) retryAfter = result.requeueAfterMs;
    } catch (err) {
      const n = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, n);
      failed = true;
      retryAfter = backoffDelay(n, this.options.baseDelayMs, this.options.maxDelayMs);
      this.onError(key, err);
    } finally {
      this.active.delete(key);
      this.running--;
    }
    // A failed key waits out its backoff even if it changed meanwhile, so a broken cluster cannot spin.
    if (this.dirty.delete(key) && !failed) this.add(key);
    else if (retryAfter !== undefined) this.addAfter(key, retryAfter);
    this.pump();
  }
}
