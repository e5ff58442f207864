import { afterEach, describe, expect, it } from 'vitest';
import { msg, startNode, tick, waitFor, type TestNode } from './helpers.js';

const nodes: TestNode[] = [];
async function node(id: string, ...rest: Parameters<typeof startNode> extends [string, ...infer R] ? R : never): Promise<TestNode> {
  const n = await startNode(id, ...rest);
  nodes.push(n);
  return n;
}

afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.transport.stop()));
});

describe('message stream over gRPC', () => {
  it('delivers messages between three transports, in order per sender', async () => {
    const [a, b, c] = [await node('a'), await node('b'), await node('c')];
    for (const x of [a, b, c]) for (const y of [a, b, c]) if (x !== y) x.transport.addPeer(y.id, y.address);
    const perSender = 300;
    for (let i = 1; i <= perSender; i++) {
      a.transport.send([msg('a', 'b', { index: i }), msg('a', 'c', { index: i })]);
      c.transport.send([msg('c', 'b', { index: i, type: 'heartbeat' })]);
      if (i % 7 === 0) await tick();
    }
    await waitFor('b got all', () => b.received.length === 2 * perSender);
    await waitFor('c got all', () => c.received.length === perSender);
    const indicesFrom = (n: TestNode, from: string) => n.received.filter((m) => m.from === from).map((m) => m.index);
    const inOrder = Array.from({ length: perSender }, (_, i) => i + 1);
    expect(indicesFrom(b, 'a')).toEqual(inOrder);
    expect(indicesFrom(b, 'c')).toEqual(inOrder);
    expect(indicesFrom(c, 'a')).toEqual(inOrder);
    expect(a.transport.stats().peers['b']).toMatchObject({ messagesSent: perSender, messagesDropped: 0 });
    expect(b.transport.stats().peers['a']).toMatchObject({ messagesReceived: perSender });
  });

  it("hands over the sender's advertised address with its messages, when it has one", async () => {
    const [a, b, c] = [await node('a', { advertiseAddress: 'a.peers.example:7000' }), await node('b'), await node('c')];
    a.transport.addPeer('c', c.address);
    b.transport.addPeer('c', c.address);
    a.transport.send([msg('a', 'c', { index: 1 })]);
    b.transport.send([msg('b', 'c', { index: 1 })]);
    await waitFor('c got both', () => c.received.length === 2);
    expect(c.senderAddresses.get('a')).toBe('a.peers.example:7000');
    expect(c.senderAddresses.has('b')).toBe(true);
    expect(c.senderAddresses.get('b')).toBeUndefined();
  });

  it('carries entries, contexts and snapshot-free fields intact', async () => {
    const [a, b] = [await node('a'), await node('b')];
    a.transport.addPeer('b', b.address);
    const sent = msg('a', 'b', {
      term: 7,
      logTerm: 6,
      index: 2 ** 40,
      commit: 99,
      entries: [
        { term: 7, index: 2 ** 40 + 1, type: 'normal', data: new TextEncoder().encode('hello') },
        { term: 7, index: 2 ** 40 + 2, type: 'confChange', data: new Uint8Array([1, 2, 3]) },
      ],
      context: new Uint8Array([9]),
    });
    a.transport.send([sent]);
    await waitFor('delivery', () => b.received.length === 1);
    expect(b.received[0]).toEqual(sent);
  });

  it('puts everything queued for a peer in one tick into one stream write', async () => {
    const [a, b] = [await node('a'), await node('b')];
    a.transport.addPeer('b', b.address);
    a.transport.send(Array.from({ length: 40 }, (_, i) => msg('a', 'b', { index: i })));
    a.transport.send(Array.from({ length: 10 }, (_, i) => msg('a', 'b', { index: 40 + i })));
    await waitFor('first batch', () => b.received.length === 50);
    await tick();
    a.transport.send([msg('a', 'b', { index: 50 })]);
    await waitFor('second batch', () => b.received.length === 51);
    expect(b.batches.map((x) => x.length)).toEqual([50, 1]);
  });

  it('splits a large tick into writes of at most maxBatchBytes', async () => {
    const a = await node('a', { maxBatchBytes: 64 * 1024 });
    const b = await node('b');
    a.transport.addPeer('b', b.address);
    const data = new Uint8Array(20 * 1024);
    a.transport.send(Array.from({ length: 10 }, (_, i) => msg('a', 'b', { index: i, entries: [{ term: 1, index: i + 1, type: 'normal', data }] })));
    await waitFor('all', () => b.received.length === 10);
    expect(b.batches.length).toBeGreaterThan(1);
    expect(b.received.map((m) => m.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('sends a message above maxBatchBytes alone, and drops one near the gRPC message limit', async () => {
    const MiB = 1024 * 1024;
    const a = await node('a', { maxMessageBytes: MiB, maxBatchBytes: 256 * 1024 });
    const b = await node('b', { maxMessageBytes: MiB, maxBatchBytes: 256 * 1024 });
    a.transport.addPeer('b', b.address);
    const entry = (bytes: number) => [{ term: 1, index: 1, type: 'normal' as const, data: new Uint8Array(bytes) }];
    a.transport.send([msg('a', 'b', { index: 1 }), msg('a', 'b', { index: 2, entries: entry(600 * 1024) }), msg('a', 'b', { index: 3, entries: entry(MiB) }), msg('a', 'b', { index: 4 })]);
    await waitFor('the sendable ones', () => b.received.length === 3);
    expect(b.received.map((m) => m.index)).toEqual([1, 2, 4]);
    expect(b.batches.map((batch) => batch.map((m) => m.index))).toEqual([[1], [2], [4]]);
    expect(a.transport.stats().dropped.tooLarge).toBe(1);
  });

  it('drops messages to unknown peers with a log line, never throwing', async () => {
    const a = await node('a');
    expect(() => a.transport.send([msg('a', 'nobody')])).not.toThrow();
    expect(a.transport.stats().dropped.unknownPeer).toBe(1);
    expect(a.transport.stats().peers['nobody']?.messagesDropped).toBe(1);
    expect(a.log.lines.some((l) => l.level === 'warn' && l.msg === 'dropped messages' && l.fields?.['reason'] === 'unknownPeer')).toBe(true);
  });

  it('drops a message that cannot be encoded exactly, and keeps sending the rest', async () => {
    const [a, b] = [await node('a'), await node('b')];
    a.transport.addPeer('b', b.address);
    a.transport.send([msg('a', 'b', { index: 1 }), msg('a', 'b', { index: 2 ** 53 }), msg('a', 'b', { index: 3 })]);
    await waitFor('two delivered', () => b.received.length === 2);
    expect(b.received.map((m) => m.index)).toEqual([1, 3]);
    expect(a.transport.stats().dropped.encodeError).toBe(1);
  });

  it('reconnects after the receiver stops and starts again on the same port', async () => {
    const a = await node('a');
    const b1 = await startNode('b');
    a.transport.addPeer('b', b1.address);
    a.transport.send([msg('a', 'b', { index: 1 })]);
    await waitFor('first delivery', () => b1.received.length === 1);
    await b1.transport.stop();

    // While b is down, sends fail or are dropped, and a reports b unreachable.
    for (let i = 0; i < 20 && a.unreachable.length === 0; i++) {
      a.transport.send([msg('a', 'b', { index: 2 })]);
      await new Promise((r) => setTimeout(r, 20));
    }
    await waitFor('unreachable reported', () => a.unreachable.includes('b'));

    const b2 = await node('b', {}, `127.0.0.1:${b1.port}`);
    let i = 100;
    await waitFor('delivery after restart', () => {
      a.transport.send([msg('a', 'b', { index: i++ })]);
      return b2.received.length > 0;
    });
    expect(b2.received[0]!.from).toBe('a');
    expect(a.transport.stats().peers['b']!.sendErrors).toBeGreaterThan(0);
    await waitFor('stream accepted again', () => a.transport.stats().queues['b']!.connected);
    expect(a.transport.stats().queues['b']!.state).toBe('open');
  });

  it('moves a peer to a new address with updatePeer, and forgets it with removePeer', async () => {
    const a = await node('a');
    const b1 = await node('b');
    const b2 = await node('b');
    a.transport.addPeer('b', b1.address);
    a.transport.send([msg('a', 'b', { index: 1 })]);
    await waitFor('to old address', () => b1.received.length === 1);
    a.transport.updatePeer('b', b2.address);
    a.transport.send([msg('a', 'b', { index: 2 })]);
    await waitFor('to new address', () => b2.received.length === 1);
    expect(b1.received.length).toBe(1);
    a.transport.removePeer('b');
    a.transport.send([msg('a', 'b', { index: 3 })]);
    expect(a.transport.stats().dropped.unknownPeer).toBe(1);
    expect(a.transport.hasPeer('b')).toBe(false);
  });
});
