import { ClassicLevel } from 'classic-level';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CoalescedReader } from '../../../node/src/kv/coalesced-reader.js';
import { KvStore } from '../../../node/src/kv/index.js';
import { useTempDirs } from '../storage/temp-dir.js';
import { EntryBuilder } from './kv-fixtures.js';

const tempDir = useTempDirs('coalesced');

async function openDb(): Promise<ClassicLevel<Buffer, Buffer>> {
  const db = new ClassicLevel<Buffer, Buffer>(join(await tempDir(), 'db'), { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open();
  return db;
}

describe('CoalescedReader', () => {
  it('answers a burst of gets with one getMany, each get with its own value', async () => {
    const db = await openDb();
    await db.batch([
      { type: 'put', key: Buffer.from('a'), value: Buffer.from('1') },
      { type: 'put', key: Buffer.from('b'), value: Buffer.from('2') },
    ]);
    const reader = new CoalescedReader<Buffer, Buffer>(db);
    const got = await Promise.all(['a', 'b', 'missing', 'a'].map((k) => reader.get(Buffer.from(k))));
    expect(got.map((v) => v?.toString())).toEqual(['1', '2', undefined, '1']);
    expect(reader.batchesRead).toBe(1);
    await db.close();
  });

  it('sees every write that completed before the get was asked for', async () => {
    const db = await openDb();
    const reader = new CoalescedReader<Buffer, Buffer>(db);
    for (let i = 0; i < 20; i++) {
      await db.put(Buffer.from('k'), Buffer.from(String(i)));
      expect((await reader.get(Buffer.from('k')))?.toString()).toBe(String(i));
    }
    expect(reader.batchesRead).toBe(20);
    await db.close();
  });

  it('fails every get of a batch whose read fails, and keeps serving later ones', async () => {
    let fail = true;
    const reader = new CoalescedReader<string, string>({
      getMany: (keys) => {
        if (fail) throw new Error('disk on fire');
        return Promise.resolve(keys.map((k) => k.toUpperCase()));
      },
    });
    const burst = ['x', 'y'].map((k) => reader.get(k));
    await expect(burst[0]).rejects.toThrow('disk on fire');
    await expect(burst[1]).rejects.toThrow('disk on fire');
    fail = false;
    await expect(reader.get('z')).resolves.toBe('Z');
  });
});

describe('KvStore reads', () => {
  it('coalesces concurrent gets and still returns each key its own record', async () => {
    const kv = await KvStore.open(await tempDir());
    const b = new EntryBuilder();
    await kv.apply(Array.from({ length: 50 }, (_, i) => b.put(`key${i}`, `value${i}`)));
    const records = await Promise.all(Array.from({ length: 50 }, (_, i) => kv.get(`key${i}`)));
    records.forEach((r, i) => expect(Buffer.from(r!.value).toString()).toBe(`value${i}`));
    expect(await kv.get('nope')).toBeUndefined();
    await kv.close();
  });
});
