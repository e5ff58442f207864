import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_KEY_CACHE_BYTES, KEY_ENTRY_OVERHEAD_BYTES, KeyMetaCache, keyEntryBytes } from '../../../node/src/kv/key-cache.js';
import { KvStore } from '../../../node/src/kv/index.js';
import { useTempDirs } from '../storage/temp-dir.js';
import { EntryBuilder } from './kv-fixtures.js';

const tempDir = useTempDirs('kvcache');
const meta = (modRevision: number): { createRevision: number; modRevision: number; version: number } => ({ createRevision: 1, modRevision, version: modRevision });

describe('KeyMetaCache', () => {
  const one = keyEntryBytes('a'); // every one-character key costs the same

  it('keeps the most recently set keys within its bytes, and absent keys as null', () => {
    const c = new KeyMetaCache(2 * one);
    c.set('a', meta(1));
    c.set('b', null);
    c.set('a', meta(2)); // a is now the most recent
    c.set('c', meta(3)); // evicts b
    expect(c.size).toBe(2);
    expect(c.bytes).toBe(2 * one);
    expect(c.get('b')).toBeUndefined();
    expect(c.get('a')).toEqual(meta(2));
    expect(c.get('c')).toEqual(meta(3));
    c.set('d', null); // evicts a
    expect(c.get('a')).toBeUndefined();
    expect(c.get('d')).toBeNull();
    c.clear();
    expect(c.size).toBe(0);
    expect(c.bytes).toBe(0);
  });

  it('is bounded by memory, not by a number of keys: a long key evicts as many short ones as it needs, a key larger than the bound is not kept', () => {
    const long = 'L'.repeat(3 * one); // costs the overhead plus 3 × one: more than three short keys
    const c = new KeyMetaCache(5 * one);
    for (const k of ['a', 'b', 'c', 'd', 'e']) c.set(k, meta(1));
    expect(c.size).toBe(5);
    c.set(long, meta(2));
    expect(keyEntryBytes(long)).toBeGreaterThan(3 * one);
    expect([...'abcde'].filter((k) => c.get(k) !== undefined)).toEqual(['e']); // a–d gave way
    expect(c.get(long)).toEqual(meta(2));
    expect(c.bytes).toBeLessThanOrEqual(5 * one);
    c.set('x'.repeat(6 * one), meta(3));
    expect(c.get('x'.repeat(6 * one))).toBeUndefined();
    expect(c.get(long)).toEqual(meta(2));
  });

  it('counts a key V8 stores as two-byte at two bytes a character', () => {
    expect(keyEntryBytes('é'.repeat(16))).toBe(KEY_ENTRY_OVERHEAD_BYTES + 16);
    expect(keyEntryBytes('€'.repeat(16))).toBe(KEY_ENTRY_OVERHEAD_BYTES + 32);
    expect(keyEntryBytes('abc')).toBe(KEY_ENTRY_OVERHEAD_BYTES + 8);
  });

  it('holds a bounded part of a large key space by default (200,000 keys of 16 characters would take ~21 MiB)', () => {
    const c = new KeyMetaCache(DEFAULT_KEY_CACHE_BYTES);
    for (let i = 0; i < 200_000; i++) c.set(`bench/k${String(i).padStart(9, '0')}`, meta(i + 1));
    expect(c.bytes).toBeLessThanOrEqual(DEFAULT_KEY_CACHE_BYTES);
    expect(c.size).toBe(Math.floor(DEFAULT_KEY_CACHE_BYTES / keyEntryBytes('bench/k000000000')));
    expect(c.get('bench/k000199999')).toEqual(meta(200_000));
    expect(c.get('bench/k000000000')).toBeUndefined();
  });

  it('agrees with a plain least-recently-set model with a byte bound through evictions, re-sets and clears (evicted keys hand their slots on)', () => {
    const op = fc.oneof(
      { arbitrary: fc.record({ key: fc.integer({ min: 0, max: 12 }), mod: fc.option(fc.integer({ min: 1, max: 2 ** 40 }), { nil: null }) }), weight: 20 },
      { arbitrary: fc.constant('clear' as const), weight: 1 },
    );
    // Key k is k characters longer than 'k', so keys differ in cost; k12 is larger than some bounds.
    const name = (k: number): string => `k${'x'.repeat(k * 8)}`;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 6 * one }), fc.array(op, { maxLength: 200 }), (maxBytes, ops) => {
        const cache = new KeyMetaCache(maxBytes);
        const model = new Map<string, ReturnType<typeof meta> | null>();
        const held = (): number => [...model.keys()].reduce((sum, k) => sum + keyEntryBytes(k), 0);
        for (const o of ops) {
          if (o === 'clear') {
            cache.clear();
            model.clear();
            continue;
          }
          const key = name(o.key);
          const value = o.mod === null ? null : { createRevision: 7, modRevision: o.mod, version: o.mod + 1 };
          cache.set(key, value);
          if (keyEntryBytes(key) <= maxBytes) {
            model.delete(key);
            model.set(key, value);
            while (held() > maxBytes) model.delete(model.keys().next().value!);
          }
          expect(cache.size).toBe(model.size);
          expect(cache.bytes).toBe(held());
          for (let k = 0; k <= 12; k++) expect(cache.get(name(k))).toEqual(model.get(name(k)));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('holds nothing with 0 bytes and refuses a bad bound', () => {
    const c = new KeyMetaCache(0);
    c.set('a', meta(1));
    expect(c.get('a')).toBeUndefined();
    expect(() => new KeyMetaCache(-1)).toThrow(/keyCacheBytes must be a non-negative integer/);
  });
});

describe('KvStore key metadata cache', () => {
  it('never serves a key from before a snapshot restore', async () => {
    // The snapshot has k at createRevision 3, modRevision 3, version 1.
    const source = await KvStore.open(await tempDir());
    const s = new EntryBuilder();
    await source.apply([s.put('x', '1'), s.put('y', '1'), s.put('k', 'snap')]);
    const { index } = await source.captureSnapshot();
    const data = await source.snapshotData();
    await source.close();

    // Here k was written three times (cached: createRevision 1, modRevision 3, version 3).
    const kv = await KvStore.open(await tempDir());
    const b = new EntryBuilder();
    await kv.apply([b.put('k', '1')]);
    await kv.apply([b.put('k', '2')]);
    await kv.apply([b.put('k', '3')]);
    await kv.restore(data, index);

    const [stale, ok] = await kv.apply([b.put('k', 'x', { ifMatch: 2 }), b.put('k', 'after')]);
    expect(stale).toMatchObject({ kind: 'precondition', currentModRevision: 3 });
    expect(ok).toMatchObject({ kind: 'ok', revision: 4 });
    expect(await kv.get('k')).toMatchObject({ createRevision: 3, modRevision: 4, version: 2 });
    await kv.close();
  });

  it('knows a key deleted in an earlier batch is absent', async () => {
    const kv = await KvStore.open(await tempDir());
    const b = new EntryBuilder();
    await kv.apply([b.put('k', '1'), b.put('k', '2')]);
    await kv.apply([b.del('k')]);
    const r = await kv.apply([b.del('k'), b.put('k', 'new', { ifNoneMatch: true })]);
    expect(r.map((x) => x.kind)).toEqual(['notFound', 'ok']);
    expect(await kv.get('k')).toMatchObject({ createRevision: 4, modRevision: 4, version: 1 });
    await kv.close();
  });

  it('reads evicted keys from LevelDB again, and starts empty after a restart', async () => {
    const dir = await tempDir();
    let kv = await KvStore.open(dir, { keyCacheBytes: keyEntryBytes('a') }); // one key
    const b = new EntryBuilder();
    await kv.apply([b.put('a', '1')]);
    await kv.apply([b.put('b', '1')]); // evicts a
    await kv.apply([b.put('a', '2')]);
    expect(await kv.get('a')).toMatchObject({ createRevision: 1, modRevision: 3, version: 2 });
    await kv.close();
    kv = await KvStore.open(dir);
    await kv.apply([b.put('b', '2'), b.put('a', '3')]);
    expect(await kv.get('a')).toMatchObject({ createRevision: 1, modRevision: 5, version: 3 });
    expect(await kv.get('b')).toMatchObject({ createRevision: 2, modRevision: 4, version: 2 });
    await kv.close();
  });
});
