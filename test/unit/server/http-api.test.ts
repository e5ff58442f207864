import type { FastifyInstance } from 'fastify';
import http from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NodeMetrics } from '../../../node/src/metrics.js';
import { buildHttpServer } from '../../../node/src/server/app.js';
import { InMemoryNodeSimulator } from './in-memory-node.js';

let node: InMemoryNodeSimulator;
let app: FastifyInstance;

beforeEach(async () => {
  node = new InMemoryNodeSimulator();
  app = await buildHttpServer({ node, metrics: new NodeMetrics(), limits: { maxKeyBytes: 64, maxValueBytes: 1024 } });
});
afterEach(async () => {
  await app.close();
});

describe('KV routes', () => {
  it('PUT stores raw bytes whatever the content type; GET returns them with an ETag', async () => {
    const put = await app.inject({ method: 'PUT', url: '/v1/kv/a/b', payload: '{"not":"parsed"}', headers: { 'content-type': 'application/json' } });
    expect(put.statusCode).toBe(200);
    expect(put.json()).toEqual({ revision: 1 });
    const get = await app.inject({ method: 'GET', url: '/v1/kv/a/b' });
    expect(get.statusCode).toBe(200);
    expect(get.headers.etag).toBe('"1"');
    expect(get.headers['content-type']).toBe('application/octet-stream');
    expect(get.body).toBe('{"not":"parsed"}');
    const bin = Buffer.from([0, 255, 1, 2]);
    await app.inject({ method: 'PUT', url: '/v1/kv/bin', payload: bin, headers: { 'content-type': 'application/octet-stream' } });
    expect((await app.inject({ method: 'GET', url: '/v1/kv/bin' })).rawPayload).toEqual(bin);
  });

  it('an empty PUT body stores an empty value', async () => {
    expect((await app.inject({ method: 'PUT', url: '/v1/kv/empty' })).statusCode).toBe(200);
    const get = await app.inject({ method: 'GET', url: '/v1/kv/empty' });
    expect(get.statusCode).toBe(200);
    expect(get.rawPayload.length).toBe(0);
  });

  it('404 for an absent key, on GET and DELETE', async () => {
    const get = await app.inject({ method: 'GET', url: '/v1/kv/nope' });
    expect(get.statusCode).toBe(404);
    expect(get.json()).toMatchObject({ code: 'key_not_found' });
    expect((await app.inject({ method: 'DELETE', url: '/v1/kv/nope' })).statusCode).toBe(404);
  });

  it('If-Match compares-and-sets, If-None-Match: * creates only (412 on mismatch)', async () => {
    expect((await app.inject({ method: 'PUT', url: '/v1/kv/k', payload: 'v1', headers: { 'if-none-match': '*' } })).statusCode).toBe(200);
    const again = await app.inject({ method: 'PUT', url: '/v1/kv/k', payload: 'v2', headers: { 'if-none-match': '*' } });
    expect(again.statusCode).toBe(412);
    expect(again.json()).toMatchObject({ code: 'precondition_failed', currentRevision: 1 });
    expect((await app.inject({ method: 'PUT', url: '/v1/kv/k', payload: 'v2', headers: { 'if-match': '"7"' } })).statusCode).toBe(412);
    expect((await app.inject({ method: 'PUT', url: '/v1/kv/k', payload: 'v2', headers: { 'if-match': '"1"' } })).json()).toEqual({ revision: 2 });
    expect((await app.inject({ method: 'DELETE', url: '/v1/kv/k', headers: { 'if-match': '"1"' } })).statusCode).toBe(412);
    expect((await app.inject({ method: 'DELETE', url: '/v1/kv/k', headers: { 'if-match': '"2"' } })).json()).toEqual({ revision: 3 });
  });

  it('malformed preconditions are 400', async () => {
    const r = await app.inject({ method: 'PUT', url: '/v1/kv/k', payload: 'v', headers: { 'if-match': 'abc' } });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({ code: 'invalid_precondition' });
    expect((await app.inject({ method: 'PUT', url: '/v1/kv/k', payload: 'v', headers: { 'if-none-match': '"3"' } })).statusCode).toBe(400);
  });

  it('invalid keys are 400: empty, too long, control characters', async () => {
    for (const url of ['/v1/kv/', `/v1/kv/${'x'.repeat(65)}`, '/v1/kv/a%00b', '/v1/kv/a%0Ab']) {
      const r = await app.inject({ method: 'PUT', url, payload: 'v' });
      expect(r.statusCode, url).toBe(400);
      expect(r.json().code, url).toBe('invalid_key');
    }
  });

  it('a value over the limit is 413 and nothing is stored', async () => {
    const r = await app.inject({ method: 'PUT', url: '/v1/kv/big', payload: Buffer.alloc(1025), headers: { 'content-type': 'application/octet-stream' } });
    expect(r.statusCode).toBe(413);
    expect(r.json()).toMatchObject({ code: 'too_large' });
    expect((await app.inject({ method: 'GET', url: '/v1/kv/big' })).statusCode).toBe(404);
  });

  it('lists by prefix with base64 values, limit and more', async () => {
    for (const k of ['p/1', 'p/2', 'p/3', 'q/1']) await app.inject({ method: 'PUT', url: `/v1/kv/${k}`, payload: `val-${k}` });
    const r = await app.inject({ method: 'GET', url: '/v1/kv?prefix=p/&limit=2' });
    expect(r.statusCode).toBe(200);
    const body = r.json();
    expect(body.more).toBe(true);
    expect(body.items.map((i: { key: string }) => i.key)).toEqual(['p/1', 'p/2']);
    expect(Buffer.from(body.items[0].value, 'base64').toString()).toBe('val-p/1');
    expect(body.items[0]).toMatchObject({ createRevision: 1, modRevision: 1, version: 1 });
    expect((await app.inject({ method: 'GET', url: '/v1/kv?limit=0' })).statusCode).toBe(400);
    expect((await app.inject({ method: 'GET', url: '/v1/kv?limit=abc' })).statusCode).toBe(400);
    expect((await app.inject({ method: 'GET', url: '/v1/kv/x?consistency=bogus' })).statusCode).toBe(400);
  });
});

