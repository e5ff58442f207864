/**
 * The 'app' messages sent to one follower and not yet acknowledged, as (last index, bytes)
 * pairs in send order. Bounded by a count and optionally by total bytes (0 = unlimited).
 */
export class Inflights {
  private indexes: number[] = [];
  private sizes: number[] = [];
  private head = 0;
  private totalBytes = 0;

  constructor(
    readonly maxCount: number,
    readonly maxBytes: number,
  ) {}

  get count(): number {
    return this.indexes.length - this.head;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  add(index: number, bytes: number): void {
    this.indexes.push(index);
    this.sizes.push(bytes);
    this.totalBytes += bytes;
  }

  /** Frees every message whose last index is <= `to` (they were acknowledged). */
  freeLE(to: number): void {
    while (this.head < this.indexes.length && this.indexes[this.head]! <= to) {
      this.totalBytes -= this.sizes[this.head]!;
      this.head++;
    }
    if (this.head === this.indexes.length) {
      this.reset();
    } else if (this.head > 1024 && this.head * 2 > this.indexes.length) {
      this.indexes = this.indexes.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
  }

  /** Frees the oldest message (its ack may have been lost; see the heartbeat response handling). */
  freeFirstOne(): void {
    if (this.count > 0) this.freeLE(this.indexes[this.head]!);
  }

  full(): boolean {
    return this.count >= this.maxCount || (this.maxBytes > 0 && this.totalBytes >= this.maxBytes);
  }

  reset(): void {
    this.indexes = [];
    this.sizes = [];
    this.head = 0;
    this.totalBytes = 0;
  }
}
