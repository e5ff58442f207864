import { createHash, randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import type { Message } from '../../../node/src/raft/types.js';
import { encodeMessage } from '../../../node/src/transport/codec.js';
import { identityMetadata } from '../../../node/src/transport/identity.js';
import type { WireSnapshotChunk } from '../../../node/src/transport/wire-types.js';
import { startNode, waitFor, type TestNode } from './helpers.js';
import { openRawSnapshotStream, rawClient } from './raw-client.js';

const MiB = 1024 * 1024;
const nodes: TestNode[] = [];
const clients: grpc.Client[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(nodes.splice(0).map((n) => n.transport.stop()));
});

async function pair(): Promise<[TestNode, TestNode]> {
  // b's gRPC message limit is 2 MiB, so a 5 MiB snapshot only gets through in chunks.
  const a = await startNode('a', { snapshotChunkBytes: MiB });
  const b = await startNode('b', { maxMessageBytes: 2 * MiB, maxBatchBytes: MiB, snapshotChunkBytes: MiB });
  nodes.push(a, b);
  a.transport.addPeer('b', b.address);
  return [a, b];
}

function snapMessage(data: Uint8Array, index = 42): Message {
  return {
    type: 'snap',
    from: 'a',
    to: 'b',
    term: 5,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    snapshot: { metadata: { index, term: 4, confState: { voters: ['a', 'b'], learners: ['c'] } }, data },
  };
}

