import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KvStore, StateStoreError } from '../../../node/src/kv/index.js';
import { useTempDirs } from '../storage/temp-dir.js';
import { EntryBuilder, text } from './kv-fixtures.js';

const tempDir = useTempDirs('kv');

describe('KvStore apply and reads', () => {
  it('assigns revisions, versions and create revisions', async () => {
    const kv = await KvStore.open(await tempDir());
    const b = new EntryBuilder();
    const results = await kv.apply([b.put('a', '1'), b.put('b', '2'), b.put('a', '3'), b.empty()]);
    expect(results).toEqual([
      { index: 1, kind: 'ok', requestId: 'r1', revision: 1 },
      { index: 2, kind: 'ok', requestId: 'r2', revision: 2 },
      { index: 3, kind: 'ok', requestId: 'r3', revision: 3 },
      { index: 4, kind: 'noop', revision: 3 },
    ]);
    const a = await kv.get('a');
    expect({ ...a, value: text(a?.value) }).toEqual({ key: 'a', value: '3', createRevision: 1, modRevision: 3, version: 2 });
    expect(kv.revision).toBe(3);
    expect(kv.appliedIndex).toBe(4);
    expect(await kv.get('zzz')).toBeUndefined();
    await kv.close();
  });

  it('deletes, reports not-found for absent keys, and restarts versions after re-creation', async () => {
    const kv = await KvStore.open(await tempDir());
    const b = new EntryBuilder();
    const r = await kv.apply([b.put('k', 'v'), b.del('k'), b.del('k'), b.put('k', 'again')]);
    expect(r.map((x) => x.kind)).toEqual(['ok', 'ok', 'notFound', 'ok']);
    expect(r[1]).toMatchObject({ revision: 2 });
    expect(await kv.get('k')).toMatchObject({ createRevision: 3, modRevision: 3, version: 1 });
    expect(kv.revision).toBe(3);
    await kv.close();
  });

  it('checks If-Match and If-None-Match against the modRevision', async () => {
    const kv = await KvStore.open(await tempDir());
    const b = new EntryBuilder();
    const r = await kv.apply([
      b.put('k', 'v1', { ifNoneMatch: true }), // creates: rev 1
      b.put('k', 'v2', { ifNoneMatch: true }), // exists
      b.put('k', 'v2', { ifMatch: 7 }), // stale
      b.put('k', 'v2', { ifMatch: 1 }), // rev 2
      b.del('k', { ifMatch: 1 }), // stale
      b.del('k', { ifMatch: 2 }), // rev 3
      b.put('k', 'v3', { ifMatch: 2 }), // absent now
      b.del('k', { ifMatch: 3 }), // absent: precondition, modRevision 0
    ]);
    expect(r.map((x) => (x.kind === 'precondition' ? `412@${x.currentModRevision}` : x.kind))).toEqual(['ok', '412@1', '412@1', 'ok', '412@2', 'ok', '412@0', '412@0']);
    expect(await kv.get('k')).toBeUndefined();
    expect(kv.revision).toBe(3);
    await kv.close();
  });

  it('records an undecodable entry as a failed result, changes nothing else, and moves on', async () => {
    const kv = await KvStore.open(await tempDir());
    const b = new EntryBuilder();
    const r = await kv.apply([b.raw(new TextEncoder().encode('{"op":"put"}')), b.put('a', '1')]);
    expect(r[0]).toMatchObject({ index: 1, kind: 'invalid', message: expect.stringMatching(/cannot decode command/) });
    expect(r[1]).toMatchObject({ kind: 'ok', revision: 1 });
    expect(kv.appliedIndex).toBe(2);
    await kv.close();
  });

  it('skips entries already applied and refuses a gap without changing anything', async () => {
    const dir = await tempDir();
    const kv = await KvStore.open(dir);
    const b = new EntryBuilder();
    const first = [b.put('a', '1'), b.put('a', '2')];
    await kv.apply(first);
    const replay = await kv.apply([...first, b.put('a', '3')]);
    expect(replay.map((x) => x.kind)).toEqual(['alreadyApplied', 'alreadyApplied', 'ok']);
    expect(await kv.get('a')).toMatchObject({ version: 3, modRevision: 3 });
    b.put('skipped', 'x');
    await expect(kv.apply([b.put('b', '1')])).rejects.toThrow(/cannot apply entry 5: the next entry to apply is 4/);
    expect(kv.appliedIndex).toBe(3);
    expect(await kv.get('b')).toBeUndefined();
    await kv.close();
  });

  it('keeps state and applied index together across a restart', async () => {
    const dir = await tempDir();
    let kv = await KvStore.open(dir);
    const b = new EntryBuilder();
    await kv.apply([b.put('x', '1'), b.put('y', '2'), b.del('x')]);
    await kv.close();
    kv = await KvStore.open(dir);
    expect(kv.appliedIndex).toBe(3);
    expect(kv.revision).toBe(3);
    expect(await kv.get('x')).toBeUndefined();
    expect(text((await kv.get('y'))?.value)).toBe('2');
    // The node replays the log after a restart: entries up to the applied index are not applied again.
    const again = await kv.apply([{ index: 3, term: 1, type: 'normal', data: new Uint8Array() }, b.put('y', '3')]);
    expect(again.map((x) => x.kind)).toEqual(['alreadyApplied', 'ok']);
    expect(await kv.get('y')).toMatchObject({ version: 2, modRevision: 4 });
    await kv.close();
  });

  it('lists by prefix in key order, with a limit, a more flag and paging', async () => {
    const kv = await KvStore.open(await tempDir());
    const b = new EntryBuilder();
    await kv.apply([b.put('app/b', '2'), b.put('app/a', '1'), b.put('apple', 'x'), b.put('app/c', '3'), b.put('b', 'y'), b.put('app/\u00e9', '4')]);
    const page1 = await kv.list('app/', 2);
    expect(page1.items.map((i) => i.key)).toEqual(['app/a', 'app/b']);
    expect(page1.more).toBe(true);
    expect(page1.revision).toBe(6);
    const page2 = await kv.list('app/', 2, 'app/b');
    expect(page2.items.map((i) => [i.key, text(i.value)])).toEqual([
      ['app/c', '3'],
      ['app/\u00e9', '4'],
    ]);
    expect(page2.more).toBe(false);
    expect((await kv.list('', 100)).items.map((i) => i.key)).toEqual(['app/a', 'app/b', 'app/c', 'app/\u00e9', 'apple', 'b']);
    expect((await kv.list('nothing', 10)).items).toEqual([]);
    await expect(kv.list('', 0)).rejects.toThrow(/limit must be a positive integer/);
    await kv.close();
  });

  it('keeps the members registry and ConfState from conf changes', async () => {
    const dir = await tempDir();
    let kv = await KvStore.open(dir);
    const b = new EntryBuilder();
    await kv.apply([
      b.conf('addVoter', 'aa', { voters: ['aa'], learners: [] }, { name: 'kv-0', peerAddress: '127.0.0.1:7000' }),
      b.conf('addLearner', 'bb', { voters: ['aa'], learners: ['bb'] }, { name: 'kv-1', peerAddress: '127.0.0.1:7001' }),
      b.conf('addLearner', 'cc', { voters: ['aa'], learners: ['bb', 'cc'] }, { name: 'kv-2', peerAddress: '127.0.0.1:7002' }),
      b.conf('promote', 'bb', { voters: ['aa', 'bb'], learners: ['cc'] }),
      b.conf('remove', 'cc', { voters: ['aa', 'bb'], learners: [] }),
    ]);
    await kv.close();
    kv = await KvStore.open(dir);
    expect(kv.members()).toEqual([
      { id: 'aa', name: 'kv-0', peerAddress: '127.0.0.1:7000', role: 'voter' },
      { id: 'bb', name: 'kv-1', peerAddress: '127.0.0.1:7001', role: 'voter' },
    ]);
    expect(kv.confState).toEqual({ voters: ['aa', 'bb'], learners: [] });
    expect(kv.appliedIndex).toBe(5);
    expect(kv.revision).toBe(0); // membership does not bump the KV revision
    await kv.close();
  });

  it('refuses a corrupted state LevelDB', async () => {
    const dir = await tempDir();
    const kv = await KvStore.open(dir);
    await kv.apply([new EntryBuilder().put('a', '1')]);
    await kv.close();
    await writeFile(join(dir, 'state', 'CURRENT'), 'garbage');
    const err = await KvStore.open(dir).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StateStoreError);
    expect((err as StateStoreError).code).toBe('state_corrupt');
    expect((err as Error).message).toMatch(/state LevelDB is corrupted \(Corruption: /);
  });

  it('refuses a state store held by another open instance', async () => {
    const dir = await tempDir();
    const kv = await KvStore.open(dir);
    const err = await KvStore.open(dir).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StateStoreError);
    expect((err as StateStoreError).code).toBe('locked');
    expect((err as Error).message).toContain(`${dir}/state`);
    await kv.close();
  });
});
