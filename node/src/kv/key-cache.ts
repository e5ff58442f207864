import type { KeyMeta } from './records.js';

/**
 * The default memory bound of the key metadata cache: 4 MiB, about 25,000 keys of 8 characters.
 *
 * A miss costs the write path a LevelDB point read of the key (one getMany on libuv's pool per
 * applied batch): the bench's put ×64 over 10,000 keys took 414–449 server CPU µs per put with
 * no cache against 360–384 with one holding them. Holding every key costs memory in proportion
 * to the whole key space instead: a count bound of 262,144 held all 200,000 keys of the
 * memory bench, ~20 MiB of V8 heap and ArrayBuffers on every member. The cache is for the keys
 * written often; a store whose hot set is larger raises --key-cache-bytes.
 */
export const DEFAULT_KEY_CACHE_BYTES = 4 * 1024 * 1024;

const FIELDS = 3; // createRevision, modRevision, version
const ABSENT = -1; // in the modRevision column: cached as absent
const FIRST_SLOTS = 1024;
const NONE = -1; // no slot: the end of the recency list
/**
 * What one cached key costs besides its characters: its Map entry with the hash table's share,
 * its three numbers and two links, its place in keyOf, the string's header, each with the
 * growth slack of its array and the Map's deleted entries under eviction churn. Measured with
 * 8-character keys streaming through caches of 1–16 MiB: 150–190 bytes a key, depending on
 * where the size falls between two power-of-two growth steps.
 */
export const KEY_ENTRY_OVERHEAD_BYTES = 160;

/** The memory the cache counts for one key: the overhead, plus one byte a character (two when V8 must store the string as two-byte). */
export function keyEntryBytes(key: string): number {
  // eslint-disable-next-line no-control-regex
  const perChar = /[^\u0000-\u00ff]/.test(key) ? 2 : 1;
  return KEY_ENTRY_OVERHEAD_BYTES + ((key.length * perChar + 7) & ~7);
}

/**
 * The metadata (revisions, version; null: absent) of the keys most recently touched by apply,
 * so that a put of a hot key does not read LevelDB. Only the state machine's write path may fill
 * it, and only with what it has just written; whatever replaces the state behind it (a snapshot
 * restore) must clear it. Bounded by memory, not by a number of keys (long keys cost more):
 * evicts the least recently set keys while the estimate of what it holds (keyEntryBytes a key)
 * would exceed maxBytes.
 *
 * Compact: the Map gives each key a slot number (a small integer, stored inline); a slot's
 * numbers live in one Float64Array, three per slot, and its place in the recency order in one
 * Int32Array (a doubly linked list, two per slot), instead of objects per key. The order is
 * kept in the list, not in the Map's insertion order: a set of a cached key moves its slot to
 * the front without touching the Map, and the oldest key is the list's tail (finding the first
 * entry of a Map whose front entries were deleted walks over every deleted one: 200,000 keys
 * streamed through a 40,000-key cache cost ~19 µs a set that way, ~0.5 µs with the list).
 * An evicted key's slot goes to the key that evicted it. get() builds the object it returns.
 */
export class KeyMetaCache {
  private readonly slotOf = new Map<string, number>();
  private keyOf: string[] = [];
  private columns = new Float64Array(0);
  /** Per slot: the next more recent slot, the next older slot (NONE at the ends). */
  private links = new Int32Array(0);
  private newest = NONE;
  private oldest = NONE;
  /** Slots given up by evicted keys, to be reused before new ones. */
  private freeSlots: number[] = [];
  private heldBytes = 0;
  readonly maxBytes: number;

  constructor(maxBytes: number) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new RangeError(`keyCacheBytes must be a non-negative integer, got ${maxBytes}`);
    this.maxBytes = maxBytes;
  }

  get size(): number {
    return this.slotOf.size;
  }

  /** The estimated memory held (the sum of keyEntryBytes of the cached keys); never above maxBytes. */
  get bytes(): number {
    return this.heldBytes;
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
    let slot = this.slotOf.get(key);
    if (slot !== undefined) {
      this.unlink(slot);
    } else {
      const cost = keyEntryBytes(key);
      if (cost > this.maxBytes) return;
      while (this.heldBytes + cost > this.maxBytes) this.evictOldest();
      this.heldBytes += cost;
      slot = this.freeSlots.pop() ?? this.newSlot();
      this.slotOf.set(key, slot);
      this.keyOf[slot] = key;
    }
    this.linkNewest(slot);
    const at = slot * FIELDS;
    this.columns[at] = meta ? meta.createRevision : 0;
    this.columns[at + 1] = meta ? meta.modRevision : ABSENT;
    this.columns[at + 2] = meta ? meta.version : 0;
  }

  clear(): void {
    this.slotOf.clear();
    this.keyOf = [];
    this.columns = new Float64Array(0);
    this.links = new Int32Array(0);
    this.newest = NONE;
    this.oldest = NONE;
    this.freeSlots = [];
    this.heldBytes = 0;
  }

  private evictOldest(): void {
    const slot = this.oldest;
    const key = this.keyOf[slot]!;
    this.unlink(slot);
    this.slotOf.delete(key);
    this.keyOf[slot] = '';
    this.freeSlots.push(slot);
    this.heldBytes -= keyEntryBytes(key);
  }

  private unlink(slot: number): void {
    const newer = this.links[slot * 2]!;
    const older = this.links[slot * 2 + 1]!;
    if (newer === NONE) this.newest = older;
    else this.links[newer * 2 + 1] = older;
    if (older === NONE) this.oldest = newer;
    else this.links[older * 2] = newer;
  }

  private linkNewest(slot: number): void {
    this.links[slot * 2] = NONE;
    this.links[slot * 2 + 1] = this.newest;
    if (this.newest === NONE) this.oldest = slot;
    else this.links[this.newest * 2] = slot;
    this.newest = slot;
  }

  private newSlot(): number {
    const slot = this.keyOf.length;
    this.keyOf.push('');
    if (slot * FIELDS === this.columns.length) {
      const slots = Math.max(FIRST_SLOTS, (this.columns.length / FIELDS) * 2);
      const columns = new Float64Array(slots * FIELDS);
      columns.set(this.columns);
      this.columns = columns;
      const links = new Int32Array(slots * 2);
      links.set(this.links);
      this.links = links;
    }
    return slot;
  }
}
