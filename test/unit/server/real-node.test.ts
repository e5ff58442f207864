/** The HTTP API against a REAL single-member node: RawNode, LevelDB in a temp dir, gRPC transport. */
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningNode } from '../../../node/src/start-node.js';
import { startRealNode } from './start-real-node.js';
import { until } from './until.js';

let root: string;

function start(name: string, dir: string, bootstrap: boolean): Promise<RunningNode> {
  return startRealNode(name, dir, ['--max-value-bytes=1000', '--proposal-timeout=2000', '--watch-history=20', ...(bootstrap ? ['--bootstrap'] : [])]);
}

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'kuorum-node-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('a bootstrapped single-member node', () => {
  let n: RunningNode;
  const dir = () => path.join(root, 'n1');

  beforeAll(async () => {
    n = await start('n1', dir(), true);
    await until(() => n.node.isLeader());
  });
  afterAll(async () => {
    await n.shutdown();
  });

  it('reports itself as the leader of a new cluster and is ready', async () => {
    const s = (await n.http.inject({ method: 'GET', url: '/v1/status' })).json();
    expect(s).toMatchObject({ name: 'n1', role: 'leader', member: true, removed: false });
    expect(s.clusterId).toMatch(/^[0-9a-f]{16}$/);
    expect(s.leaderId).toBe(s.id);
    expect((await n.http.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    for (const consistency of ['serializable', 'linearizable']) {
      const m = (await n.http.inject({ method: 'GET', url: `/v1/members?consistency=${consistency}` })).json();
      expect(m.members).toEqual([expect.objectContaining({ id: s.id, name: 'n1', role: 'voter', isLeader: true })]);
    }
    expect((await n.http.inject({ method: 'GET', url: '/v1/members?consistency=strong' })).statusCode).toBe(400);
    expect((await n.http.inject({ method: 'POST', url: '/v1/bootstrap' })).statusCode).toBe(409);
  });

  it('writes, reads (linearizable and serializable), compares-and-sets, deletes and lists', async () => {
    const put = await n.http.inject({ method: 'PUT', url: '/v1/kv/a/1', payload: Buffer.from([1, 2, 3]), headers: { 'content-type': 'application/octet-stream' } });
    expect(put.statusCode).toBe(200);
    const rev = put.json().revision as number;
    const get = await n.http.inject({ method: 'GET', url: '/v1/kv/a/1' });
    expect(get.rawPayload).toEqual(Buffer.from([1, 2, 3]));
    expect(get.headers.etag).toBe(`"${rev}"`);
    expect((await n.http.inject({ method: 'GET', url: '/v1/kv/a/1?consistency=serializable' })).statusCode).toBe(200);
    expect((await n.http.inject({ method: 'PUT', url: '/v1/kv/a/1', payload: 'x', headers: { 'if-match': `"${rev + 100}"` } })).statusCode).toBe(412);
    expect((await n.http.inject({ method: 'PUT', url: '/v1/kv/a/1', payload: 'x', headers: { 'if-none-match': '*' } })).statusCode).toBe(412);
    const cas = await n.http.inject({ method: 'PUT', url: '/v1/kv/a/1', payload: 'y', headers: { 'if-match': `"${rev}"` } });
    expect(cas.json().revision).toBe(rev + 1);
    await n.http.inject({ method: 'PUT', url: '/v1/kv/a/2', payload: 'z' });
    const list = (await n.http.inject({ method: 'GET', url: '/v1/kv?prefix=a/' })).json();
    expect(list.items.map((i: { key: string }) => i.key)).toEqual(['a/1', 'a/2']);
    expect(Buffer.from(list.items[0].value, 'base64').toString()).toBe('y');
    expect((await n.http.inject({ method: 'DELETE', url: '/v1/kv/a/2', headers: { 'if-match': '"1"' } })).statusCode).toBe(412);
    expect((await n.http.inject({ method: 'DELETE', url: '/v1/kv/a/2' })).statusCode).toBe(200);
    expect((await n.http.inject({ method: 'DELETE', url: '/v1/kv/a/2' })).statusCode).toBe(404);
    expect((await n.http.inject({ method: 'GET', url: '/v1/kv/a/2' })).statusCode).toBe(404);
    expect((await n.http.inject({ method: 'PUT', url: '/v1/kv/big', payload: Buffer.alloc(1001) })).statusCode).toBe(413);
  });

  it('streams watch events in revision order over SSE', async () => {
    await n.http.inject({ method: 'PUT', url: '/v1/kv/w/1', payload: 'one' });
    const from = (await n.http.inject({ method: 'GET', url: '/v1/status' })).json().revision as number;
    const port = (n.http.server.address() as { port: number }).port;
    const events = await new Promise<string[]>((resolve, reject) => {
      const got: string[] = [];
      const req = http.get({ host: '127.0.0.1', port, path: `/v1/watch?prefix=w/&fromRevision=${from}` }, (res) => {
        expect(res.headers['content-type']).toContain('text/event-stream');
        let buf = '';
        res.on('data', (c: Buffer) => {
          buf += c.toString();
          const blocks = buf.split('\n\n');
          buf = blocks.pop()!;
          for (const b of blocks) if (b.startsWith('id:')) got.push(b);
          if (got.length === 3) {
            req.destroy();
            resolve(got);
          }
        });
      });
      req.on('error', (e) => (got.length === 3 ? undefined : reject(e)));
      setTimeout(async () => {
        await n.http.inject({ method: 'PUT', url: '/v1/kv/w/2', payload: 'two' });
        await n.http.inject({ method: 'PUT', url: '/v1/kv/other', payload: 'no' });
        await n.http.inject({ method: 'DELETE', url: '/v1/kv/w/1' });
      }, 100);
    });
    expect(events[0]).toContain(`id: ${from}\nevent: put`);
    expect(events[1]).toContain(`id: ${from + 1}\nevent: put`);
    expect(events[2]).toContain(`id: ${from + 3}\nevent: delete`);
    expect(JSON.parse(events[1]!.split('data: ')[1]!)).toEqual({ type: 'put', key: 'w/2', revision: from + 1, value: Buffer.from('two').toString('base64') });
  });

  it('a watch from a revision older than the retained history is 410', async () => {
    for (let i = 0; i < 25; i++) await n.http.inject({ method: 'PUT', url: `/v1/kv/churn/${i}`, payload: 'x' });
    const r = await n.http.inject({ method: 'GET', url: '/v1/watch?fromRevision=1' });
    expect(r.statusCode).toBe(410);
    expect(r.json().code).toBe('compacted');
  });

  it('exports kuorum_ metrics reflecting the node', async () => {
    const text = (await n.http.inject({ method: 'GET', url: '/metrics' })).body;
    expect(text).toMatch(/^kuorum_is_leader 1$/m);
    expect(text).toMatch(/^kuorum_has_leader 1$/m);
    expect(text).toMatch(/^kuorum_term [1-9]/m);
    expect(text).toMatch(/^kuorum_proposals_committed_total [1-9]/m);
    expect(text).toMatch(/^kuorum_fsync_duration_seconds_count [1-9]/m);
    expect(text).toContain('kuorum_http_request_duration_seconds_bucket{');
  });
});

