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
import { createLogger } from '../../../node/src/logger.js';
import { NodeMetrics } from '../../../node/src/metrics.js';
import { KuorumNode } from '../../../node/src/node.js';
import type { WatchEvent } from '../../../node/src/server/node-api.js';
import { RaftLogStore, openIdentity, randomId64 } from '../../../node/src/storage/index.js';
import { PeerTransportAdapter } from '../../../node/src/transport-adapter.js';
import { holdStateWrites, type HeldWrites } from '../kv/fixtures/held-writes.js';
import { until } from './until.js';

const quiet = createLogger('silent');
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
  const kv = (await openStateMachine(dir, 100)) as KvStoreAdapter;
  const writes = holdStateWrites(kv.store);
  let fatal: Error | undefined;
  const transport = new PeerTransportAdapter({ selfId: identity.memberId, clusterId: '', logger: quiet }, '127.0.0.1:0');
  const node = new KuorumNode(
    { name: 'n1', advertisePeer: '127.0.0.1:1', tickMs: 10, electionTick: 10, heartbeatTick: 1, electionTimeoutMs: 100, snapshotThreshold: 100_000, snapshotCatchupEntries: 0, proposalTimeoutMs: 3000, promoteMaxLag: 1000 },
    {
      memberId: identity.memberId,
      clusterId: null,
      store,
      kv,
      transport,
      metrics: new NodeMetrics({ processMetrics: false }),
      log: quiet,
      recordClusterId: async () => undefined,
      removed: false,
      recordRemoved: async () => undefined,
      newClusterId: randomId64,
      onFatal: (err) => {
        fatal = err;
      },
    },
  );
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
