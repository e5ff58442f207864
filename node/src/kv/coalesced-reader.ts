/**
 * Coalesces point reads: every get() made before the next turn of the event loop goes to
 * LevelDB in one getMany(), instead of one native call (and one thread-pool round trip) each.
 * Linearizable reads arrive in bursts — every read behind one ReadIndex is released at once —
 * so the burst costs one call. A read still sees every write that completed before it was
 * asked for: the batch is read after that point, never before.
 */
export interface ManyReader<K, V> {
  getMany(keys: K[]): Promise<(V | undefined)[]>;
}

interface Pending<V> {
  resolve(value: V | undefined): void;
  reject(err: unknown): void;
}

export class CoalescedReader<K, V> {
  private keys: K[] = [];
  private waiters: Pending<V>[] = [];
  private scheduled = false;
  private batches = 0;

  constructor(private readonly source: ManyReader<K, V>) {}

  /** getMany() calls made so far (for tests). */
  get batchesRead(): number {
    return this.batches;
  }

  get(key: K): Promise<V | undefined> {
    return new Promise<V | undefined>((resolve, reject) => {
      this.keys.push(key);
      this.waiters.push({ resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    const keys = this.keys;
    const waiters = this.waiters;
    this.keys = [];
    this.waiters = [];
    this.scheduled = false;
    this.batches++;
    let read: Promise<(V | undefined)[]>;
    try {
      read = this.source.getMany(keys);
    } catch (err) {
      read = Promise.reject(err);
    }
    read.then(
      (values) => waiters.forEach((w, i) => w.resolve(values[i])),
      (err: unknown) => waiters.forEach((w) => w.reject(err)),
    );
  }
}