describe('admin routes', () => {
  it('validates member bodies and IDs', async () => {
    const bad = await app.inject({ method: 'POST', url: '/v1/members', payload: '{"id":', headers: { 'content-type': 'application/json' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('bad_request');
    const missing = await app.inject({ method: 'POST', url: '/v1/members', payload: { id: '0000000000000001' } });
    expect(missing.statusCode).toBe(400);
    const ok = await app.inject({ method: 'POST', url: '/v1/members', payload: { id: '0000000000000001', name: 'n2', peerAddress: '127.0.0.1:7001' } });
    expect(ok.statusCode).toBe(201);
    expect(ok.json()).toMatchObject({ id: '0000000000000001', role: 'learner' });
    expect((await app.inject({ method: 'POST', url: '/v1/members/xyz/promote' })).statusCode).toBe(400);
    expect((await app.inject({ method: 'POST', url: '/v1/members/00000000000000ff/promote' })).statusCode).toBe(404);
    expect((await app.inject({ method: 'POST', url: '/v1/members/0000000000000001/promote' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'POST', url: '/v1/members/0000000000000001/promote' })).statusCode).toBe(409);
    expect((await app.inject({ method: 'DELETE', url: '/v1/members/0000000000000001' })).json()).toEqual({ id: '0000000000000001' });
  });

  it('an oversized JSON body is 413', async () => {
    const r = await app.inject({ method: 'POST', url: '/v1/members', payload: JSON.stringify({ id: 'x'.repeat(200_000) }), headers: { 'content-type': 'application/json' } });
    expect(r.statusCode).toBe(413);
  });

  it('transfer accepts an empty body or {"to"}', async () => {
    expect((await app.inject({ method: 'POST', url: '/v1/leader/transfer' })).json()).toEqual({ leaderId: '00000000000000aa' });
    expect((await app.inject({ method: 'POST', url: '/v1/leader/transfer', payload: { to: '00000000000000bb' } })).json()).toEqual({ leaderId: '00000000000000bb' });
    expect((await app.inject({ method: 'POST', url: '/v1/leader/transfer', payload: { to: 'bad' } })).statusCode).toBe(400);
  });

  it('bootstrapping a formed node is 409; status and members answer', async () => {
    expect((await app.inject({ method: 'POST', url: '/v1/bootstrap' })).statusCode).toBe(409);
    expect((await app.inject({ method: 'GET', url: '/v1/status' })).json()).toMatchObject({ id: '00000000000000aa', role: 'leader', clusterId: 'c1' });
    expect((await app.inject({ method: 'GET', url: '/v1/members' })).json().members).toHaveLength(1);
  });

  it('unknown routes are JSON 404s', async () => {
    const r = await app.inject({ method: 'GET', url: '/v2/nothing' });
    expect(r.statusCode).toBe(404);
    expect(r.json()).toMatchObject({ code: 'not_found' });
  });
});

describe('forwarding to the leader', () => {
  it('a follower forwards admin changes to the leader, which executes them; writes it proposes itself', async () => {
    const leaderNode = new InMemoryNodeSimulator();
    const leaderApp = await buildHttpServer({ node: leaderNode, metrics: new NodeMetrics() });
    try {
      node.leader = false;
      node.forwardTarget = (req) => leaderNode.handler!(req);
      const add = await app.inject({ method: 'POST', url: '/v1/members', payload: { id: '0000000000000003', name: 'n3', peerAddress: 'h:1' } });
      expect(add.statusCode).toBe(201);
      expect(node.forwarded[0]).toMatchObject({ method: 'POST', path: '/v1/members' });
      expect(leaderNode.members().map((m) => m.id)).toContain('0000000000000003');
      // Writes go through the node's own put (its Raft core forwards the proposal), not over HTTP.
      const put = await app.inject({ method: 'PUT', url: '/v1/kv/fw', payload: 'hello', headers: { 'if-none-match': '*' } });
      expect(put.statusCode).toBe(200);
      expect(Buffer.from((await node.get('fw'))!.value).toString()).toBe('hello');
      const again = await app.inject({ method: 'PUT', url: '/v1/kv/fw', payload: 'x', headers: { 'if-none-match': '*' } });
      expect(again.statusCode).toBe(412);
      expect(node.forwarded).toHaveLength(1);
      expect(await leaderNode.get('fw')).toBeUndefined();
    } finally {
      await leaderApp.close();
    }
  });

  it('a forwarded request reaching a non-leader is a 503, never forwarded again', async () => {
    node.leader = false;
    const body = Buffer.from(JSON.stringify({ id: '0000000000000003', name: 'n3', peerAddress: 'h:1' }));
    const r = await node.handler!({ method: 'POST', path: '/v1/members', headers: { 'content-type': 'application/json' }, body });
    expect(r.status).toBe(503);
    expect(JSON.parse(Buffer.from(r.body).toString())).toMatchObject({ code: 'not_leader' });
    expect(r.headers['retry-after']).toBe('1');
    expect(node.forwarded).toHaveLength(0);
  });
});

describe('health, metrics and OpenAPI', () => {
  it('livez is always 200; readyz follows readiness with 503 + Retry-After', async () => {
    expect((await app.inject({ method: 'GET', url: '/livez' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    node.leader = false;
    const r = await app.inject({ method: 'GET', url: '/readyz' });
    expect(r.statusCode).toBe(503);
    expect(r.headers['retry-after']).toBe('1');
    expect((await app.inject({ method: 'GET', url: '/livez' })).statusCode).toBe(200);
  });

  it('metrics include the HTTP histogram by route and status', async () => {
    await app.inject({ method: 'GET', url: '/v1/kv/none' });
    const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(text).toContain('kuorum_http_request_duration_seconds_count{method="GET",route="/v1/kv/*",status="404"} 1');
    for (const line of text.split('\n').filter((l) => l && !l.startsWith('#'))) expect(line.startsWith('kuorum_')).toBe(true);
  });

  it('serves an OpenAPI document with every route', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(doc.openapi).toBe('3.0.3');
    for (const p of ['/v1/kv/{*}', '/v1/kv', '/v1/watch', '/v1/status', '/v1/members', '/v1/members/{id}/promote', '/v1/members/{id}', '/v1/bootstrap', '/v1/leader/transfer', '/livez', '/readyz', '/metrics']) {
      expect(Object.keys(doc.paths), p).toContain(p);
    }
  });
});

describe('watch (server-sent events)', () => {
  async function listen(): Promise<number> {
    await app.listen({ host: '127.0.0.1', port: 0 });
    return (app.server.address() as { port: number }).port;
  }

  function readEvents(port: number, path: string, count: number): Promise<{ status: number; events: string[] }> {
    return new Promise((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path }, (res) => {
        let buf = '';
        const events: string[] = [];
        if (res.statusCode !== 200) {
          res.resume();
          return resolve({ status: res.statusCode ?? 0, events });
        }
        res.on('data', (chunk: Buffer) => {
          buf += chunk.toString();
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            if (!block.startsWith(':')) events.push(block);
            if (events.length === count) {
              req.destroy();
              resolve({ status: 200, events });
            }
          }
        });
      });
      req.on('error', (e) => (e.message.includes('aborted') ? undefined : reject(e)));
    });
  }

  it('replays history from a revision, then streams live events in order', async () => {
    await app.inject({ method: 'PUT', url: '/v1/kv/w/1', payload: 'a' });
    await app.inject({ method: 'PUT', url: '/v1/kv/other', payload: 'b' });
    const port = await listen();
    const pending = readEvents(port, '/v1/watch?prefix=w/&fromRevision=1', 3);
    await new Promise((r) => setTimeout(r, 100));
    await node.put('w/2', Buffer.from('c'), {});
    await node.delete('w/1', {});
    const { events } = await pending;
    expect(events[0]).toBe(`id: 1\nevent: put\ndata: ${JSON.stringify({ type: 'put', key: 'w/1', revision: 1, value: Buffer.from('a').toString('base64') })}`);
    expect(events[1]).toContain('id: 3\nevent: put');
    expect(events[2]).toBe(`id: 4\nevent: delete\ndata: ${JSON.stringify({ type: 'delete', key: 'w/1', revision: 4 })}`);
  });

  it('a compacted revision is 410', async () => {
    node.compact(5);
    const r = await app.inject({ method: 'GET', url: '/v1/watch?fromRevision=2' });
    expect(r.statusCode).toBe(410);
    expect(r.json()).toMatchObject({ code: 'compacted' });
  });
});
