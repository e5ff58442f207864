import { describe, expect, it } from 'vitest';
import { CompactedRevisionError, KvStore, type WatchEvent } from '../../../node/src/kv/index.js';
import { useTempDirs } from '../storage/temp-dir.js';
import { EntryBuilder, text } from './kv-fixtures.js';

const tempDir = useTempDirs('watch');

const brief = (e: WatchEvent): string => `${e.revision}:${e.type}:${e.key}${e.type === 'put' ? `=${text(e.value)}` : ''}`;

describe('KvStore watch', () => {
  it('replays history from a revision, then streams live events, filtered by prefix', async () => {
    const kv = await KvStore.open(await tempDir());
    const b = new EntryBuilder();
    await kv.apply([b.put('a/1', 'x'), b.put('b/1', 'y'), b.put('a/2', 'z'), b.del('a/1')]);
    const seen: string[] = [];
    const w = kv.watch('a/', 2, (e) => seen.push(brief(e)));
    // Applied while the replay may still be running: must come after it, once, in order.
    const live = kv.apply([b.put('a/3', 'w'), b.put('b/2', 'v')]);
    await w.ready;
    await live;
    await kv.apply([b.put('a/2', 'zz')]);
    expect(seen).toEqual(['3:put:a/2=z', '4:delete:a/1', '5:put:a/3=w', '7:put:a/2=zz']);
    w.cancel();
    await kv.apply([b.put('a/4', 'after cancel')]);
    expect(seen).toHaveLength(4);
    await kv.close();
  });

  it('carries createRevision and version on put events', async () => {
    const kv = await KvStore.open(await tempDir());
    const b = new EntryBuilder();
    const events: WatchEvent[] = [];
    kv.watch('', undefined, (e) => events.push(e));
    await kv.apply([b.put('k', '1'), b.put('k', '2')]);
    expect(events.map((e) => [e.revision, e.createRevision, e.version])).toEqual([
      [1, 1, 1],
      [2, 1, 2],
    ]);
    await kv.close();
  });

  it('starts from now when no revision is given, and waits for a future revision', async () => {
    const kv = await KvStore.open(await tempDir());
    const b = new EntryBuilder();
    await kv.apply([b.put('k', 'old')]);
    const now: string[] = [];
    const future: string[] = [];
    kv.watch('', undefined, (e) => now.push(brief(e)));
    kv.watch('', 3, (e) => future.push(brief(e)));
    await kv.apply([b.put('k', 'new'), b.put('k', 'newer')]);
    expect(now).toEqual(['2:put:k=new', '3:put:k=newer']);
    expect(future).toEqual(['3:put:k=newer']);
    await kv.close();
  });

  it('keeps a window of history and throws CompactedRevisionError before it', async () => {
    const dir = await tempDir();
    let kv = await KvStore.open(dir, { historyWindow: 5 });
    const b = new EntryBuilder();
    await kv.apply(Array.from({ length: 12 }, (_, i) => b.put(`k${i}`, String(i))));
    expect(kv.compactRevision).toBe(7);
    let err: unknown;
    try {
      kv.watch('', 7, () => undefined);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CompactedRevisionError);
    expect(err).toMatchObject({ code: 'compacted', requestedRevision: 7, oldestRevision: 8 });
    // The retained history survives a restart.
    await kv.close();
    kv = await KvStore.open(dir, { historyWindow: 5 });
    const seen: number[] = [];
    const w = kv.watch('', 8, (e) => seen.push(e.revision));
    await w.ready;
    expect(seen).toEqual([8, 9, 10, 11, 12]);
    await kv.close();
  });

  it('ends a watcher whose listener throws, reporting the error', async () => {
    const kv = await KvStore.open(await tempDir());
    const b = new EntryBuilder();
    const errors: Error[] = [];
    let calls = 0;
    kv.watch(
      '',
      undefined,
      () => {
        calls++;
        throw new Error('listener broke');
      },
      { onError: (e) => errors.push(e) },
    );
    await kv.apply([b.put('a', '1'), b.put('b', '2')]);
    expect(calls).toBe(1);
    expect(errors.map((e) => e.message)).toEqual(['listener broke']);
    await kv.close();
  });
});
