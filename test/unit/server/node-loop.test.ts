/**
 * A slow state machine must not stop the Ready loop: a REAL single-member node (RawNode,
 * LevelDB, gRPC transport) whose state machine holds a snapshot (its sync), or an apply, open until
 * the test releases it. While a snapshot is held the node keeps committing, applying and serving
 * linearizable reads; while an apply is held it keeps persisting and committing new entries.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStateMachine } from '../../../node/src/kv-adapter.js';
import type { StateMachine } from '../../../node/src/node-ports.js';
import type { KuorumNode } from '../../../node/src/node.js';
import { RaftLogStore, openIdentity } from '../../../node/src/storage/index.js';
import { newLoopNode } from './loop-node.js';
import { until } from './until.js';


interface Held {
  kv: StateMachine;
  calls: () => number;
  /** From now on, applies of entries carrying data wait for release(). */
  holdApplies(): void;
  heldApplies: () => number;
  release: () => void;
}

/** The real state machine, except that taking a snapshot (syncing the state) and, once asked, an apply wait for `release()`. */
function holdSnapshots(kv: StateMachine): Held {
  let calls = 0;
  let heldApplies = 0;
  let holding = false;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const held: StateMachine = Object.create(kv) as StateMachine;
  held.syncState = async () => {
    calls++;
    await gate;
    return kv.syncState();
  };
  held.apply = async (items) => {
    if (holding && items.some((i) => i.entry.data.length > 0)) {
      heldApplies++;
      await gate;
    }
    return kv.apply(items);
  };
  return { kv: held, calls: () => calls, holdApplies: () => (holding = true), heldApplies: () => heldApplies, release };
}

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** The real log store, except that, once asked, a save without entries (the commit index only) waits for `release()`. */
function holdCommitSaves(store: RaftLogStore): { store: RaftLogStore; hold(): void; held: () => number; release(): void } {
  let holding = false;
  let held = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const wrapped = Object.create(store) as RaftLogStore;
  wrapped.save = async (update, opts) => {
    if (holding && (update.entries ?? []).length === 0 && !update.snapshot) {
      held++;
      await gate;
    }
    return store.save(update, opts);
  };
  return { store: wrapped, hold: () => (holding = true), held: () => held, release };
}

/** The real log store, recording how many entries each save wrote. */
function countEntrySaves(store: RaftLogStore): { store: RaftLogStore; sizes: number[] } {
  const sizes: number[] = [];
  const wrapped = Object.create(store) as RaftLogStore;
  wrapped.save = async (update, opts) => {
    if ((update.entries ?? []).length > 0) sizes.push(update.entries!.length);
    return store.save(update, opts);
  };
  return { store: wrapped, sizes };
}

async function startHeldNode(wrapStore: (s: RaftLogStore) => RaftLogStore = (s) => s): Promise<{ node: KuorumNode; held: Held }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kuorum-nodesnap-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  const { identity } = await openIdentity(dir, { name: 'n1' });
  const store = await RaftLogStore.open(dir);
  const held = holdSnapshots(await openStateMachine(dir, { historyWindow: 100 }));
  const node = newLoopNode({
    memberId: identity.memberId,
    store: wrapStore(store),
    kv: held.kv,
    snapshotThreshold: 1,
    onFatal: (err) => {
      throw err;
    },
  });
  await node.start();
  cleanup.push(async () => {
    held.release();
    await node.stop();
  });
  await node.bootstrap();
  return { node, held };
}

describe('the Ready loop while a snapshot is being taken', () => {
  it('keeps ticking, committing, applying and serving linearizable reads', async () => {
    const { node, held } = await startHeldNode();
    await until(() => node.isLeader(), 'leadership');
    // Right after bootstrap the node snapshots at once; its sync is now held open.
    await until(() => held.calls() === 1, 'the snapshot to start');
    const before = node.status();
    expect(before.snapshotIndex).toBe(0);

    for (let i = 0; i < 5; i++) await node.put(`k${i}`, new TextEncoder().encode(`v${i}`), {});
    const rec = await node.get('k4', 'linearizable');
    expect(new TextDecoder().decode(rec?.value)).toBe('v4');
    const during = node.status();
    expect(during.applied).toBeGreaterThanOrEqual(before.applied + 5);
    expect(during.snapshotIndex).toBe(0); // still the one in progress: nothing waited for it
    expect(held.calls()).toBe(1); // at most one snapshot at a time

    held.release();
    const after = await until(() => (node.status().snapshotIndex > 0 ? node.status() : undefined), 'the snapshot to be recorded');
    expect(after.snapshotIndex).toBeLessThanOrEqual(during.applied);
    expect(after.role).toBe('leader');
  });
});

describe('the Ready loop while the state machine applies slowly', () => {
  it('persists and commits new entries while an earlier apply is still running', async () => {
    const { node, held } = await startHeldNode();
    await until(() => node.isLeader(), 'leadership');
    held.holdApplies();
    const first = node.put('a', new TextEncoder().encode('1'), {});
    await until(() => held.heldApplies() === 1, 'the first apply to be held');
    const heldAt = node.status();
    const second = node.put('b', new TextEncoder().encode('2'), {});
    // The second write's entry is appended, persisted and committed although the first write's
    // apply has not finished (the core needs entries durable, not applied, to go on).
    const moved = await until(() => {
      const st = node.status();
      return st.lastIndex > heldAt.lastIndex && st.commit >= st.lastIndex ? st : undefined;
    }, 'the second entry to commit');
    expect(moved.applied).toBeLessThan(moved.commit);
    held.release();
    expect((await first).revision).toBeLessThan((await second).revision);
    const b = await node.get('b', 'linearizable');
    expect(new TextDecoder().decode(b?.value)).toBe('2');
  });
});

describe('the Ready loop applies what is already durable', () => {
  it('answers a write while the save of the Ready that only commits it is still running', async () => {
    let saves!: ReturnType<typeof holdCommitSaves>;
    const { node } = await startHeldNode((s) => (saves = holdCommitSaves(s)).store);
    cleanup.push(async () => saves.release());
    await until(() => node.isLeader(), 'leadership');
    await node.put('warm', new TextEncoder().encode('up'), {});
    saves.hold();
    // The entry is durable when the Ready that commits it arrives (an earlier save wrote it):
    // the apply, and so the answer, need not wait for the commit index to be written.
    const answer = await Promise.race([node.put('k', new TextEncoder().encode('v'), {}), new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 3000))]);
    expect(answer).not.toBe('timeout');
    expect(saves.held()).toBeGreaterThan(0);
    saves.release();
    expect(new TextDecoder().decode((await node.get('k', 'linearizable'))?.value)).toBe('v');
  });
});

describe('the Ready loop batches what arrives in one event-loop round', () => {
  it('puts one Ready (one save) around writes that came in separate callbacks of the same round', async () => {
    let saves!: ReturnType<typeof countEntrySaves>;
    const { node } = await startHeldNode((s) => (saves = countEntrySaves(s)).store);
    await until(() => node.isLeader(), 'leadership');
    await node.put('warm', new TextEncoder().encode('up'), {});
    saves.sizes.length = 0;
    // Like requests and peer messages read from several sockets in one poll: each its own callback.
    const writes = await Promise.all(
      [1, 2, 3, 4, 5].map((i) => new Promise<Promise<{ revision: number }>>((resolve) => setImmediate(() => resolve(node.put(`k${i}`, new TextEncoder().encode(`v${i}`), {}))))),
    );
    await Promise.all(writes);
    expect(saves.sizes).toEqual([5]);
  });

});