describe('restart and bootstrap rules', () => {
  it('keeps its data across a restart and never re-bootstraps', async () => {
    const dir = path.join(root, 'r1');
    let n = await start('r1', dir, true);
    await until(() => n.node.isLeader());
    const clusterId = n.node.status().clusterId;
    expect((await n.http.inject({ method: 'PUT', url: '/v1/kv/durable', payload: 'yes' })).statusCode).toBe(200);
    await n.shutdown();
    n = await start('r1', dir, true);
    try {
      await until(() => n.node.isLeader());
      expect(n.node.status().clusterId).toBe(clusterId);
      expect((await n.http.inject({ method: 'GET', url: '/v1/kv/durable' })).body).toBe('yes');
    } finally {
      await n.shutdown();
    }
  });

  it('an unjoined node is not ready, refuses KV requests with 503, and can be bootstrapped once over HTTP', async () => {
    const n = await start('u1', path.join(root, 'u1'), false);
    try {
      expect(n.node.status()).toMatchObject({ role: 'unjoined', member: false, clusterId: '' });
      const ready = await n.http.inject({ method: 'GET', url: '/readyz' });
      expect(ready.statusCode).toBe(503);
      expect(ready.headers['retry-after']).toBe('1');
      expect((await n.http.inject({ method: 'GET', url: '/livez' })).statusCode).toBe(200);
      const put = await n.http.inject({ method: 'PUT', url: '/v1/kv/x', payload: 'v' });
      expect(put.statusCode).toBe(503);
      expect(put.json().code).toBe('not_ready');
      // Its own view lists no members; a linearizable list needs a cluster to agree with.
      expect((await n.http.inject({ method: 'GET', url: '/v1/members' })).json().members).toEqual([]);
      const linearizable = await n.http.inject({ method: 'GET', url: '/v1/members?consistency=linearizable' });
      expect(linearizable.statusCode).toBe(503);
      expect(linearizable.json().code).toBe('not_ready');
      const b = await n.http.inject({ method: 'POST', url: '/v1/bootstrap' });
      expect(b.statusCode).toBe(200);
      expect(b.json().member).toBe(true);
      await until(() => n.node.isLeader());
      expect((await n.http.inject({ method: 'PUT', url: '/v1/kv/x', payload: 'v' })).statusCode).toBe(200);
      expect((await n.http.inject({ method: 'POST', url: '/v1/bootstrap' })).statusCode).toBe(409);
    } finally {
      await n.shutdown();
    }
  });
});
