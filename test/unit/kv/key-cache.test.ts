import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyMetaCache } from '../../../node/src/kv/key-cache.js';
import { KvStore } from '../../../node/src/kv/index.js';
import { useTempDirs } from '../storage/temp-dir.js';
import { EntryBuilder } from './kv-fixtures.js';

const tempDir = useTempDirs('kvcache');
const meta = (modRevision: number): { createRevision: number; modRevision: number; version: number } => ({ createRevision: 1, modRevision, version: modRevision });

describe('KeyMetaCache', () => {
  it('keeps the most recently set keys up to its capacity, and absent keys as null', () => {
    const c = new KeyMetaCache(2);
    c.set('a', meta(1));
    c.set('b', null);
    c.set('a', meta(2)); // a is now the most recent
    c.set('c', meta(3)); // evicts b
    expect(c.size).toBe(2);
    expect(c.get('b')).toBeUndefined();
    expect(c.get('a')).toEqual(meta(2));
    expect(c.get('c')).toEqual(meta(3));
    c.set('d', null); // evicts a
    expect(c.get('a')).toBeUndefined();
    expect(c.get('d')).toBeNull();
    c.clear();
    expect(c.size).toBe(0);
  });

  it('agrees with a plain least-recently-set model through evictions, re-sets and clears (an evicted key hands its slot on)', () => {
    const op = fc.oneof(
      { arbitrary: fc.record({ key: fc.integer({ min: 0, max: 12 }), mod: fc.option(fc.integer({ min: 1, max: 2 ** 40 }), { nil: null }) }), weight: 20 },
      { arbitrary: fc.constant('clear' as const), weight: 1 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.array(op, { maxLength: 200 }), (capacity, ops) => {
        const cache = new KeyMetaCache(capacity);
        const model = new Map<string, ReturnType<typeof meta> | null>();
        for (const o of ops) {
          if (o === 'clear') {
            cache.clear();
            model.clear();
            continue;
          }
          const value = o.mod === null ? null : { createRevision: 7, modRevision: o.mod, version: o.mod + 1 };
          cache.set(`k${o.key}`, value);
          model.delete(`k${o.key}`);
          model.set(`k${o.key}`, value);
          if (model.size > capacity) model.delete(model.keys().next().value!);
          expect(cache.size).toBe(model.size);
          for (let k = 0; k <= 12; k++) expect(cache.get(`k${k}`)).toEqual(model.get(`k${k}`));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('holds nothing with capacity 0 and refuses a bad capacity', () => {
    const c = new KeyMetaCache(0);
    c.set('a', meta(1));
    expect(c.get('a')).toBeUndefined();
    expect(() => new KeyMetaCache(-1)).toThrow(/keyCacheSize must be a non-negative integer/);
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
    let kv = await KvStore.open(dir, { keyCacheSize: 1 });
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
