import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeProcess, TestCluster, ensureBuilt, waitFor } from './harness.js';

describe('bad input never crashes a node nor loses data (real node processes)', () => {
  const cluster = new TestCluster();
  let nodes: NodeProcess[];

  beforeAll(async () => {
    ensureBuilt();
    await cluster.init();
    nodes = await cluster.form(3, { extraArgs: ['--max-value-bytes=4096', '--max-key-bytes=128'] });
    const r = await nodes[0]!.request('PUT', '/v1/kv/keep', 'safe');
    expect(r.status).toBe(200);
  });
  afterAll(async () => {
    await cluster.destroy();
  });

  it('rejects malformed JSON, oversized bodies and invalid keys with clear errors', async () => {
    const n = nodes[1]!;
    const bad = await n.request('POST', '/v1/members', '{"id": "0000', { 'content-type': 'application/json' });
    expect(bad.status).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'bad_request' });
    const big = await n.request('PUT', '/v1/kv/big', new Uint8Array(4097), { 'content-type': 'application/octet-stream' });
    expect(big.status).toBe(413);
    expect(big.json().code).toBe('too_large');
    const hugeJson = await n.request('POST', '/v1/members', JSON.stringify({ name: 'x'.repeat(200_000) }), { 'content-type': 'application/json' });
    expect(hugeJson.status).toBe(413);
    for (const key of ['', 'k'.repeat(129), 'a%01b', 'a%7Fb']) {
      const r = await n.request('PUT', `/v1/kv/${key}`, 'v');
      expect(r.status, key).toBe(400);
      expect(r.json().code).toBe('invalid_key');
    }
    const cas = await n.request('PUT', '/v1/kv/keep', 'x', { 'if-match': 'not-a-revision' });
    expect(cas.status).toBe(400);
    const stale = await n.request('PUT', '/v1/kv/keep', 'x', { 'if-match': '"999999"' });
    expect(stale.status).toBe(412);
    const exists = await n.request('PUT', '/v1/kv/keep', 'x', { 'if-none-match': '*' });
    expect(exists.status).toBe(412);
  });

  it('unknown member IDs are 404, malformed ones 400, promoting a voter 409', async () => {
    const n = nodes[2]!;
    expect((await n.request('POST', '/v1/members/00000000deadbeef/promote')).status).toBe(404);
    expect((await n.request('DELETE', '/v1/members/00000000deadbeef')).status).toBe(404);
    expect((await n.request('POST', '/v1/members/not-an-id/promote')).status).toBe(400);
    const voter = await n.request('POST', `/v1/members/${nodes[0]!.id}/promote`);
    expect(voter.status).toBe(409);
    expect(voter.json().code).toBe('already_voter');
    const dup = await n.request('POST', '/v1/members', { id: nodes[1]!.id, name: 'again', peerAddress: '127.0.0.1:9', learner: true });
    expect(dup.status).toBe(409);
    const transfer = await n.request('POST', '/v1/leader/transfer', { to: '00000000deadbeef' });
    expect(transfer.status).toBe(404);
  });

  it('bootstrapping a formed node is 409', async () => {
    for (const n of nodes) {
      const r = await n.request('POST', '/v1/bootstrap');
      expect(r.status).toBe(409);
      expect(r.json().code).toBe('already_formed');
    }
  });

  it('a node started on another node\'s data dir refuses with a clear error and exit code 1', async () => {
    const victim = nodes[2]!;
    await victim.kill('SIGTERM');
    const impostor = new NodeProcess('impostor', victim.dataDir, victim.httpPort, victim.peerPort);
    impostor.start();
    expect(await impostor.exited()).toBe(1);
    expect(impostor.output).toContain('the data dir belongs to the node named \\"n3\\", but this node is started with --name \\"impostor\\"');
    victim.start();
    await victim.waitUp();
    await waitFor('n3 ready again', async () => (await victim.request('GET', '/readyz')).status === 200);
  });

  it('bad flags exit with code 2 and say what is wrong', async () => {
    const n = new NodeProcess('flags', `${nodes[0]!.dataDir}-unused`, 1, 1, { extraArgs: ['--election-timeout=abc'] });
    n.start();
    expect(await n.exited()).toBe(2);
    expect(n.output).toContain('--election-timeout must be a whole number');
    const m = new NodeProcess('flags2', `${nodes[0]!.dataDir}-unused`, 1, 1, { extraArgs: ['--no-such-flag'] });
    m.start();
    expect(await m.exited()).toBe(2);
  });

  it('after all that every node is up and nothing was lost', async () => {
    for (const n of nodes) {
      expect((await n.request('GET', '/livez')).status).toBe(200);
      const r = await n.request('GET', '/v1/kv/keep');
      expect(r.text).toBe('safe');
    }
    expect((await nodes[2]!.request('GET', '/v1/kv/big')).status).toBe(404);
  });
});
