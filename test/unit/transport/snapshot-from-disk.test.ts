import { randomBytes } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Entry, Message } from '../../../node/src/raft/types.js';
import { RaftLogStore } from '../../../node/src/storage/index.js';
import { useTempDirs } from '../storage/temp-dir.js';
import { startNode, waitFor, type TestNode } from './helpers.js';

// The node keeps snapshot data on disk only: the core's 'snap' message carries metadata, and the
// transport streams the data from the snapshot file of a real RaftLogStore, verifying its checksum.
const MiB = 1024 * 1024;
const tempDir = useTempDirs('snap-disk');
const nodes: TestNode[] = [];
const stores: RaftLogStore[] = [];

afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.transport.stop()));
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

function ents(from: number, n: number, term: number): Entry[] {
  return Array.from({ length: n }, (_, i) => ({ term, index: from + i, type: 'normal' as const, data: new Uint8Array([i]) }));
}

/** A log with a several-MiB snapshot at index 8 (term 3), recorded in parts, and a sender streaming from it. */
async function setup(): Promise<{ a: TestNode; b: TestNode; store: RaftLogStore; data: Uint8Array; dir: string }> {
  const dir = await tempDir();
  const store = await RaftLogStore.open(dir);
  stores.push(store);
  await store.save({ entries: ents(1, 10, 3), hardState: { term: 3, vote: '', commit: 10 } });
  const parts = [new Uint8Array(randomBytes(3 * MiB)), new Uint8Array(randomBytes(2 * MiB + 77))];
  await store.createSnapshot(8, { voters: ['a', 'b'], learners: [] }, parts);
  const a = await startNode('a', { snapshotChunkBytes: MiB, snapshotData: (meta) => store.openSnapshotData(meta) });
  const b = await startNode('b', { maxMessageBytes: 2 * MiB, maxBatchBytes: MiB, snapshotChunkBytes: MiB });
  nodes.push(a, b);
  a.transport.addPeer('b', b.address);
  return { a, b, store, data: Buffer.concat(parts), dir };
}

function snapOf(store: RaftLogStore): Message {
  const snapshot = store.storage.snapshot();
  expect(snapshot.data.length).toBe(0); // what the core puts in the message: metadata only
  return { type: 'snap', from: 'a', to: 'b', term: 3, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0, snapshot };
}

describe('snapshot sent from the file on disk', () => {
  it('streams the file to a lagging follower, which gets the whole data verified', async () => {
    const { a, b, store, data } = await setup();
    a.transport.send([snapOf(store)]);
    await waitFor('snapshot status', () => a.snapshotStatus.length === 1);
    expect(a.snapshotStatus).toEqual([['b', true]]);
    expect(b.received).toHaveLength(1);
    const got = b.received[0]!.snapshot!;
    expect(got.metadata).toEqual({ index: 8, term: 3, confState: { voters: ['a', 'b'], learners: [] } });
    expect(Buffer.from(got.data).equals(Buffer.from(data))).toBe(true);
  });

  it('fails the transfer when the file is corrupted: the follower installs nothing and the core hears of the failure', async () => {
    const { a, b, store, dir } = await setup();
    const [file] = await readdir(join(dir, 'snap'));
    const path = join(dir, 'snap', file!);
    const bytes = await readFile(path);
    bytes[4 * MiB]! ^= 0x01;
    await writeFile(path, bytes);
    a.transport.send([snapOf(store)]);
    await waitFor('snapshot status', () => a.snapshotStatus.length === 1);
    expect(a.snapshotStatus).toEqual([['b', false]]);
    await waitFor('receiver to drop the stream', () => b.transport.stats().peers['a']?.snapshotsRejected === 1);
    expect(b.received).toHaveLength(0);
    expect(a.transport.stats().peers['b']).toMatchObject({ snapshotsSent: 0, snapshotsFailed: 1 });
    expect(a.log.lines.some((l) => l.msg === 'snapshot transfer failed' && /checksum mismatch/.test(String(l.fields?.error)))).toBe(true);
  });

  it('fails the transfer when the snapshot in the message is no longer the one on disk (the core retries with the newer one)', async () => {
    const { a, b, store } = await setup();
    const stale = snapOf(store);
    await store.createSnapshot(10, { voters: ['a', 'b'], learners: [] }, [new Uint8Array([1, 2, 3])]);
    a.transport.send([stale]);
    await waitFor('snapshot status', () => a.snapshotStatus.length === 1);
    expect(a.snapshotStatus).toEqual([['b', false]]);
    expect(b.received).toHaveLength(0);
    a.transport.send([snapOf(store)]);
    await waitFor('second snapshot status', () => a.snapshotStatus.length === 2);
    expect(a.snapshotStatus[1]).toEqual(['b', true]);
    expect(b.received[0]!.snapshot!.data).toEqual(new Uint8Array([1, 2, 3]));
  });
});
