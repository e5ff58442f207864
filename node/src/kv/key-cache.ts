import type { KeyMeta } from './records.js';

export const DEFAULT_KEY_CACHE_SIZE = 262_144;

const FIELDS = 3; // createRevision, modRevision, version
const ABSENT = -1; // in the modRevision column: cached as absent
const FIRST_SLOTS = 1024;

/**
 * The metadata (revisions, version; null: absent) of the keys most recently touched by apply,
 * so that a put of a hot key does not read LevelDB. Only the state machine's write path may fill
 * it, and only with what it has just written; whatever replaces the state behind it (a snapshot
 * restore) must clear it. Evicts the least recently set key.
 *
 * Compact, because it holds hundreds of thousands of keys: the Map gives each key a slot number
 * (a small integer, stored inline) and the numbers live in one Float64Array, three per slot,
 * instead of an object per key (~97 instead of ~121 bytes a key besides the key string, with
 * 200,000 keys). An evicted key's slot goes to the key that evicted it. get() builds the object
 * it returns.
 */
export class KeyMetaCache {
  private readonly slotOf = new Map<string, number>();
  private columns = new Float64Array(0);
  readonly capacity: number;

  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 0) throw new RangeError(`keyCacheSize must be a non-negative integer, got ${capacity}`);
    this.capacity = capacity;
  }

  get size(): number {
    return this.slotOf.size;
  }

  /** undefined: not cached; null: cached as absent. */
  get(key: string): Readonly<KeyMeta> | null | undefined {
    const slot = this.slotOf.get(key);
    if (slot === undefined) return undefined;
    const at = slot * FIELDS;
    const modRevision = this.columns[at + 1]!;
    if (modRevision === ABSENT) return null;
    return { createRevision: this.columns[at]!, modRevision, version: this.columns[at + 2]! };
  }

  set(key: string, meta: Readonly<KeyMeta> | null): void {
    if (this.capacity === 0) return;
    let slot = this.slotOf.get(key);
    if (slot !== undefined) this.slotOf.delete(key); // re-inserted last: most recently used
    else slot = this.freeSlot();
    this.slotOf.set(key, slot);
    const at = slot * FIELDS;
    this.columns[at] = meta ? meta.createRevision : 0;
    this.columns[at + 1] = meta ? meta.modRevision : ABSENT;
    this.columns[at + 2] = meta ? meta.version : 0;
  }

  clear(): void {
    this.slotOf.clear();
    this.columns = new Float64Array(0);
  }

  /** Slots are handed out in order (size is the next unused one) until the cache is full; then the least recently set key gives up its own. */
  private freeSlot(): number {
    const used = this.slotOf.size;
    if (used < this.capacity) {
      if (used * FIELDS === this.columns.length) this.grow();
      return used;
    }
    const [oldest, slot] = this.slotOf.entries().next().value!;
    this.slotOf.delete(oldest);
    return slot;
  }

  private grow(): void {
    const slots = Math.min(this.capacity, Math.max(FIRST_SLOTS, (this.columns.length / FIELDS) * 2));
    const next = new Float64Array(slots * FIELDS);
    next.set(this.columns);
    this.columns = next;
  }
}
