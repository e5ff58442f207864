import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Entry } from '../../../node/src/raft/index.js';
import { DataDirError, RaftLogStore } from '../../../node/src/storage/index.js';
import { encodeRecord } from '../../../node/src/storage/wal/record-codec.js';
import { readSegment } from '../../../node/src/storage/wal/segment-files.js';
import { useTempDirs } from './temp-dir.js';

const tempDir = useTempDirs('refuse');
/** Segments of a few records each, so that a short log spans several. */
const SMALL = { segmentBytes: 4096 };

async function segmentFiles(dir: string): Promise<string[]> {
  return (await readdir(join(dir, 'wal'))).filter((n) => n.endsWith('.wal')).sort().map((n) => join(dir, 'wal', n));
}

/** A log whose entries fill at least `n` segments. */
async function storeWithSegments(dir: string, n: number): Promise<void> {
  const store = await RaftLogStore.open(dir, SMALL);
  for (let index = 1; store.segments().length < n; index++) {
    await store.save({ entries: [{ index, term: 1, type: 'normal', data: new Uint8Array(500).fill(index) }], hardState: { term: 1, vote: '', commit: index } });
  }
  await store.close();
}

function ents(from: number, to: number, term: number, size: number): Entry[] {
  return Array.from({ length: to - from + 1 }, (_, i) => ({ index: from + i, term, type: 'normal', data: new Uint8Array(size).fill(from + i) }));
}

async function refusal(p: Promise<unknown>): Promise<DataDirError> {
  const err = await p.then(
    (store) => (store as RaftLogStore).close().then(() => null),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DataDirError);
  return err as DataDirError;
}

async function storeWithSnapshot(dir: string): Promise<void> {
  const store = await RaftLogStore.open(dir);
  await store.save({ entries: [1, 2, 3].map((index) => ({ index, term: 1, type: 'normal' as const, data: new Uint8Array([index]) })) });
  await store.createSnapshot(2, { voters: ['a'], learners: [] }, new Uint8Array(1000).fill(7));
  await store.close();
}

describe('RaftLogStore refuses a damaged data dir', () => {
  it('refuses a record damaged anywhere but at the end of the log, naming the segment', async () => {
    const dir = await tempDir();
    await storeWithSegments(dir, 3);
    const [first] = await segmentFiles(dir);
    const bytes = await readFile(first!);
    bytes[(await readSegment(first!)).validBytes - 20]! ^= 0x01; // inside the first segment's last record
    await writeFile(first!, bytes);
    const err = await refusal(RaftLogStore.open(dir, SMALL));
    expect(err.code).toBe('log_corrupt');
    expect(err.message).toContain(first!);
    expect(err.message).toMatch(/fails its checksum/);
  });

  it('refuses a segment (not the last) whose records stop at zeros followed by more data, instead of skipping the rest', async () => {
    const dir = await tempDir();
    const store = await RaftLogStore.open(dir, SMALL);
    await store.save({ entries: ents(1, 10, 1, 300) });
    await store.save({ entries: ents(8, 10, 2, 50), hardState: { term: 2, vote: 'b', commit: 7 } }); // a conflicting suffix, in the same segment
    await store.save({ entries: ents(11, 12, 2, 2000) }); // does not fit: a new segment
    expect(store.segments()).toHaveLength(2);
    await store.close();
    // A lost write: the frame of the record replacing 8..10 reads back as zeros. Skipping from
    // there to the next segment would serve entries 8..10 at term 1, followed by 11 at term 2.
    const [first] = await segmentFiles(dir);
    const bytes = await readFile(first!);
    const { records, validBytes } = await readSegment(first!);
    expect(records.at(-2)).toMatchObject({ kind: 'entries', entries: [{ index: 8, term: 2 }, {}, {}] });
    const replacing = validBytes - encodeRecord(records.at(-1)!).length - encodeRecord(records.at(-2)!).length;
    bytes.fill(0, replacing, replacing + 8);
    await writeFile(first!, bytes);
    const err = await refusal(RaftLogStore.open(dir, SMALL));
    expect(err.code).toBe('log_corrupt');
    expect(err.message).toContain(first!);
    expect(err.message).toMatch(new RegExp(`records end at offset ${replacing}, but data follows at offset ${replacing + 8}`));
  });

  it('refuses a log missing a segment from the middle even when the entries after it continue the ones before it', async () => {
    const dir = await tempDir();
    const store = await RaftLogStore.open(dir, SMALL);
    await store.save({ entries: ents(1, 10, 1, 250) });
    await store.save({ entries: ents(8, 10, 2, 800) }); // a conflicting suffix, alone in the second segment
    await store.save({ entries: ents(11, 20, 2, 250) });
    expect(store.segments().map((seg) => seg.maxIndex)).toEqual([10, 10, 20]);
    await store.close();
    // Without the second segment, 1..10 at term 1 followed by 11..20 at term 2 looks whole.
    const files = await segmentFiles(dir);
    await rm(files[1]!);
    const err = await refusal(RaftLogStore.open(dir, SMALL));
    expect(err.code).toBe('log_corrupt');
    expect(err.message).toContain(`segment ${files[2]!} follows ${files[0]!}: the segments between them are missing`);
  });

  it('refuses a log whose oldest segment, holding entries not yet compacted, was lost', async () => {
    const dir = await tempDir();
    await storeWithSegments(dir, 4);
    const files = await segmentFiles(dir);
    await rm(files[0]!);
    const err = await refusal(RaftLogStore.open(dir, SMALL));
    expect(err.code).toBe('log_corrupt');
    expect(err.message).toMatch(/expected entry \d+, found entry \d+/);
  });

  it('refuses a data dir holding the Raft log of an older kuorum (LevelDB in raft/) instead of starting empty', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'raft'));
    await writeFile(join(dir, 'raft', 'CURRENT'), 'MANIFEST-000004\n');
    const err = await refusal(RaftLogStore.open(dir));
    expect(err.code).toBe('log_format');
    expect(err.message).toContain(join(dir, 'raft'));
    expect(await readdir(dir)).toEqual(['raft']); // nothing was created next to it
  });

  it('refuses a snapshot file that fails its checksum', async () => {
    const dir = await tempDir();
    await storeWithSnapshot(dir);
    const snapDir = join(dir, 'snap');
    const [file] = await readdir(snapDir);
    const buf = await readFile(join(snapDir, file!));
    buf[buf.length - 10]! ^= 0x01;
    await writeFile(join(snapDir, file!), buf);
    const err = await refusal(RaftLogStore.open(dir));
    expect(err.code).toBe('snapshot_corrupt');
    expect(err.message).toContain(join(snapDir, file!));
    expect(err.message).toMatch(/checksum mismatch/);
  });

  it('refuses a truncated or missing snapshot file', async () => {
    const dir = await tempDir();
    await storeWithSnapshot(dir);
    const snapDir = join(dir, 'snap');
    const [file] = await readdir(snapDir);
    const path = join(snapDir, file!);
    await writeFile(path, (await readFile(path)).subarray(0, 20));
    expect((await refusal(RaftLogStore.open(dir))).message).toMatch(/bad header/);
    await rm(path);
    const err = await refusal(RaftLogStore.open(dir));
    expect(err.code).toBe('snapshot_corrupt');
    expect(err.message).toMatch(/cannot be read/);
  });
});
