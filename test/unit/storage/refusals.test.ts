import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { describe, expect, it } from 'vitest';
import { DataDirError, RaftLogStore } from '../../../node/src/storage/index.js';
import { forkTs, killHard, nextMessage } from './fixtures/fork-ts.js';
import { useTempDirs } from './temp-dir.js';

const tempDir = useTempDirs('refuse');
const writer = new URL('./fixtures/log-writer.ts', import.meta.url);

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

describe('RaftLogStore refuses a damaged or busy data dir', () => {
  it('refuses a data dir locked by another running process', async () => {
    const dir = await tempDir();
    const holder = forkTs(writer, [dir, 'hold']);
    try {
      await nextMessage(holder);
      const err = await refusal(RaftLogStore.open(dir));
      expect(err.code).toBe('locked');
      expect(err.message).toContain(join(dir, 'raft'));
      expect(err.message).toMatch(/locked by another running process/);
    } finally {
      await killHard(holder);
    }
    await (await RaftLogStore.open(dir)).close(); // usable again once the holder is gone
  });

  it('refuses a corrupted LevelDB', async () => {
    const dir = await tempDir();
    await storeWithSnapshot(dir);
    const raftDir = join(dir, 'raft');
    const manifest = (await readdir(raftDir)).find((n) => n.startsWith('MANIFEST-'))!;
    await writeFile(join(raftDir, manifest), Buffer.alloc(200, 0x5a));
    const err = await refusal(RaftLogStore.open(dir));
    expect(err.code).toBe('log_corrupt');
    expect(err.message).toContain(raftDir);
    expect(err.message).toMatch(/corrupted \(Corruption: /);
  });

  it('refuses a log with a hole instead of serving it', async () => {
    const dir = await tempDir();
    await storeWithSnapshot(dir);
    const db = new ClassicLevel<Buffer, Buffer>(join(dir, 'raft'), { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    await db.del(Buffer.from([0x65, 0, 0, 0, 0, 0, 0, 0, 2])); // entry 2
    await db.close();
    const err = await refusal(RaftLogStore.open(dir));
    expect(err.code).toBe('log_corrupt');
    expect(err.message).toMatch(/expected entry 2, found entry 3/);
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
