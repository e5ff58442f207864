/**
 * The Raft log's snapshot is the state machine's own LevelDB: a REAL node (RawNode, LevelDB, gRPC
 * transport) whose state dir was lost after it took a snapshot cannot rebuild its state from the
 * compacted log, and must refuse to start, saying so, instead of serving an empty state.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningNode } from '../../../node/src/start-node.js';
import { DataDirError } from '../../../node/src/storage/index.js';
import { startRealNode } from './start-real-node.js';
import { until } from './until.js';

let root: string;

function start(dir: string): Promise<RunningNode> {
  return startRealNode('s1', dir, ['--election-timeout=300', '--heartbeat-interval=50', '--shutdown-timeout=0', '--snapshot-threshold=5', '--snapshot-catchup-entries=0', '--bootstrap']);
}

/** The DataDirError a start on `dir` fails with (the test fails if it starts). */
async function refusalToStart(dir: string): Promise<DataDirError> {
  const err = await start(dir).then(
    async (started) => {
      await started.shutdown();
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DataDirError);
  return err as DataDirError;
}

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'kuorum-behind-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('a node whose state machine is behind its snapshot', () => {
  it('restarts on its intact data dir, and refuses to start once the state dir is gone', async () => {
    const dir = path.join(root, 's1');
    let n = await start(dir);
    try {
      await until(() => n.node.isLeader());
      for (let i = 0; i < 12; i++) await n.node.put(`k${i}`, new TextEncoder().encode(`v${i}`), {});
      await until(() => n.node.status().snapshotIndex >= 5, 'a snapshot');
    } finally {
      await n.shutdown();
    }
    n = await start(dir); // intact: the state is there
    try {
      await until(() => n.node.isLeader());
      expect(new TextDecoder().decode((await n.node.get('k11', 'linearizable'))?.value)).toBe('v11');
    } finally {
      await n.shutdown();
    }

    await rm(path.join(dir, 'state'), { recursive: true, force: true });
    const err = await refusalToStart(dir);
    expect(err).toMatchObject({ code: 'state_behind_snapshot', message: expect.stringContaining('empty the data dir') });
  });

  it('refuses to start on an applied state whose Raft log is gone (an empty log forgets the term and vote)', async () => {
    const dir = path.join(root, 's2');
    const n = await start(dir);
    try {
      await until(() => n.node.isLeader());
      await n.node.put('k', new TextEncoder().encode('v'), {});
    } finally {
      await n.shutdown();
    }
    await rm(path.join(dir, 'wal'), { recursive: true, force: true });
    const err = await refusalToStart(dir);
    expect(err).toMatchObject({ code: 'log_missing', message: expect.stringContaining('the log was lost') });
  });
});
