import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { describe, expect, it } from 'vitest';
import { writeBatch } from '../../../node/src/level-batch.js';
import { useTempDirs } from './temp-dir.js';

const tempDir = useTempDirs('batch');
const b = (s: string): Buffer => Buffer.from(s);

async function openDb(): Promise<ClassicLevel<Buffer, Buffer>> {
  const db = new ClassicLevel<Buffer, Buffer>(join(await tempDir(), 'db'), { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open(); // a chained batch needs an open database (the stores open theirs first)
  return db;
}

describe('writeBatch (chained LevelDB batch)', () => {
  it('writes puts and deletes atomically and returns what fill returned', async () => {
    const db = await openDb();
    await db.put(b('old'), b('x'));
    const out = await writeBatch(
      db,
      async (batch) => {
        batch.put(b('a'), b('1'));
        await Promise.resolve();
        batch.del(b('old'));
        return 42;
      },
      { sync: true },
    );
    expect(out).toBe(42);
    expect((await db.get(b('a')))?.toString()).toBe('1');
    expect(await db.get(b('old'))).toBeUndefined();
    await db.close();
  });

  it('writes nothing when fill throws, and rethrows its error as it is', async () => {
    const db = await openDb();
    const boom = new Error('boom');
    const wrap = (err: unknown): Error => new Error('wrapped', { cause: err });
    await expect(
      writeBatch(
        db,
        (batch) => {
          batch.put(b('a'), b('1'));
          throw boom;
        },
        { sync: false, onWriteError: wrap },
      ),
    ).rejects.toBe(boom);
    expect(await db.get(b('a'))).toBeUndefined();
    await db.close();
  });
});
