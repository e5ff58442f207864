/**
 * A REAL single-member node (RawNode, LevelDB, gRPC transport) answers a committed write once its
 * state batch is planned and handed to LevelDB, with the batch write held open: reads of every
 * kind after the answer still see the write, and a write that then fails stops the node.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KvStoreAdapter, openStateMachine } from '../../../node/src/kv-adapter.js';
import type { KuorumNode } from '../../../node/src/node.js';
import type { WatchEvent } from '../../../node/src/server/node-api.js';
import { RaftLogStore, openIdentity } from '../../../node/src/storage/index.js';
import { holdStateWrites, type HeldWrites } from '../kv/fixtures/held-writes.js';
import { newLoopNode } from './loop-node.js';
import { until } from './until.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array | undefined): string | undefined => (b ? new TextDecoder().decode(b) : undefined);

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function startNode(): Promise<{ node: KuorumNode; writes: HeldWrites; fatal: () => Error | undefined }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kuorum-early-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  const { identity } = await openIdentity(dir, { name: 'n1' });
  const store = await RaftLogStore.open(dir);
  const kv = (await openStateMachine(dir, { historyWindow: 100 })) as KvStoreAdapter;
  const writes = holdStateWrites(kv.store);
  let fatal: Error | undefined;
  const node = newLoopNode({
    memberId: identity.memberId,
    store,
    kv,
    snapshotThreshold: 100_000,
    onFatal: (err) => {
      fatal = err;
    },
  });
  await node.start();
  cleanup.push(async () => {
    writes.release();
    await node.stop();
  });
  await node.bootstrap();
  await until(() => node.isLeader(), 'leadership');
  await node.put('a', enc('0'), {});
  await kv.settled(); // that write has landed too
  return { node, writes, fatal: () => fatal };
}

describe('a write answered before its state batch lands', () => {
  it('is answered while the batch write is held; the applied index moves only when it lands', async () => {
    const { node, writes } = await startNode();
    const before = node.status().applied;
    writes.hold();
    const { revision } = await node.put('a', enc('1'), {});
    expect(writes.waiting()).toBe(1);
    expect(node.status().applied).toBe(before);
    writes.release();
    await until(() => node.status().applied > before, 'the write to land');
    expect(node.status().revision).toBe(revision);
  });

  it('is seen by a linearizable get, a serializable get and list, and a watch from its revision', async () => {
    const { node, writes } = await startNode();
    writes.hold();
    const { revision } = await node.put('a', enc('1'), {});
    const events: WatchEvent[] = [];
    node.watch('', revision, (e) => events.push(e));
    let settled = false;
    const serializable = node.get('a', 'serializable').finally(() => (settled = true));
    const list = node.list('', 10, 'serializable');
    const linearizable = node.get('a', 'linearizable');
    await new Promise((r) => setTimeout(r, 50));
    expect(settled).toBe(false); // waits for the write in flight
    writes.release();
    expect(dec((await serializable)?.value)).toBe('1');
    expect((await list).items.map((i) => dec(i.value))).toEqual(['1']);
    expect(dec((await linearizable)?.value)).toBe('1');
    await until(() => events.length > 0, 'the watch event');
    expect(events).toMatchObject([{ type: 'put', key: 'a', revision }]);
  });

  it('stops the node when the write fails after the answer', async () => {
    const { node, writes, fatal } = await startNode();
    writes.hold();
    await node.put('a', enc('1'), {});
    writes.fail(new Error('disk gone'));
    const err = await until(fatal, 'the node to stop');
    expect(err.message).toContain('disk gone');
    await expect(node.get('a', 'serializable')).rejects.toThrow('disk gone');
  });
});
