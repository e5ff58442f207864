// The node client against a real HTTP server on loopback that answers like the DESIGN.md API.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { NodeApiError, NodeClient, parseMembers, parseStatus } from '../../../operator/src/node-client.js';

let server: Server;
let port = 0;
const requests: { method: string; url: string; body: string }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', body });
      const json = (status: number, obj: unknown): void => void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(obj));
      if (req.url === '/v1/status') return json(200, { id: '00000000000000aa', name: 'kv-0', clusterId: 'c1', role: 'leader', term: 3, leaderId: '00000000000000aa', commit: 9, applied: 9, lastIndex: 10 });
      if (req.url === '/v1/members') return json(200, { members: [{ id: '00000000000000aa', name: 'kv-0', peerAddress: 'p:7000', role: 'voter', matchIndex: 10, lastContactMs: 0 }, { id: '00000000000000bb', name: 'kv-1', peerAddress: 'q:7000', role: 'learner', matchIndex: 4, lastContactMs: 120 }] });
      if (req.url === '/v1/members/00000000000000bb/promote') return json(409, { error: 'learner is not caught up', code: 'NotCaughtUp' });
      if (req.url === '/slow') return;
      json(200, {});
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

describe('node client', () => {
  it('reads status and members', async () => {
    const c = new NodeClient({ timeoutMs: 2000, port });
    expect(await c.status('127.0.0.1')).toEqual({ id: '00000000000000aa', name: 'kv-0', clusterId: 'c1', role: 'leader', term: 3, leaderId: '00000000000000aa', commit: 9, applied: 9, lastIndex: 10 });
    const members = await c.members('127.0.0.1');
    expect(members.map((m) => [m.name, m.role, m.matchIndex, m.lastContactMs])).toEqual([['kv-0', 'voter', 10, 0], ['kv-1', 'learner', 4, 120]]);
  });

  it('sends membership changes as the API table says', async () => {
    const c = new NodeClient({ timeoutMs: 2000, port });
    requests.length = 0;
    await c.bootstrap('127.0.0.1');
    await c.addMember('127.0.0.1', { id: '00000000000000cc', name: 'kv-2', peerAddress: 'r:7000', learner: true });
    await c.removeMember('127.0.0.1', '00000000000000cc');
    await c.transferLeadership('127.0.0.1', '00000000000000bb');
    expect(requests.map((r) => [r.method, r.url, r.body ? JSON.parse(r.body) : null])).toEqual([
      ['POST', '/v1/bootstrap', {}],
      ['POST', '/v1/members', { id: '00000000000000cc', name: 'kv-2', peerAddress: 'r:7000', learner: true }],
      ['DELETE', '/v1/members/00000000000000cc', null],
      ['POST', '/v1/leader/transfer', { to: '00000000000000bb' }],
    ]);
  });

  it('turns error replies into NodeApiError with status and code', async () => {
    const c = new NodeClient({ timeoutMs: 2000, port });
    const err = await c.promote('127.0.0.1', '00000000000000bb').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NodeApiError);
    expect(err).toMatchObject({ status: 409, code: 'NotCaughtUp' });
  });

  it('gives up on a node that does not answer, and on one that is not listening', async () => {
    const slow = new NodeClient({ timeoutMs: 100, port });
    await expect((slow as unknown as { call: (ip: string, m: string, p: string) => Promise<unknown> }).call('127.0.0.1', 'GET', '/slow')).rejects.toMatchObject({ code: 'Unreachable' });
    const closed = new NodeClient({ timeoutMs: 1000, port: 1 });
    await expect(closed.status('127.0.0.1')).rejects.toMatchObject({ code: 'Unreachable', status: 0 });
  });

  it('reads the node server\'s members shape: leaderId, isLeader, ISO lastContact or null', () => {
    const now = Date.parse('2026-01-01T00:00:10Z');
    const parsed = parseMembers({ leaderId: 'a', members: [
      { id: 'a', name: 'kv-0', peerAddress: 'p', role: 'voter', isLeader: true, matchIndex: 5, lastContact: null },
      { id: 'b', name: 'kv-1', peerAddress: 'q', role: 'learner', isLeader: false, matchIndex: 3, lastContact: '2026-01-01T00:00:09.500Z' },
    ] }, now);
    expect(parsed).toEqual([
      { id: 'a', name: 'kv-0', peerAddress: 'p', role: 'voter', matchIndex: 5, lastContactMs: undefined },
      { id: 'b', name: 'kv-1', peerAddress: 'q', role: 'learner', matchIndex: 3, lastContactMs: 500 },
    ]);
    expect(parseStatus({ id: 'a', clusterId: 'c', role: 'leader', configIndex: 7 }).configIndex).toBe(7);
  });

  it('rejects malformed replies with a clear error and accepts the documented variants', () => {
    expect(() => parseStatus('nope')).toThrow(/expected a JSON object/);
    expect(() => parseStatus({ name: 'x' })).toThrow(/no member id/);
    expect(() => parseMembers({ members: 3 })).toThrow(/list of members/);
    expect(() => parseMembers([{ name: 'x' }])).toThrow(/without id/);
    const now = Date.parse('2026-01-01T00:00:10Z');
    expect(parseMembers([{ id: 'a', learner: true, lastContact: '2026-01-01T00:00:08Z', match: '7' }], now)).toEqual([
      { id: 'a', name: '', peerAddress: '', role: 'learner', matchIndex: 7, lastContactMs: 2000 },
    ]);
  });
});
