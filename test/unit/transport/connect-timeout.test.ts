// A peer address that accepts TCP but never answers (as a vanished pod's old address, or a hung
// process, looks from the sender): the sender must give up on the stream after connectTimeoutMs,
// report the peer unreachable and dial again on a fresh channel, instead of waiting for the
// kernel or the peer forever.
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { msg, startNode, waitFor, type TestNode } from './helpers.js';

const nodes: TestNode[] = [];
const servers: Server[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.transport.stop()));
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function silentServer(): Promise<{ address: string; connections: () => number }> {
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    sockets.push(socket); // held open, never answered
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { address: `127.0.0.1:${(server.address() as AddressInfo).port}`, connections: () => connections };
}

describe('peer connect deadline', () => {
  it('abandons a stream the peer never accepts and dials again on a new channel', async () => {
    const silent = await silentServer();
    const a = await startNode('a', { connectTimeoutMs: 200 });
    nodes.push(a);
    a.transport.addPeer('b', silent.address);
    a.transport.send([msg('a', 'b')]);
    await waitFor('a to report b unreachable', () => a.unreachable.includes('b'));
    // Raft keeps sending (heartbeats); each send after the backoff opens a stream again.
    await waitFor('a second connection on a fresh channel', () => {
      a.transport.send([msg('a', 'b')]);
      return silent.connections() >= 2;
    });
    expect(a.transport.stats().peers['b']!.connectTimeouts).toBeGreaterThan(0);
  });

  it('keeps a working stream past the deadline', async () => {
    const a = await startNode('a', { connectTimeoutMs: 200 });
    const b = await startNode('b');
    nodes.push(a, b);
    a.transport.addPeer('b', b.address);
    a.transport.send([msg('a', 'b')]);
    await waitFor('b to receive the first message', () => b.received.length === 1);
    await new Promise((r) => setTimeout(r, 400));
    a.transport.send([msg('a', 'b', { index: 2 })]);
    await waitFor('b to receive the second message', () => b.received.length === 2);
    expect(a.transport.stats().peers['b']!).toMatchObject({ connectTimeouts: 0, sendErrors: 0 });
    expect(a.unreachable).toEqual([]);
  });
});
