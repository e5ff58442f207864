import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CompactedError, SnapshotOutOfDateError, UnavailableError, type Entry, type Snapshot } from '../../../node/src/raft/index.js';
import { RaftLogStore } from '../../../node/src/storage/index.js';
import { useTempDirs } from './temp-dir.js';

const tempDir = useTempDirs('log');

function ents(from: number, terms: number[]): Entry[] {
  return terms.map((term, i) => ({ term, index: from + i, type: i % 3 === 2 ? 'confChange' : 'normal', data: new Uint8Array([from + i, term, 7]) }));
}

function logOf(store: RaftLogStore): Entry[] {
  const s = store.storage;
  if (s.lastIndex() < s.firstIndex()) return [];
  return s.entries(s.firstIndex(), s.lastIndex() + 1, 0);
}

async function reopen(store: RaftLogStore, dir: string): Promise<RaftLogStore> {
  await store.close();
  return RaftLogStore.open(dir);
}

describe('RaftLogStore', () => {
  it('starts empty and round-trips hard state and entries through a restart', async () => {
    const dir = await tempDir();
    let store = await RaftLogStore.open(dir);
    expect(store.isEmpty()).toBe(true);
    await store.save({ hardState: { term: 3, vote: 'a1b2c3d4e5f60718', commit: 2 }, entries: ents(1, [1, 2, 3]) });
    expect(store.storage.lastIndex()).toBe(3);
    store = await reopen(store, dir);
    expect(store.isEmpty()).toBe(false);
    expect(store.storage.initialState().hardState).toEqual({ term: 3, vote: 'a1b2c3d4e5f60718', commit: 2 });
    expect(logOf(store)).toEqual(ents(1, [1, 2, 3]));
    await store.close();
  });

  it('truncates a conflicting suffix on disk, not only in the mirror', async () => {
    const dir = await tempDir();
    let store = await RaftLogStore.open(dir);
    await store.save({ entries: ents(1, [1, 1, 1, 1, 1]) });
    await store.save({ entries: ents(3, [2]) });
    expect(store.storage.lastIndex()).toBe(3);
    store = await reopen(store, dir);
    expect(logOf(store)).toEqual([...ents(1, [1, 1]), ...ents(3, [2])]);
    await store.close();
  });

  it('refuses a gap or non-contiguous entries without writing anything', async () => {
    const dir = await tempDir();
    let store = await RaftLogStore.open(dir);
    await store.save({ entries: ents(1, [1]) });
    await expect(store.save({ entries: ents(3, [1]), hardState: { term: 9, vote: '', commit: 0 } })).rejects.toThrow(UnavailableError);
    const broken = [...ents(2, [1]), ...ents(4, [1])];
    await expect(store.save({ entries: broken })).rejects.toThrow(/not contiguous/);
    store = await reopen(store, dir);
    expect(store.storage.lastIndex()).toBe(1);
    expect(store.storage.hardStateNow().term).toBe(0);
    await store.close();
  });

  it('creates a snapshot, compacts keeping a tail, and recovers both after a restart', async () => {
    const dir = await tempDir();
    let store = await RaftLogStore.open(dir);
    await store.save({ entries: ents(1, [1, 1, 2, 2, 2, 3, 3, 3]), hardState: { term: 3, vote: '', commit: 8 } });
    const data = new Uint8Array([1, 2, 3, 4]);
    await store.createSnapshot(6, { voters: ['a', 'b'], learners: ['c'] }, data);
    await store.compact(4); // keep entries 5..8 for slow followers
    expect(store.storage.firstIndex()).toBe(5);
    await expect(store.compact(7)).rejects.toThrow(/latest snapshot is at 6/);
    store = await reopen(store, dir);
    const s = store.storage;
    expect(s.firstIndex()).toBe(5);
    expect(s.lastIndex()).toBe(8);
    expect(s.term(4)).toBe(2);
    expect(() => s.term(3)).toThrow(CompactedError);
    expect(s.snapshot().metadata).toEqual({ index: 6, term: 3, confState: { voters: ['a', 'b'], learners: ['c'] } });
    expect(s.snapshot().data).toEqual(new Uint8Array()); // the mirror holds metadata only
    expect(await store.readSnapshotData()).toEqual(data);
    expect(s.initialState().confState).toEqual({ voters: ['a', 'b'], learners: ['c'] });
    expect(logOf(store)).toEqual(ents(1, [1, 1, 2, 2, 2, 3, 3, 3]).slice(4));
    // A newer snapshot replaces the older file.
    await store.createSnapshot(8, { voters: ['a'], learners: [] }, new Uint8Array([5]));
    await store.compact(8);
    expect(await readdir(join(dir, 'snap'))).toHaveLength(1);
    store = await reopen(store, dir);
    expect(store.storage.firstIndex()).toBe(9);
    expect(store.storage.term(8)).toBe(3);
    expect(await store.readSnapshotData()).toEqual(new Uint8Array([5]));
    await store.close();
  });

  it('refuses snapshots that are not newer than the current one', async () => {
    const dir = await tempDir();
    const store = await RaftLogStore.open(dir);
    await store.save({ entries: ents(1, [1, 1, 1]) });
    await store.createSnapshot(2, { voters: ['a'], learners: [] }, new Uint8Array());
    await expect(store.createSnapshot(2, { voters: ['a'], learners: [] }, new Uint8Array())).rejects.toThrow(SnapshotOutOfDateError);
    const old: Snapshot = { metadata: { index: 1, term: 1, confState: { voters: [], learners: [] } }, data: new Uint8Array() };
    await expect(store.save({ snapshot: old })).rejects.toThrow(SnapshotOutOfDateError);
    await store.close();
  });

  it('lets a received snapshot replace the whole log, with entries after it in the same save', async () => {
    const dir = await tempDir();
    let store = await RaftLogStore.open(dir);
    await store.save({ entries: ents(1, [1, 1, 1, 1]) });
    const snap: Snapshot = { metadata: { index: 10, term: 4, confState: { voters: ['x'], learners: [] } }, data: new Uint8Array([42]) };
    await store.save({ snapshot: snap, entries: ents(11, [4, 5]), hardState: { term: 5, vote: 'x', commit: 10 } });
    store = await reopen(store, dir);
    const s = store.storage;
    expect(s.firstIndex()).toBe(11);
    expect(s.lastIndex()).toBe(12);
    expect(s.term(10)).toBe(4);
    expect(s.snapshot()).toEqual({ metadata: snap.metadata, data: new Uint8Array() });
    expect(await store.readSnapshotData()).toEqual(snap.data);
    expect(logOf(store)).toEqual(ents(11, [4, 5]));
    expect(s.hardStateNow()).toEqual({ term: 5, vote: 'x', commit: 10 });
    await store.close();
  });

  it('persists a bootstrap snapshot at index 0 (a configuration without entries)', async () => {
    const dir = await tempDir();
    let store = await RaftLogStore.open(dir);
    const boot: Snapshot = { metadata: { index: 0, term: 0, confState: { voters: ['aa'], learners: [] } }, data: new Uint8Array([1, 2]) };
    await store.save({ snapshot: boot });
    store = await reopen(store, dir);
    expect(store.isEmpty()).toBe(false);
    expect(store.storage.snapshot().metadata).toEqual(boot.metadata);
    expect(await store.readSnapshotData()).toEqual(boot.data);
    expect(store.storage.initialState().confState).toEqual({ voters: ['aa'], learners: [] });
    await store.save({ entries: ents(1, [1, 1]), hardState: { term: 1, vote: 'aa', commit: 2 } });
    await store.createSnapshot(2, { voters: ['aa'], learners: [] }, new Uint8Array([3]));
    await store.compact(2);
    store = await reopen(store, dir);
    expect(store.storage.snapshot().metadata.index).toBe(2);
    expect(await readdir(join(dir, 'snap'))).toHaveLength(1);
    await store.close();
  });

  it('ignores entries already covered by the snapshot', async () => {
    const dir = await tempDir();
    let store = await RaftLogStore.open(dir);
    await store.save({ snapshot: { metadata: { index: 5, term: 2, confState: { voters: ['x'], learners: [] } }, data: new Uint8Array() } });
    await store.save({ entries: ents(4, [2, 2, 3]) });
    store = await reopen(store, dir);
    expect(logOf(store)).toEqual(ents(4, [2, 2, 3]).slice(2));
    await store.close();
  });

  it('serializes concurrent saves in call order', async () => {
    const dir = await tempDir();
    let store = await RaftLogStore.open(dir);
    const writes = [];
    for (let i = 1; i <= 50; i++) writes.push(store.save({ entries: ents(i, [1]), hardState: { term: 1, vote: '', commit: i - 1 } }, { sync: i % 10 === 0 }));
    await Promise.all(writes);
    store = await reopen(store, dir);
    expect(store.storage.lastIndex()).toBe(50);
    expect(store.storage.hardStateNow().commit).toBe(49);
    await store.close();
  });

  it('keeps snapshot data on disk only: the mirror holds metadata, the data is written in parts and read back in chunks', async () => {
    const dir = await tempDir();
    let store = await RaftLogStore.open(dir);
    await store.save({ entries: ents(1, [1, 1, 2, 2]), hardState: { term: 2, vote: '', commit: 4 } });
    const parts = [new Uint8Array(3000).fill(1), new Uint8Array(5).fill(2), new Uint8Array(2500).fill(3)];
    const whole = new Uint8Array([...parts[0]!, ...parts[1]!, ...parts[2]!]);
    await store.createSnapshot(3, { voters: ['a'], learners: [] }, parts);
    expect(store.storage.snapshot()).toEqual({ metadata: { index: 3, term: 2, confState: { voters: ['a'], learners: [] } }, data: new Uint8Array() });
    expect(await store.readSnapshotData()).toEqual(whole);
    const reader = await store.openSnapshotData({ index: 3, term: 2 });
    expect(reader.length).toBe(whole.length);
    const chunks: Uint8Array[] = [];
    for await (const c of reader.chunks(1024)) chunks.push(c);
    expect(chunks.map((c) => c.length)).toEqual([1024, 1024, 1024, 1024, 1024, 385]);
    expect(new Uint8Array(Buffer.concat(chunks))).toEqual(whole);
    // Only the current snapshot can be read.
    await expect(store.openSnapshotData({ index: 2, term: 1 })).rejects.toThrow(/no snapshot at index 2 term 1/);
    // A reader opened before a newer snapshot pruned the file still reads it whole.
    const early = await store.openSnapshotData({ index: 3, term: 2 });
    await store.createSnapshot(4, { voters: ['a'], learners: [] }, [new Uint8Array([9])]);
    let n = 0;
    for await (const c of early.chunks(4096)) n += c.length;
    expect(n).toBe(whole.length);
    store = await reopen(store, dir);
    expect(store.storage.snapshot().data).toEqual(new Uint8Array());
    expect(await store.readSnapshotData()).toEqual(new Uint8Array([9]));
    await store.close();
  });

  it('refuses to hand out a damaged snapshot file: the chunked reader withholds the last chunk and throws, open() refuses it', async () => {
    const dir = await tempDir();
    const store = await RaftLogStore.open(dir);
    await store.save({ entries: ents(1, [1, 1, 1]), hardState: { term: 1, vote: '', commit: 3 } });
    await store.createSnapshot(3, { voters: ['a'], learners: [] }, [new Uint8Array(10_000).fill(7)]);
    const [file] = await readdir(join(dir, 'snap'));
    const path = join(dir, 'snap', file!);
    const bytes = await readFile(path);
    bytes[bytes.length - 100]! ^= 0xff; // one flipped byte in the data, header intact
    await writeFile(path, bytes);
    const reader = await store.openSnapshotData({ index: 3, term: 1 });
    const got: number[] = [];
    await expect(
      (async () => {
        for await (const c of reader.chunks(4096)) got.push(c.length);
      })(),
    ).rejects.toThrow(/snapshot file is corrupted: checksum mismatch/);
    expect(got).toEqual([4096, 4096]); // the last chunk, which would complete the data, never came out
    await expect(store.readSnapshotData()).rejects.toThrow(/checksum mismatch/);
    await store.close();
    await expect(RaftLogStore.open(dir)).rejects.toThrow(/snapshot file is corrupted: checksum mismatch/);
  });
});
