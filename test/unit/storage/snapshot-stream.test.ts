import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EntryBuilder } from '../kv/kv-fixtures.js';
import { KvStore } from '../../../node/src/kv/index.js';
import { readSnapshotFile, writeSnapshotFile } from '../../../node/src/storage/snapshot-files.js';
import { useTempDirs } from './temp-dir.js';

const tempDir = useTempDirs('snapstream');

describe('snapshot files written from a stream of parts', () => {
  it('writes parts as they are made, byte for byte the file the whole data gives', async () => {
    const parts = [new Uint8Array(70_000).fill(1), new Uint8Array(3).fill(2), new Uint8Array(1 << 20).fill(3)];
    let made = 0;
    let madeWhenWritten = -1;
    const stream = async function* (): AsyncGenerator<Uint8Array> {
      for (const p of parts) {
        made++;
        yield p;
      }
      madeWhenWritten = made;
    };
    const [a, b] = [await tempDir(), await tempDir()];
    const streamed = await writeSnapshotFile(a, 7, 2, stream());
    const whole = await writeSnapshotFile(b, 7, 2, Buffer.concat(parts));
    expect(madeWhenWritten).toBe(3);
    expect(streamed).toEqual(whole);
    expect((await readFile(join(a, streamed.file))).equals(await readFile(join(b, whole.file)))).toBe(true);
    expect(Buffer.from(await readSnapshotFile(a, streamed)).equals(Buffer.concat(parts))).toBe(true);
  });
});

describe('KvStore.streamSnapshot', () => {
  it('hands the encoding over part by part and releases the state even when the parts are not read', async () => {
    const source = await KvStore.open(await tempDir());
    const b = new EntryBuilder();
    await source.apply(Array.from({ length: 3000 }, (_, i) => b.put(`k${String(i).padStart(5, '0')}`, 'v'.repeat(1000))));
    let seen = 0;
    const streamed = await source.streamSnapshot(async ({ index, parts }) => {
      const out: Uint8Array[] = [];
      for await (const p of parts) {
        seen++;
        out.push(p);
      }
      return { index, data: Buffer.concat(out) };
    });
    expect(seen).toBeGreaterThanOrEqual(3);
    expect(streamed.data.equals(Buffer.from(await source.snapshotData()))).toBe(true);
    // A writer that gives up before reading: the capture is released, and the store goes on.
    await expect(source.streamSnapshot(async () => Promise.reject(new Error('disk full')))).rejects.toThrow('disk full');
    await source.apply([b.put('after', '1')]);
    expect((await source.captureSnapshot()).index).toBe(3001);
    await source.close();
  });
});
