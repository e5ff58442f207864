import { describe, expect, it } from 'vitest';
import { CompactedRevisionError, KvStore, type KvStore as Store } from '../../../node/src/kv/index.js';
import { SNAPSHOT_PART_BYTES, joinParts } from '../../../node/src/kv/snapshot-codec.js';
import { useTempDirs } from '../storage/temp-dir.js';
import { EntryBuilder, text } from './kv-fixtures.js';

const tempDir = useTempDirs('kvsnap');

async function dump(kv: Store): Promise<unknown> {
  return { list: await kv.list('', 1000), members: kv.members(), confState: kv.confState, revision: kv.revision, applied: kv.appliedIndex };
}

describe('KvStore snapshot and restore', () => {
  it('restores an equivalent state that then evolves identically', async () => {
    const source = await KvStore.open(await tempDir());
    const b = new EntryBuilder();
    await source.apply([
      b.conf('addVoter', 'aa', { voters: ['aa'], learners: [] }, { name: 'kv-0', peerAddress: '127.0.0.1:7000' }),
      b.put('a', '1'),
      b.put('b', ''),
      b.put('a', '2'),
      b.del('b'),
      b.put('c/\u2603', 'snow'),
      b.conf('addLearner', 'bb', { voters: ['aa'], learners: ['bb'] }, { name: 'kv-1', peerAddress: '127.0.0.1:7001' }),
    ]);
    const { index, confState, parts } = await source.captureSnapshot();
    const data = joinParts(parts);
    expect(index).toBe(7);
    expect(confState).toEqual({ voters: ['aa'], learners: ['bb'] });
    expect(await source.snapshotData()).toEqual(data);

    const dir = await tempDir();
    let target = await KvStore.open(dir);
    await target.apply([new EntryBuilder().put('stale', 'junk'), new EntryBuilder(1).put('a', 'other')]);
    await target.restore(data, source.appliedIndex);
    expect(await dump(target)).toEqual(await dump(source));

    await target.close();
    target = await KvStore.open(dir);
    expect(await dump(target)).toEqual(await dump(source));

    const more = [b.put('a', '3', { ifMatch: 4 }), b.del('zzz'), b.put('d', '4')];
    expect(await target.apply(more)).toEqual(await source.apply(more));
    expect(await dump(target)).toEqual(await dump(source));
    await source.close();
    await target.close();
  });

  it('restores data taken after the index it is restored at; the entries in between are then skipped as applied', async () => {
    const source = await KvStore.open(await tempDir());
    const b = new EntryBuilder();
    const [e1, e2, e3] = [b.put('a', '1'), b.put('b', '1'), b.put('a', '2')];
    await source.apply([e1!, e2!, e3!]);
    const target = await KvStore.open(await tempDir());
    await target.restore(await source.snapshotData(), 1); // a Raft snapshot at 1, the leader's state at 3
    expect(target.appliedIndex).toBe(3);
    const e4 = b.put('a', '3', { ifMatch: 3 });
    const [r2, r3, r4] = await target.apply([e2!, e3!, e4]);
    expect([r2, r3]).toEqual([{ index: 2, kind: 'alreadyApplied' }, { index: 3, kind: 'alreadyApplied' }]);
    expect([r4]).toEqual(await source.apply([e4]));
    expect(await dump(target)).toEqual(await dump(source));
    await source.close();
    await target.close();
  });

  it('syncState covers every apply handed to it before, with the ConfState they reached', async () => {
    const kv = await KvStore.open(await tempDir());
    const b = new EntryBuilder();
    const applying = kv.apply([b.put('a', '1'), b.conf('addVoter', 'aa', { voters: ['aa'], learners: [] }, { name: 'kv-0', peerAddress: '127.0.0.1:7000' })]);
    expect(await kv.syncState()).toEqual({ index: 2, confState: { voters: ['aa'], learners: [] } });
    await applying;
    await kv.close();
  });

  it('counts history before the snapshot as compacted and ends running watchers', async () => {
    const source = await KvStore.open(await tempDir());
    const b = new EntryBuilder();
    await source.apply([b.put('a', '1'), b.put('a', '2')]);
    const target = await KvStore.open(await tempDir());
    await target.apply([new EntryBuilder().put('x', '1')]);
    const errors: Error[] = [];
    target.watch('', 1, () => undefined, { onError: (e) => errors.push(e) });
    await target.restore(await source.snapshotData(), 2);
    expect(errors[0]).toBeInstanceOf(CompactedRevisionError);
    expect(() => target.watch('', 2, () => undefined)).toThrow(CompactedRevisionError);
    const seen: number[] = [];
    target.watch('', 3, (e) => seen.push(e.revision));
    await target.apply([new EntryBuilder(2).put('a', '3')]);
    expect(seen).toEqual([3]);
    await source.close();
    await target.close();
  });

  it('rejects damaged snapshot data and a mismatched index without touching the state', async () => {
    const kv = await KvStore.open(await tempDir());
    await kv.apply([new EntryBuilder().put('a', '1')]);
    const data = await kv.snapshotData();
    const flipped = new Uint8Array(data);
    flipped[10]! ^= 0x40;
    await expect(kv.restore(flipped, 1)).rejects.toThrow(/invalid state snapshot: checksum mismatch/);
    await expect(kv.restore(data.subarray(0, 5), 1)).rejects.toThrow(/invalid state snapshot: too short/);
    await expect(kv.restore(data, 9)).rejects.toThrow(/taken at index 1, before 9/);
    await kv.apply([new EntryBuilder(1).put('b', '2')]);
    await expect(kv.restore(data, 1)).rejects.toThrow(/already applied up to 2/);
    expect(await kv.get('a')).toMatchObject({ modRevision: 1 });
    expect(await kv.get('b')).toMatchObject({ modRevision: 2 });
    await kv.close();
  });
});

describe('KvStore snapshot capture', () => {
  it('holds the state at the capture even when applies queued after it finish before the keys are read', async () => {
    const dir = await tempDir();
    const source = await KvStore.open(dir);
    const b = new EntryBuilder();
    await source.apply([b.put('a', '1'), b.put('b', '1')]);
    const pending = source.captureSnapshot();
    // Queued behind the capture only, not behind the encoding of the keys.
    await source.apply([b.put('a', '2'), b.del('b'), b.put('c', '1')]);
    const snap = await pending;
    expect(snap.index).toBe(2);
    const target = await KvStore.open(await tempDir());
    await target.restore(joinParts(snap.parts), snap.index);
    expect((await target.list('', 10)).items.map((i) => [i.key, text(i.value)])).toEqual([
      ['a', '1'],
      ['b', '1'],
    ]);
    expect(target.revision).toBe(2);
    await source.close();
    await target.close();
  });

  it('encodes a large state in parts of about 1 MiB that decode, joined, to the same state', async () => {
    const source = await KvStore.open(await tempDir());
    const b = new EntryBuilder();
    const value = 'v'.repeat(1000);
    await source.apply(Array.from({ length: 3000 }, (_, i) => b.put(`k${String(i).padStart(5, '0')}`, value)));
    const { index, parts } = await source.captureSnapshot();
    expect(parts.length).toBeGreaterThanOrEqual(3);
    for (const p of parts) expect(p.length).toBeLessThanOrEqual(SNAPSHOT_PART_BYTES + 1100);
    const target = await KvStore.open(await tempDir());
    await target.restore(joinParts(parts), index);
    expect(await dump(target)).toEqual(await dump(source));
    await source.close();
    await target.close();
  });
});

