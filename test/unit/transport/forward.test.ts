import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ForwardError, type ForwardRequest } from '../../../node/src/transport/index.js';
import { startNode, type TestNode } from './helpers.js';

const nodes: TestNode[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.transport.stop()));
});

async function pair(): Promise<[TestNode, TestNode]> {
  const a = await startNode('a');
  const b = await startNode('b');
  nodes.push(a, b);
  a.transport.addPeer('b', b.address);
  return [a, b];
}

const put: ForwardRequest = {
  method: 'PUT',
  path: '/v1/kv/some%2Fkey?prefix=a&x=%20',
  headers: [
    ['content-type', 'application/octet-stream'],
    ['if-match', '"7"'],
    ['x-multi', 'one'],
    ['x-multi', 'two'],
  ],
  body: new Uint8Array([0, 1, 2, 255]),
};

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

async function forwardError(p: Promise<unknown>): Promise<ForwardError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ForwardError) return err;
    throw err;
  }
  throw new Error('expected the forward to fail');
}

describe('Forward over gRPC', () => {
  it('carries a request to the peer handler and its response back', async () => {
    const [a, b] = await pair();
    const seen: [ForwardRequest, string][] = [];
    b.transport.setForwardHandler(async (req, from) => {
      seen.push([req, from]);
      return { status: 201, headers: [['content-type', 'application/json'], ['etag', '"8"']], body: new TextEncoder().encode('{"revision":8}') };
    });
    const res = await a.transport.forward('b', put, 2000);
    expect(seen).toEqual([[put, 'a']]);
    expect(res).toEqual({ status: 201, headers: [['content-type', 'application/json'], ['etag', '"8"']], body: new TextEncoder().encode('{"revision":8}') });
  });

  it('reports a failing handler, a missing handler and a bad status as remote errors', async () => {
    const [a, b] = await pair();
    expect(await forwardError(a.transport.forward('b', put, 2000))).toMatchObject({ kind: 'remote', message: expect.stringMatching(/does not accept forwarded requests/) });
    b.transport.setForwardHandler(async () => {
      throw new Error('state machine on fire');
    });
    expect(await forwardError(a.transport.forward('b', put, 2000))).toMatchObject({ kind: 'remote', message: expect.stringMatching(/state machine on fire/) });
    b.transport.setForwardHandler(async () => ({ status: 42, headers: [], body: new Uint8Array() }));
    expect(await forwardError(a.transport.forward('b', put, 2000))).toMatchObject({ kind: 'remote', message: expect.stringMatching(/invalid HTTP status 42/) });
  });

  it('fails clearly when the target is unreachable, unknown or too slow', async () => {
    const [a, b] = await pair();
    const port = await closedPort();
    a.transport.addPeer('z', `127.0.0.1:${port}`);
    const unreachable = await forwardError(a.transport.forward('z', put, 3000));
    expect(unreachable.kind).toBe('unreachable');
    expect(unreachable.message).toMatch(new RegExp(`forward to member z at 127.0.0.1:${port}: peer unreachable`));

    expect(await forwardError(a.transport.forward('nobody', put, 1000))).toMatchObject({ kind: 'unknownPeer' });

    b.transport.setForwardHandler(() => new Promise(() => {}));
    expect(await forwardError(a.transport.forward('b', put, 200))).toMatchObject({ kind: 'timeout', message: expect.stringMatching(/no answer within 200 ms/) });
  });

  it('rejects forwards in flight when the transport stops', async () => {
    const [a, b] = await pair();
    b.transport.setForwardHandler(() => new Promise(() => {}));
    const pending = forwardError(a.transport.forward('b', put, 10_000));
    await new Promise((r) => setTimeout(r, 50));
    await a.transport.stop();
    expect((await pending).kind).toBe('interrupted');
  });
});
