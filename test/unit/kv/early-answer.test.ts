/**
 * KvStore.applyPlanned answers from planning, before the batch lands in LevelDB (real LevelDB
 * on disk, with the batch write held open): the store's state advances, and the next apply
 * plans, only when the write has landed; settled() lets a reader wait for it.
 */
import { describe, expect, it } from 'vitest';
import { KvStore, type ApplyResult, type WatchEvent } from '../../../node/src/kv/index.js';
import { useTempDirs } from '../storage/temp-dir.js';
import { holdStateWrites } from './fixtures/held-writes.js';
import { EntryBuilder, text } from './kv-fixtures.js';

const tempDir = useTempDirs('kv-early');

function revisionOf(r: ApplyResult | undefined): number {
  if (r?.kind !== 'ok') throw new Error(`expected an ok result, got ${JSON.stringify(r)}`);
  return r.revision;
}

async function openHeld(): Promise<{ kv: KvStore; writes: ReturnType<typeof holdStateWrites>; b: EntryBuilder }> {
  const kv = await KvStore.open(await tempDir());
  const b = new EntryBuilder();
  await kv.apply([b.put('a', '0')]);
  return { kv, writes: holdStateWrites(kv), b };
}

describe('KvStore.applyPlanned', () => {
  it('answers while the write is held, and advances the applied index only when it lands', async () => {
    const { kv, writes, b } = await openHeld();
    writes.hold();
    const planned = await kv.applyPlanned([b.put('a', '1'), b.put('c', '2', { ifNoneMatch: true })]);
    expect(planned.results.map((r) => r.kind)).toEqual(['ok', 'ok']);
    expect(writes.waiting()).toBe(1);
    expect(kv.appliedIndex).toBe(1);
    expect(kv.revision).toBe(1);
    expect(kv.settled()).toBeDefined();
    writes.release();
    await planned.landed;
    expect(kv.appliedIndex).toBe(3);
    expect(kv.revision).toBe(3);
    expect(kv.settled()).toBeUndefined();
    await kv.close();
  });

  it('lets a reader that awaits settled() see the answered write: get, list and a watch from its revision', async () => {
    const { kv, writes, b } = await openHeld();
    writes.hold();
    const planned = await kv.applyPlanned([b.put('a', '1')]);
    const revision = revisionOf(planned.results[0]);
    const events: WatchEvent[] = [];
    kv.watch('', revision, (e) => events.push(e));
    const read = (async () => {
      await kv.settled();
      return { got: kv.get('a'), list: await kv.list('', 10) };
    })();
    writes.release();
    const { got, list } = await read;
    expect(text(got?.value)).toBe('1');
    expect(list.items.map((i) => text(i.value))).toEqual(['1']);
    expect(events.map((e) => [e.key, e.revision])).toEqual([['a', revision]]);
    await planned.landed;
    await kv.close();
  });

  it('starts a watch from now after the answered write, even while it is still landing', async () => {
    const { kv, writes, b } = await openHeld();
    writes.hold();
    const planned = await kv.applyPlanned([b.put('a', '1')]);
    const events: WatchEvent[] = [];
    kv.watch('', 0, (e) => events.push(e));
    writes.release();
    await planned.landed;
    await (await kv.applyPlanned([b.put('a', '2')])).landed;
    expect(events.map((e) => text(e.value))).toEqual(['2']);
    await kv.close();
  });

  it('plans the next batch only after the previous write has landed (a precondition on it holds)', async () => {
    const { kv, writes, b } = await openHeld();
    writes.hold();
    const first = await kv.applyPlanned([b.put('a', '1')]);
    const second = kv.applyPlanned([b.put('a', '2', { ifMatch: revisionOf(first.results[0]) })]);
    await new Promise((r) => setTimeout(r, 20));
    expect(writes.waiting()).toBe(1); // the second is not planned yet
    writes.release();
    expect((await second).results.map((r) => r.kind)).toEqual(['ok']);
    await first.landed;
    await (await second).landed;
    expect(text(kv.get('a')?.value)).toBe('2');
    await kv.close();
  });

  it('after a failed write, rejects landed, settled() and every later apply, and keeps the applied index', async () => {
    const { kv, writes, b } = await openHeld();
    writes.hold();
    const planned = await kv.applyPlanned([b.put('a', '1')]);
    const inFlight = kv.settled();
    writes.fail(new Error('disk gone'));
    await expect(planned.landed).rejects.toThrow('disk gone');
    await expect(inFlight).rejects.toThrow('disk gone');
    await expect(kv.settled()).rejects.toThrow('disk gone');
    expect(kv.appliedIndex).toBe(1);
    await expect(kv.applyPlanned([b.put('b', '1')])).rejects.toThrow('disk gone');
    await kv.close();
  });
});
