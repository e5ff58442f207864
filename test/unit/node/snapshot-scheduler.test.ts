/**
 * The SnapshotScheduler over a REAL Raft log (LevelDB) and a real state machine (LevelDB): taking
 * a snapshot syncs the state and records it without encoding it; the log is compacted behind it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeCommand } from '../../../node/src/kv/index.js';
import { openStateMachine } from '../../../node/src/kv-adapter.js';
import type { JsonLogger } from '../../../node/src/logger.js';
import type { StateMachine } from '../../../node/src/node-ports.js';
import type { Entry } from '../../../node/src/raft/index.js';
import { SnapshotScheduler } from '../../../node/src/snapshot-scheduler.js';
import { RaftLogStore } from '../../../node/src/storage/index.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

const quietLog = { info: () => undefined, warn: () => undefined } as unknown as JsonLogger;

function putEntry(index: number): Entry {
  return { term: 1, index, type: 'normal', data: encodeCommand({ op: 'put', requestId: `r${index}`, key: `k${index}`, value: new TextEncoder().encode(`v${index}`) }) };
}

/** A real Raft log and state machine in a fresh data dir, with `n` put entries saved, committed and applied. */
async function applied(n: number): Promise<{ store: RaftLogStore; kv: StateMachine }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kuorum-sched-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  const store = await RaftLogStore.open(dir);
  const kv = await openStateMachine(dir, { historyWindow: 100 });
  cleanup.push(async () => {
    await kv.close();
    await store.close();
  });
  const entries = Array.from({ length: n }, (_, i) => putEntry(i + 1));
  await store.save({ entries, hardState: { term: 1, vote: '', commit: n } }, { sync: true });
  await (await kv.apply(entries.map((entry) => ({ entry })))).landed;
  return { store, kv };
}

describe('SnapshotScheduler', () => {
  it('records the synced state as the snapshot without encoding it, and compacts the log behind it', async () => {
    const { store, kv } = await applied(20);
    let encoded = 0;
    const watched = Object.create(kv) as StateMachine;
    watched.captureSnapshot = (write) => {
      encoded++;
      return kv.captureSnapshot(write);
    };
    // Not a member: not the snapshot right after a bootstrap, which compacts the whole log.
    const scheduler = new SnapshotScheduler({ kv: watched, store, log: quietLog, settings: { snapshotThreshold: 10, snapshotCatchupEntries: 5 }, isMember: () => false, coreHandedOut: () => 20 });
    scheduler.maybeStart();
    await scheduler.idle();

    expect(scheduler.lastIndex).toBe(20);
    expect(store.storage.snapshot().metadata).toMatchObject({ index: 20, term: 1 });
    expect(store.storage.firstIndex()).toBe(16); // 5 entries kept behind it for slow followers
    expect(encoded).toBe(0);
    expect((await store.readSnapshotData()).length).toBe(0); // the state machine holds the data
  });

  it('waits while the state machine is ahead of what the core handed out: compacting would lose entries the core still needs', async () => {
    const { store, kv } = await applied(20);
    // E.g. restarted: the state is at 20, the core hands the entries after its snapshot out again.
    let handedOut = 12;
    const scheduler = new SnapshotScheduler({ kv, store, log: quietLog, settings: { snapshotThreshold: 10, snapshotCatchupEntries: 0 }, isMember: () => false, coreHandedOut: () => handedOut });
    scheduler.maybeStart();
    await scheduler.idle();
    expect(scheduler.lastIndex).toBe(0);
    expect(store.storage.firstIndex()).toBe(1);

    handedOut = 20;
    scheduler.maybeStart();
    await scheduler.idle();
    expect(scheduler.lastIndex).toBe(20);
    expect(store.storage.firstIndex()).toBe(21);
  });

  it('waits for `snapshotThreshold` applied entries', async () => {
    const { store, kv } = await applied(9);
    const scheduler = new SnapshotScheduler({ kv, store, log: quietLog, settings: { snapshotThreshold: 10, snapshotCatchupEntries: 0 }, isMember: () => false, coreHandedOut: () => 9 });
    scheduler.maybeStart();
    await scheduler.idle();
    expect(scheduler.lastIndex).toBe(0);
    expect(store.storage.firstIndex()).toBe(1);
  });
});
