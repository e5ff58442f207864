import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { peerServiceDefinition } from '../../../node/src/transport/peer-service.js';
import { msg, startNode, tick, waitFor, type TestNode } from './helpers.js';

const KiB = 1024;
const nodes: TestNode[] = [];
const servers: grpc.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) s.forceShutdown();
  await Promise.all(nodes.splice(0).map((n) => n.transport.stop()));
});

/** A real gRPC Peer server that accepts message streams and then never reads from them. */
async function stalledReceiver(): Promise<{ address: string; accepted: () => number }> {
  let accepted = 0;
  const server = new grpc.Server();
  server.addService(peerServiceDefinition(), {
    MessageStream: (call: grpc.ServerReadableStream<unknown, unknown>) => {
      accepted++;
      call.sendMetadata(new grpc.Metadata());
      call.pause();
    },
    SendSnapshot: () => {},
    Forward: () => {},
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  servers.push(server);
  return { address: `127.0.0.1:${port}`, accepted: () => accepted };
}

describe('backpressure', () => {
  it('keeps the send queue bounded and drops (counted) when the receiver stalls', async () => {
    const maxQueuedBytes = 512 * KiB;
    const a = await startNode('a', { maxQueuedBytes, maxQueuedMessages: 1000, maxBatchBytes: 256 * KiB });
    nodes.push(a);
    const receiver = await stalledReceiver();
    a.transport.addPeer('b', receiver.address);
    const entry = { term: 1, index: 1, type: 'normal' as const, data: new Uint8Array(64 * KiB) };

    const offeredTicks = 400;
    const perTick = 8; // 512 KiB offered per tick, 200 MiB in all
    let maxQueued = 0;
    let maxPending = 0;
    for (let t = 0; t < offeredTicks; t++) {
      a.transport.send(Array.from({ length: perTick }, (_, i) => msg('a', 'b', { index: t * perTick + i, entries: [entry] })));
      const q = a.transport.stats().queues['b']!;
      maxQueued = Math.max(maxQueued, q.queuedBytes);
      maxPending = Math.max(maxPending, q.pendingWrites);
      await tick();
    }
    const stats = a.transport.stats();
    const counters = stats.peers['b']!;
    expect(receiver.accepted()).toBe(1);
    expect(maxQueued).toBeLessThanOrEqual(maxQueuedBytes);
    expect(maxPending).toBeLessThanOrEqual(2);
    expect(stats.dropped.queueFull).toBeGreaterThan(0);
    expect(counters.messagesDropped).toBe(stats.dropped.queueFull);
    // Whatever was not dropped is either taken by HTTP/2, in flight, or still queued: no hidden buffer.
    const inGrpc = offeredTicks * perTick - counters.messagesDropped - counters.messagesSent - stats.queues['b']!.queuedMessages;
    expect(inGrpc).toBeLessThanOrEqual(2 * (256 * KiB) / (64 * KiB));
    // The stalled stream lets only a few MiB through (socket buffers and HTTP/2 windows), far below the 200 MiB offered.
    expect(counters.messagesSent * 64 * KiB).toBeLessThan(32 * 1024 * KiB);
    await waitFor('drops reported as unreachable', () => a.unreachable.includes('b'));
    expect(a.log.lines.some((l) => l.msg === 'dropped messages' && l.fields?.['reason'] === 'queueFull')).toBe(true);
  });
});
