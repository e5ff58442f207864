import { afterEach, describe, expect, it } from 'vitest';
import { PeerTransport } from '../../../node/src/transport/index.js';
import { msg, startNode, waitFor, type TestNode } from './helpers.js';

const nodes: TestNode[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.transport.stop()));
});

async function node(id: string): Promise<TestNode> {
  const n = await startNode(id);
  nodes.push(n);
  return n;
}

describe('transport lifecycle and bad input', () => {
  it('stops while peers stream to it and a forwarded call hangs, forcing after the grace period', async () => {
    const a = await node('a');
    const b = await startNode('b'); // shutdownGraceMs is 500 in the helper
    a.transport.addPeer('b', b.address);
    b.transport.addPeer('a', a.address);
    a.transport.send([msg('a', 'b')]);
    b.transport.send([msg('b', 'a')]);
    await waitFor('streams open both ways', () => b.received.length === 1 && a.received.length === 1);
    let reached = false;
    b.transport.setForwardHandler(() => {
      reached = true;
      return new Promise(() => {});
    });
    const hanging = a.transport.forward('b', { method: 'GET', path: '/v1/status', headers: [], body: new Uint8Array() }, 30_000).catch((e: unknown) => e);
    await waitFor('forward reached b', () => reached);
    await b.transport.stop();
    expect(await hanging).toMatchObject({ name: 'ForwardError', kind: 'interrupted' });
    await waitFor('a notices', () => a.unreachable.includes('b'));
    // After stop: sending neither throws nor delivers, and no callbacks fire.
    const before = b.received.length;
    expect(() => b.transport.send([msg('b', 'a')])).not.toThrow();
    expect(b.transport.stats().dropped.unknownPeer + b.transport.stats().dropped.stopped).toBe(1);
    a.transport.send([msg('a', 'b')]);
    await new Promise((r) => setTimeout(r, 50));
    expect(b.received.length).toBe(before);
  });

  it('survives a message handler that throws, and logs it', async () => {
    const [a, b] = [await node('a'), await node('b')];
    let calls = 0;
    b.transport.onMessage(() => {
      calls++;
      throw new Error('handler bug');
    });
    a.transport.addPeer('b', b.address);
    a.transport.send([msg('a', 'b', { index: 1 })]);
    await waitFor('first call', () => calls === 1);
    await new Promise((r) => setImmediate(r));
    a.transport.send([msg('a', 'b', { index: 2 })]);
    await waitFor('second call on the same stream', () => calls === 2);
    expect(b.log.lines.some((l) => l.level === 'error' && l.msg === 'onMessage handler threw')).toBe(true);
    expect(a.transport.stats().peers['b']!.sendErrors).toBe(0);
  });

  it('refuses bad configuration with clear errors', async () => {
    expect(() => new PeerTransport({ selfId: '' })).toThrow(/non-empty selfId/);
    expect(() => new PeerTransport({ selfId: 'a', maxBatchBytes: 10, maxMessageBytes: 10 })).toThrow(/maxBatchBytes must be below maxMessageBytes/);
    const a = await node('a');
    expect(() => a.transport.addPeer('a', '127.0.0.1:1')).toThrow(/its own peer/);
    expect(() => a.transport.addPeer('b', ' ')).toThrow(/non-empty host:port/);
    await expect(a.transport.start('127.0.0.1:0')).rejects.toThrow(/already started/);
    const busy = new PeerTransport({ selfId: 'x' });
    await expect(busy.start(`127.0.0.1:${a.port}`)).rejects.toThrow(/cannot listen for peers on 127.0.0.1:\d+/);
    await busy.stop();
  });
});
