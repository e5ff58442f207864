import type { KeyMeta } from './records.js';

export const DEFAULT_KEY_CACHE_SIZE = 262_144;

/**
 * The metadata (revisions, version; null: absent) of the keys most recently touched by apply,
 * so that a put of a hot key does not read LevelDB. Only the state machine's write path may fill
 * it, and only with what it has just written; whatever replaces the state behind it (a snapshot
 * restore) must clear it. Entries are immutable objects. Evicts the least recently set key.
 */
export class KeyMetaCache {
  private readonly map = new Map<string, Readonly<KeyMeta> | null>();
  readonly capacity: number;

  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 0) throw new RangeError(`keyCacheSize must be a non-negative integer, got ${capacity}`);
    this.capacity = capacity;
  }

  get size(): number {
    return this.map.size;
  }

  /** undefined: not cached; null: cached as absent. */
  get(key: string): Readonly<KeyMeta> | null | undefined {
    return this.map.get(key);
  }

  set(key: string, meta: Readonly<KeyMeta> | null): void {
    if (this.capacity === 0) return;
    this.map.delete(key); // re-inserted last: most recently used
    this.map.set(key, meta);
    if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value!);
  }

  clear(): void {
    this.map.clear();
  }
}
