import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Entry } from '../../../node/src/raft/index.js';
import { RaftLogStore } from '../../../node/src/storage/index.js';
import { readSegment } from '../../../node/src/storage/wal/segment-files.js';
import { useTempDirs } from './temp-dir.js';

const tempDir = useTempDirs('wal');
/** Segments of a few records each, so that a short log spans several. */
const SMALL = { segmentBytes: 4096 };

function entry(index: number, term: number, size = 300): Entry {
  return { index, term, type: 'normal', data: new Uint8Array(size).fill(index % 251) };
}

function logOf(store: RaftLogStore): Entry[] {
  const s = store.storage;
  return s.lastIndex() < s.firstIndex() ? [] : s.entries(s.firstIndex(), s.lastIndex() + 1, 0);
}

async function segmentNames(dir: string): Promise<string[]> {
  return (await readdir(join(dir, 'wal'))).filter((n) => n.endsWith('.wal')).sort();
}

async function writeEntries(store: RaftLogStore, from: number, to: number, term: number): Promise<void> {
  for (let i = from; i <= to; i++) await store.save({ entries: [entry(i, term)], hardState: { term, vote: 'v', commit: i - 1 } }, { sync: i % 4 === 0 });
}

describe('RaftLogStore write-ahead log', () => {
  it('reads a log written over many segments back whole, including a suffix replaced across a segment boundary', async () => {
    const dir = await tempDir();
    let store = await RaftLogStore.open(dir, SMALL);
    await writeEntries(store, 1, 40, 1);
    expect(store.segments().length).toBeGreaterThan(3);
    await store.save({ entries: [entry(30, 2), entry(31, 2)], hardState: { term: 2, vote: 'w', commit: 29 } });
    await store.close();
    store = await RaftLogStore.open(dir, SMALL);
    expect(logOf(store)).toEqual([...Array.from({ length: 29 }, (_, i) => entry(i + 1, 1)), entry(30, 2), entry(31, 2)]);
    expect(store.storage.hardStateNow()).toEqual({ term: 2, vote: 'w', commit: 29 });
    await store.close();
  });

  it('deletes segments whose entries are all compacted, and restarts from the state the first remaining segment starts with', async () => {
    const dir = await tempDir();
    let store = await RaftLogStore.open(dir, SMALL);
    await writeEntries(store, 1, 60, 3);
    const before = await segmentNames(dir);
    await store.createSnapshot(50, { voters: ['a', 'b'], learners: [] }, new Uint8Array([5, 0]));
    await store.compact(45);
    const after = await segmentNames(dir);
    expect(after.length).toBeLessThan(before.length - 3);
    expect(after[0]! > before[0]!).toBe(true); // the oldest went
    expect(after.at(-1)).toBe(before.at(-1));
    await store.close();

    store = await RaftLogStore.open(dir, SMALL);
    const s = store.storage;
    // The snapshot and the hard state were recorded in deleted segments: the remaining
    // segments' headers carry them.
    expect(s.snapshot().metadata).toEqual({ index: 50, term: 3, confState: { voters: ['a', 'b'], learners: [] } });
    expect(await store.readSnapshotData()).toEqual(new Uint8Array([5, 0]));
    expect(s.hardStateNow()).toEqual({ term: 3, vote: 'v', commit: 59 });
    expect(s.firstIndex()).toBe(46);
    expect(s.term(45)).toBe(3);
    expect(logOf(store)).toEqual(Array.from({ length: 15 }, (_, i) => entry(46 + i, 3)));
    await store.close();
  });

  it('deletes the segments a received snapshot replaced, and restarts from that snapshot', async () => {
    const dir = await tempDir();
    let store = await RaftLogStore.open(dir, SMALL);
    await writeEntries(store, 1, 40, 2);
    const before = await segmentNames(dir);
    expect(before.length).toBeGreaterThan(3);
    const metadata = { index: 70, term: 4, confState: { voters: ['a', 'b', 'c'], learners: [] } };
    await store.save({ snapshot: { metadata, data: new Uint8Array([7, 0, 7]) }, hardState: { term: 4, vote: '', commit: 70 } });
    expect(await segmentNames(dir)).toEqual([before.at(-1)]);
    await store.save({ entries: [entry(71, 4)], hardState: { term: 4, vote: '', commit: 70 } }, { sync: true });
    await store.close();

    store = await RaftLogStore.open(dir, SMALL);
    expect(store.storage.snapshot().metadata).toEqual(metadata);
    expect(await store.readSnapshotData()).toEqual(new Uint8Array([7, 0, 7]));
    expect(store.storage.hardStateNow()).toEqual({ term: 4, vote: '', commit: 70 });
    expect(logOf(store)).toEqual([entry(71, 4)]);
    await store.close();
  });

  it('keeps a segment while it holds an entry above the compaction point', async () => {
    const dir = await tempDir();
    const store = await RaftLogStore.open(dir, SMALL);
    await writeEntries(store, 1, 30, 1);
    const segments = store.segments().map((seg) => ({ ...seg }));
    const holding = segments.findIndex((seg) => seg.maxIndex >= 20);
    await store.createSnapshot(25, { voters: ['a'], learners: [] }, new Uint8Array());
    await store.compact(19);
    expect(store.segments()[0]!.maxIndex).toBeGreaterThanOrEqual(20);
    expect(store.segments()[0]!.seq).toBe(segments[holding]!.seq);
    await store.close();
  });

  it('loses only a torn write at the end of the log, and cuts it off before writing a newer segment', async () => {
    const dir = await tempDir();
    let store = await RaftLogStore.open(dir, SMALL);
    await writeEntries(store, 1, 5, 1);
    await store.close();
    // What a crash in the middle of a write leaves: the start of a record, without the rest.
    const last = join(dir, 'wal', (await segmentNames(dir)).at(-1)!);
    const { validBytes } = await readSegment(last);
    const torn = Buffer.alloc(40, 0x77);
    torn.writeUInt32LE(300, 0);
    const handle = await open(last, 'r+');
    await handle.write(torn, 0, torn.length, validBytes);
    await handle.close();

    store = await RaftLogStore.open(dir, SMALL);
    expect(logOf(store)).toEqual(Array.from({ length: 5 }, (_, i) => entry(i + 1, 1)));
    await writeEntries(store, 6, 8, 1);
    await store.close();
    // The torn segment is no longer the last one: had it kept the torn bytes, this open would refuse it.
    store = await RaftLogStore.open(dir, SMALL);
    expect(logOf(store)).toEqual(Array.from({ length: 8 }, (_, i) => entry(i + 1, 1)));
    await store.close();
  });

  it('refuses a record it cannot encode without failing the store: nothing was written', async () => {
    const dir = await tempDir();
    let store = await RaftLogStore.open(dir, SMALL);
    await store.save({ entries: [entry(1, 1)] });
    await expect(store.save({ entries: [entry(2, -1)] })).rejects.toThrow(/not a u64/);
    await expect(store.save({ hardState: { term: 2 ** 53, vote: '', commit: 0 } })).rejects.toThrow(/not a u64/);
    await store.save({ entries: [entry(2, 1)], hardState: { term: 1, vote: 'v', commit: 1 } });
    await store.close();
    store = await RaftLogStore.open(dir, SMALL);
    expect(logOf(store)).toEqual([entry(1, 1), entry(2, 1)]);
    expect(store.storage.hardStateNow()).toEqual({ term: 1, vote: 'v', commit: 1 });
    await store.close();
  });

  it('takes records larger than a segment', async () => {
    const dir = await tempDir();
    let store = await RaftLogStore.open(dir, SMALL);
    await store.save({ entries: [entry(1, 1, 10_000), entry(2, 1, 20)] });
    await store.save({ entries: [entry(3, 1, 20)] });
    await store.close();
    store = await RaftLogStore.open(dir, SMALL);
    expect(logOf(store)).toEqual([entry(1, 1, 10_000), entry(2, 1, 20), entry(3, 1, 20)]);
    await store.close();
  });
});
