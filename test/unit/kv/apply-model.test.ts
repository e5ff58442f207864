import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KvStore, type ApplyResult } from '../../../node/src/kv/index.js';
import { keyEntryBytes } from '../../../node/src/kv/key-cache.js';
import { useTempDirs } from '../storage/temp-dir.js';
import { EntryBuilder, text } from './kv-fixtures.js';

const tempDir = useTempDirs('kvmodel');

type Op =
  | { op: 'put'; key: string; value: string; ifMatch?: number; ifNoneMatch?: boolean }
  | { op: 'del'; key: string; ifMatch?: number }
  | { op: 'noop' };

const key = fc.constantFrom('a', 'b', 'c/1', 'c/2');
const rev = fc.integer({ min: 1, max: 12 });
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('put' as const), key, value: fc.string({ maxLength: 4 }) }),
  fc.record({ op: fc.constant('put' as const), key, value: fc.string({ maxLength: 4 }), ifMatch: rev }),
  fc.record({ op: fc.constant('put' as const), key, value: fc.string({ maxLength: 4 }), ifNoneMatch: fc.constant(true) }),
  fc.record({ op: fc.constant('del' as const), key }),
  fc.record({ op: fc.constant('del' as const), key, ifMatch: rev }),
  fc.record({ op: fc.constant('noop' as const) }),
);

interface ModelKey {
  value: string;
  createRevision: number;
  modRevision: number;
  version: number;
}

/** The specification of apply(), written as plainly as possible. */
function model(ops: Op[]): { results: string[]; keys: Map<string, ModelKey>; revision: number } {
  const keys = new Map<string, ModelKey>();
  let revision = 0;
  const results = ops.map((o) => {
    if (o.op === 'noop') return 'noop';
    const cur = keys.get(o.key);
    const mod = cur?.modRevision ?? 0;
    if ((o.ifMatch !== undefined && o.ifMatch !== mod) || (o.op === 'put' && o.ifNoneMatch && cur)) return `412@${mod}`;
    if (o.op === 'del') {
      if (!cur) return 'notFound';
      keys.delete(o.key);
      return `ok@${++revision}`;
    }
    revision++;
    keys.set(o.key, { value: o.value, createRevision: cur?.createRevision ?? revision, modRevision: revision, version: (cur?.version ?? 0) + 1 });
    return `ok@${revision}`;
  });
  return { results, keys, revision };
}

const brief = (r: ApplyResult): string => (r.kind === 'ok' ? `ok@${r.revision}` : r.kind === 'precondition' ? `412@${r.currentModRevision}` : r.kind);

describe('KvStore apply against a model', () => {
  it('matches the model for random command sequences split into random batches', async () => {
    const dir = await tempDir();
    let run = 0;
    await fc.assert(
      // The key cache from none to larger than the key set: apply must not depend on it.
      fc.asyncProperty(fc.array(op, { maxLength: 30 }), fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 30 }), fc.constantFrom(0, 1, 2, 16), async (ops, sizes, cachedKeys) => {
        const kv = await KvStore.open(`${dir}/${run++}`, { keyCacheBytes: cachedKeys * keyEntryBytes('k0') });
        try {
          const b = new EntryBuilder();
          const entries = ops.map((o) => (o.op === 'noop' ? b.noop() : o.op === 'put' ? b.put(o.key, o.value, o) : b.del(o.key, o)));
          const results: ApplyResult[] = [];
          for (let i = 0, s = 0; i < entries.length; s++) {
            const n = sizes[s % sizes.length]!;
            results.push(...(await kv.apply(entries.slice(i, i + n))));
            i += n;
          }
          const want = model(ops);
          expect(results.map(brief)).toEqual(want.results);
          expect(kv.revision).toBe(want.revision);
          expect(kv.appliedIndex).toBe(ops.length);
          const listed = await kv.list('', 100);
          expect(listed.items.map((i) => [i.key, { value: text(i.value), createRevision: i.createRevision, modRevision: i.modRevision, version: i.version }])).toEqual(
            [...want.keys.entries()].sort(([x], [y]) => (x < y ? -1 : 1)),
          );
        } finally {
          await kv.close();
        }
      }),
      { numRuns: 40 },
    );
  });
});

describe('KvStore apply reads the metadata of keys the cache does not hold', () => {
  it('from LevelDB after a restart, for a batch of many keys and for a few', async () => {
    const dir = await tempDir();
    const keys = Array.from({ length: 12 }, (_, i) => `m${i}`);
    let kv = await KvStore.open(`${dir}/cold`, { keyCacheBytes: 0 });
    const b = new EntryBuilder();
    try {
      await kv.apply(keys.map((k) => b.put(k, 'v1')));
    } finally {
      await kv.close();
    }
    kv = await KvStore.open(`${dir}/cold`, { keyCacheBytes: 0 });
    try {
      const many = await kv.apply(keys.map((k) => b.put(k, 'v2', { ifMatch: keys.indexOf(k) + 1 })));
      expect(many.map(brief)).toEqual(keys.map((_, i) => `ok@${13 + i}`));
      const few = await kv.apply(['m0', 'm5', 'm11'].map((k) => b.put(k, 'v3', { ifMatch: 13 + keys.indexOf(k) })));
      expect(few.map(brief)).toEqual(['ok@25', 'ok@26', 'ok@27']);
      const m5 = (await kv.list('m5', 1)).items[0]!;
      expect({ value: text(m5.value), createRevision: m5.createRevision, modRevision: m5.modRevision, version: m5.version }).toEqual({ value: 'v3', createRevision: 6, modRevision: 26, version: 3 });
    } finally {
      await kv.close();
    }
  });
});
