/**
 * A leader's snapshot is its state as of sending: the core's 'snap' message carries metadata
 * only, and the transport streams the REAL state machine's state (LevelDB), encoded as it is
 * sent, over REAL gRPC; its length is known only at the end. The follower's state machine
 * restored from it equals the leader's, which may be ahead of the snapshot the message names.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { openStateMachine } from '../../../node/src/kv-adapter.js';
import type { StateMachine } from '../../../node/src/node-ports.js';
import type { Message } from '../../../node/src/raft/types.js';
import { stateSnapshotSource } from '../../../node/src/state-snapshot-source.js';
import { EntryBuilder } from '../kv/kv-fixtures.js';
import { useTempDirs } from '../storage/temp-dir.js';
import { startNode, waitFor } from './helpers.js';

const MiB = 1024 * 1024;
const tempDir = useTempDirs('snap-state');
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function stateMachine(): Promise<StateMachine> {
  const kv = await openStateMachine(await tempDir(), { historyWindow: 100 });
  cleanup.push(() => kv.close());
  return kv;
}

function snapMessage(index: number): Message {
  const metadata = { index, term: 1, confState: { voters: ['a', 'b'], learners: [] } };
  return { type: 'snap', from: 'a', to: 'b', term: 1, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0, snapshot: { metadata, data: new Uint8Array() } };
}

describe('snapshot sent from the state machine', () => {
  it('streams the current state, several MiB, which the follower restores to an equal state', async () => {
    const leaderKv = await stateMachine();
    const b = new EntryBuilder();
    const value = 'x'.repeat(1000);
    const entries = Array.from({ length: 5000 }, (_, i) => b.put(`key/${i}`, `${i}:${value}`));
    await (await leaderKv.apply(entries.map((entry) => ({ entry })))).landed;

    const a = await startNode('a', { snapshotChunkBytes: MiB, snapshotData: () => stateSnapshotSource(leaderKv) });
    const f = await startNode('b', { maxMessageBytes: 2 * MiB, maxBatchBytes: MiB, snapshotChunkBytes: MiB });
    cleanup.push(() => a.transport.stop(), () => f.transport.stop());
    a.transport.addPeer('b', f.address);
    a.transport.send([snapMessage(4000)]); // the Raft snapshot is at 4000, the state at 5000
    await waitFor('snapshot status', () => a.snapshotStatus.length === 1);
    expect(a.snapshotStatus).toEqual([['b', true]]);
    const got = f.received[0]!.snapshot!;
    expect(got.metadata.index).toBe(4000);
    expect(got.data.length).toBeGreaterThan(4 * MiB);

    const followerKv = await stateMachine();
    await followerKv.restore(got.data, got.metadata.index);
    expect(followerKv.appliedIndex()).toBe(5000);
    expect(followerKv.get('key/4999')).toEqual(leaderKv.get('key/4999'));
    expect((await followerKv.list('key/', 10_000)).items).toEqual((await leaderKv.list('key/', 10_000)).items);
  });

  it('holds the state as of the transfer start: later applies are not in it', async () => {
    const kv = await stateMachine();
    const b = new EntryBuilder();
    await (await kv.apply([{ entry: b.put('a', '1') }])).landed;
    const source = await stateSnapshotSource(kv);
    await (await kv.apply([{ entry: b.put('a', '2') }])).landed;
    const parts: Uint8Array[] = [];
    for await (const p of source.chunks(MiB)) parts.push(p);
    await source.close();
    expect(source.length).toBeUndefined();
    const copy = await stateMachine();
    await copy.restore(Buffer.concat(parts), 1);
    expect(copy.appliedIndex()).toBe(1);
    expect(new TextDecoder().decode(copy.get('a')!.value)).toBe('1');
  });
});
