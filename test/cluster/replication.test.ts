import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NODE_ENV, NODE_FLAGS } from '../../node/src/runtime-settings.js';
import { TestCluster, ensureBuilt, waitFor, type NodeProcess } from './harness.js';

describe('replication and failover (3 real node processes)', () => {
  const cluster = new TestCluster();
  let nodes: NodeProcess[];
  const acked = new Map<string, string>();

  beforeAll(async () => {
    ensureBuilt();
    await cluster.init();
    nodes = await cluster.form(3, { snapshotThreshold: 50, snapshotCatchupEntries: 5 });
  });
  afterAll(async () => {
    await cluster.destroy();
  });

  async function put(via: NodeProcess, key: string, value: string): Promise<number> {
    const r = await via.request('PUT', `/v1/kv/${key}`, value);
    expect(r.status, r.text).toBe(200);
    acked.set(key, value);
    return r.json().revision;
  }

  it('every node process runs with the runtime settings (V8 flags on its command line, malloc tuning in its environment)', () => {
    for (const n of nodes) {
      const pid = n.proc!.pid!;
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      expect(argv.slice(1, 1 + NODE_FLAGS.length)).toEqual([...NODE_FLAGS]);
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      for (const [name, value] of Object.entries(NODE_ENV)) expect(environ).toContain(`${name}=${value}`);
    }
  });

  it('a write through one member is read through another', async () => {
    const leader = await cluster.leader();
    const followers = nodes.filter((n) => n !== leader);
    await put(followers[0]!, 'greeting', 'hello');
    const r = await followers[1]!.request('GET', '/v1/kv/greeting');
    expect(r.status).toBe(200);
    expect(r.text).toBe('hello');
    expect(r.headers.get('etag')).toMatch(/^"\d+"$/);
    const list = (await leader.request('GET', '/v1/kv?prefix=gree')).json();
    expect(list.items.map((i: { key: string }) => i.key)).toEqual(['greeting']);
  });

  it('a follower proposes a write through Raft and answers once it applied it (never over HTTP to the leader)', async () => {
    const leader = await cluster.leader();
    const follower = nodes.find((n) => n !== leader)!;
    const putsOnLeader = async (): Promise<number> => sumPutCount(await leader.request('GET', '/metrics'));
    const before = await putsOnLeader();
    const revision = await put(follower, 'via-follower', 'v1');
    // Read-your-write on the same follower without a ReadIndex round: it applied the entry before answering.
    const r = await follower.request('GET', '/v1/kv/via-follower?consistency=serializable');
    expect(r.status).toBe(200);
    expect(r.text).toBe('v1');
    expect(r.headers.get('etag')).toBe(`"${revision}"`);
    expect((await follower.status()).applied).toBeGreaterThanOrEqual(1);
    expect(await putsOnLeader()).toBe(before);
  });

  it('a watch on a follower streams changes written through the leader', async () => {
    const leader = await cluster.leader();
    const follower = nodes.find((n) => n !== leader)!;
    const from = (await follower.status()).revision + 1;
    const ac = new AbortController();
    const res = await fetch(`http://127.0.0.1:${follower.httpPort}/v1/watch?prefix=watched/&fromRevision=${from}`, { signal: ac.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    await put(leader, 'watched/a', '1');
    await put(leader, 'unwatched', '2');
    await put(leader, 'watched/b', '3');
    const reader = res.body!.getReader();
    let text = '';
    while ((text.match(/^id: /gm) ?? []).length < 2) text += new TextDecoder().decode((await reader.read()).value);
    ac.abort();
    const events = text.split('\n\n').filter((b) => b.startsWith('id: ')).map((b) => JSON.parse(b.split('data: ')[1]!));
    expect(events.map((e) => [e.key, Buffer.from(e.value, 'base64').toString()])).toEqual([
      ['watched/a', '1'],
      ['watched/b', '3'],
    ]);
    expect(events[1].revision).toBe(events[0].revision + 2);
  });

  it('kill -9 of the leader: a new leader is elected and no acknowledged write is lost', async () => {
    const old = await cluster.leader();
    for (let i = 0; i < 30; i++) await put(nodes[i % 3]!, `before/${i}`, `v${i}`);
    await old.kill('SIGKILL');
    const survivors = nodes.filter((n) => n !== old);
    const leader = await cluster.leader(survivors);
    expect(leader).not.toBe(old);
    for (let i = 0; i < 30; i++) {
      await waitFor('a write to succeed after failover', async () => (await survivors[i % 2]!.request('PUT', `/v1/kv/after/${i}`, `w${i}`)).status === 200);
      acked.set(`after/${i}`, `w${i}`);
    }
    for (const n of survivors) {
      for (const [k, v] of acked) {
        const r = await n.request('GET', `/v1/kv/${k}`);
        expect(r.status, `${n.name} ${k}`).toBe(200);
        expect(r.text).toBe(v);
      }
    }
  });

  it('the old leader restarts and catches up by snapshot (its log was compacted away)', async () => {
    const down = nodes.find((n) => !n.running)!;
    const leader = await cluster.leader();
    for (let i = 0; i < 120; i++) await put(leader, `bulk/${i}`, `b${i}`);
    expect((await leader.status()).snapshotIndex).toBeGreaterThan(0);
    down.start();
    await down.waitUp();
    const target = (await leader.status()).commit;
    await waitFor(`${down.name} to catch up`, async () => (await down.status()).applied >= target, 30_000);
    expect(down.output).toContain('installed a snapshot from the leader');
    for (const [k, v] of acked) {
      const r = await down.request('GET', `/v1/kv/${k}?consistency=serializable`);
      expect(r.status, k).toBe(200);
      expect(r.text).toBe(v);
    }
    await waitFor(`${down.name} ready`, async () => (await down.request('GET', '/readyz')).status === 200);
  });

  it('a graceful stop of the leader (SIGTERM) hands leadership to a follower first', async () => {
    const leader = await cluster.leader();
    await leader.kill('SIGTERM');
    expect(leader.exitCode).toBe(0);
    expect(leader.output).toContain('handing over leadership before stopping');
    const others = nodes.filter((n) => n !== leader);
    const next = await cluster.leader(others);
    expect(others).toContain(next);
    await put(next, 'after-sigterm', 'ok');
    leader.start();
    await leader.waitUp();
    await waitFor(`${leader.name} has the latest write`, async () => (await leader.request('GET', '/v1/kv/after-sigterm?consistency=serializable')).text === 'ok');
  });
});

/** PUT requests the member's HTTP server handled (forwarded ones included: they run through its routes). */
function sumPutCount(metrics: { text: string }): number {
  let total = 0;
  for (const line of metrics.text.split('\n')) {
    if (line.startsWith('kuorum_http_request_duration_seconds_count{') && line.includes('method="PUT"') && line.includes('route="/v1/kv/*"')) total += Number(line.split(' ').pop());
  }
  return total;
}
