// onConnectionLost: the hint a follower uses to campaign early when its leader's process dies.
import { afterEach, describe, expect, it } from 'vitest';
import { msg, startNode, waitFor, type TestNode } from './helpers.js';
import { startRelay, type TcpRelay } from './tcp-relay.js';

const nodes: TestNode[] = [];
const relays: TcpRelay[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.transport.stop()));
  for (const r of relays.splice(0)) r.close();
});

async function node(id: string): Promise<TestNode> {
  const n = await startNode(id);
  nodes.push(n);
  return n;
}

async function streamsBothWays(a: TestNode, b: TestNode, bAddress: string): Promise<void> {
  a.transport.addPeer('b', bAddress);
  b.transport.addPeer('a', a.address);
  a.transport.send([msg('a', 'b')]);
  b.transport.send([msg('b', 'a')]);
  await waitFor('streams open both ways', () => b.received.length >= 1 && a.received.length >= 1);
  // Only a stream the peer is known to have accepted counts as a connection that can be lost.
  await waitFor('both senders see their stream accepted', () => a.transport.stats().queues.b?.connected === true && b.transport.stats().queues.a?.connected === true);
}

describe('onConnectionLost', () => {
  it('a connection reset mid-stream is reported on both ends, and streaming resumes', async () => {
    const [a, b] = [await node('a'), await node('b')];
    const toB = await startRelay(b.port);
    relays.push(toB);
    await streamsBothWays(a, b, toB.address);
    toB.reset();
    await waitFor('b hears that a stream from a ended', () => b.connectionLost.includes('a'));
    await waitFor('a hears that its stream to b broke', () => a.connectionLost.includes('b'));
    const before = b.received.length;
    await waitFor('a reconnects through the relay', () => {
      a.transport.send([msg('a', 'b')]);
      return b.received.length > before;
    });
  });

  it('a peer that goes away is reported; our own stop or removePeer is not', async () => {
    const [a, b] = [await node('a'), await node('b')];
    await streamsBothWays(a, b, b.address);
    a.transport.removePeer('b'); // cancels a's stream to b: b sees a cancelled stream
    await waitFor('b hears of it', () => b.connectionLost.includes('a'));
    await a.transport.stop(); // ends b's stream to a too
    await waitFor('b hears that its stream to a broke', () => b.connectionLost.filter((p) => p === 'a').length >= 2);
    await new Promise((r) => setTimeout(r, 100));
    expect(a.connectionLost).toEqual([]);
  });
});