describe('snapshot streaming over gRPC', () => {
  it('streams a several-MiB snapshot in chunks and delivers it intact, reporting success', async () => {
    const [a, b] = await pair();
    const data = new Uint8Array(randomBytes(5 * MiB + 123));
    a.transport.send([snapMessage(data)]);
    await waitFor('snapshot status', () => a.snapshotStatus.length === 1);
    expect(a.snapshotStatus).toEqual([['b', true]]);
    expect(b.received).toHaveLength(1);
    const got = b.received[0]!;
    expect(got.snapshot!.metadata).toEqual({ index: 42, term: 4, confState: { voters: ['a', 'b'], learners: ['c'] } });
    expect(got.snapshot!.data.length).toBe(data.length);
    expect(Buffer.from(got.snapshot!.data).equals(Buffer.from(data))).toBe(true);
    expect({ ...got, snapshot: { ...got.snapshot!, data: new Uint8Array() } }).toEqual(snapMessage(new Uint8Array()));
    expect(a.transport.stats().peers['b']).toMatchObject({ snapshotsSent: 1, snapshotsFailed: 0 });
    expect(b.transport.stats().peers['a']).toMatchObject({ snapshotsReceived: 1, snapshotsRejected: 0 });
  });

  it('sends an empty snapshot too', async () => {
    const [a, b] = await pair();
    a.transport.send([snapMessage(new Uint8Array())]);
    await waitFor('snapshot status', () => a.snapshotStatus.length === 1);
    expect(a.snapshotStatus).toEqual([['b', true]]);
    expect(b.received[0]!.snapshot!.data).toEqual(new Uint8Array());
  });

  it('reports failure when the receiver is unreachable', async () => {
    const [a, b] = await pair();
    await b.transport.stop();
    a.transport.send([snapMessage(new Uint8Array(1000))]);
    await waitFor('snapshot status', () => a.snapshotStatus.length === 1);
    expect(a.snapshotStatus).toEqual([['b', false]]);
    expect(a.transport.stats().peers['b']!.snapshotsFailed).toBe(1);
  });

  it('rejects missing chunks, corrupted data, a missing trailer and a cancelled stream, delivering nothing and staying up', async () => {
    const [a, b] = await pair();
    const data = new Uint8Array(randomBytes(3000));
    const header: WireSnapshotChunk = { header: { message: encodeMessage({ ...snapMessage(new Uint8Array()) }) } };
    const chunk = (offset: number, end: number, bytes = data): WireSnapshotChunk => ({ data: { offset, data: bytes.subarray(offset, end) } });
    const trailer: WireSnapshotChunk = { trailer: { totalBytes: data.length, sha256: createHash('sha256').update(data).digest() } };
    const corrupted = Uint8Array.from(data);
    corrupted[2000] = corrupted[2000]! ^ 0xff;

    const client = rawClient(b.address);
    clients.push(client);
    const md = () => identityMetadata({ clusterId: 'cluster-1', from: 'a', to: 'b' });
    const run = async (chunks: WireSnapshotChunk[]) => {
      const s = openRawSnapshotStream(client, md());
      for (const c of chunks) s.call.write(c);
      s.call.end();
      return s.status;
    };

    expect(await run([header, chunk(0, 1000), chunk(2000, 3000), trailer])).toMatchObject({ code: grpc.status.DATA_LOSS, details: expect.stringMatching(/missing/) });
    expect(await run([header, chunk(0, 1000), chunk(1000, 3000, corrupted), trailer])).toMatchObject({ code: grpc.status.DATA_LOSS, details: expect.stringMatching(/checksum mismatch/) });
    expect(await run([header, chunk(0, 1000), chunk(1000, 3000)])).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringMatching(/without a trailer/) });
    expect(await run([chunk(0, 1000)])).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringMatching(/start with a header/) });
    const misaddressed: WireSnapshotChunk = { header: { message: encodeMessage({ ...snapMessage(new Uint8Array()), to: 'c' }) } };
    expect(await run([misaddressed, chunk(0, 3000), trailer])).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringMatching(/addressed to member 'c'/) });

    const cancelled = openRawSnapshotStream(client, md());
    cancelled.call.write(header);
    cancelled.call.write(chunk(0, 1000));
    const receivingLines = () => b.log.lines.filter((l) => l.msg === 'receiving snapshot').length;
    await waitFor('server took the header', () => receivingLines() === 4);
    cancelled.call.cancel();
    expect((await cancelled.status).code).toBe(grpc.status.CANCELLED);
    await waitFor('cancellation counted', () => b.transport.stats().peers['a']!.snapshotsRejected === 6);

    expect(b.received).toEqual([]);
    expect(b.log.lines.filter((l) => l.msg === 'rejected snapshot stream')).toHaveLength(6);

    // Still serving: a well-formed snapshot goes through afterwards.
    a.transport.send([snapMessage(data, 43)]);
    await waitFor('snapshot status', () => a.snapshotStatus.length === 1);
    expect(a.snapshotStatus).toEqual([['b', true]]);
    expect(b.received.map((m) => m.snapshot!.metadata.index)).toEqual([43]);
  });

  it('refuses a snapshot above the receiver limit and reports failure to the sender', async () => {
    const a = await startNode('a');
    const b = await startNode('b', { maxSnapshotBytes: 2 * MiB });
    nodes.push(a, b);
    a.transport.addPeer('b', b.address);
    a.transport.send([snapMessage(new Uint8Array(3 * MiB))]);
    await waitFor('snapshot status', () => a.snapshotStatus.length === 1);
    expect(a.snapshotStatus).toEqual([['b', false]]);
    expect(b.received).toEqual([]);
    expect(b.log.lines.some((l) => l.msg === 'rejected snapshot stream' && String(l.fields?.['error']).includes('exceeds the limit'))).toBe(true);
  });

  it('sends one snapshot at a time per peer and drops another while one is in flight', async () => {
    const [a, b] = await pair();
    a.transport.send([snapMessage(new Uint8Array(3 * MiB), 1), snapMessage(new Uint8Array(10), 2)]);
    expect(a.transport.stats().dropped.snapshotInFlight).toBe(1);
    await waitFor('first done', () => a.snapshotStatus.length === 1);
    expect(b.received.map((m) => m.snapshot!.metadata.index)).toEqual([1]);
    a.transport.send([snapMessage(new Uint8Array(10), 3)]);
    await waitFor('next one allowed', () => a.snapshotStatus.length === 2);
    expect(b.received.map((m) => m.snapshot!.metadata.index)).toEqual([1, 3]);
  });
});
