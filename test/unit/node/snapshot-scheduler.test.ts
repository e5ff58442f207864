import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { CapturedState, StateMachine } from '../../../node/src/node-ports.js';
import { SnapshotScheduler } from '../../../node/src/snapshot-scheduler.js';
import type { JsonLogger } from '../../../node/src/logger.js';
import { RaftLogStore } from '../../../node/src/storage/index.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

const quietLog = { info: () => undefined, warn: () => undefined } as unknown as JsonLogger;

describe('SnapshotScheduler', () => {
  it('writes the parts of a snapshot to the file and frees each one once written (not at the next GC)', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'kuorum-sched-'));
    dirs.push(dir);
    const store = await RaftLogStore.open(dir);
    await store.save({ entries: [1, 2, 3].map((index) => ({ term: 1, index, type: 'normal' as const, data: new Uint8Array([index]) })) });
    const parts = [new Uint8Array(300_000).fill(1), new Uint8Array(300_000).fill(2), new Uint8Array(1000).fill(3)];
    const kv = {
      appliedIndex: () => 3,
      captureSnapshot: <T>(write: (s: CapturedState) => Promise<T>): Promise<T> =>
        write({ index: 3, confState: { voters: ['a'], learners: [] }, parts: (async function* () { yield* parts; })() }),
    } as unknown as StateMachine;
    const scheduler = new SnapshotScheduler({ kv, store, log: quietLog, settings: { snapshotThreshold: 1, snapshotCatchupEntries: 0 }, isMember: () => true });
    scheduler.maybeStart();
    await scheduler.idle();

    expect(scheduler.lastIndex).toBe(3);
    const written = await store.readSnapshotData();
    expect(written.length).toBe(601_000);
    expect([written[0], written[300_000], written[600_999]]).toEqual([1, 2, 3]);
    for (const p of parts) expect(p.buffer.byteLength).toBe(0); // detached: the memory went back at once
    await store.close();
  });
});
