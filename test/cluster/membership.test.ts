import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, ensureBuilt, waitFor, type NodeProcess } from './harness.js';

type Member = { id: string; name: string; role: string };

describe('membership changes through the admin API (real node processes)', () => {
  const cluster = new TestCluster();
  let nodes: NodeProcess[];

  beforeAll(async () => {
    ensureBuilt();
    await cluster.init();
    nodes = await cluster.form(3);
  });
  afterAll(async () => {
    await cluster.destroy();
  });

  // Linearizable: a leader elected after a change was answered may not have applied it yet.
  async function members(): Promise<Member[]> {
    return waitFor('the member list', async () => {
      const r = await (await cluster.leader()).request('GET', '/v1/members?consistency=linearizable');
      return r.status === 200 ? (r.json().members as Member[]) : undefined;
    });
  }

  it('adds a learner, which replicates but does not vote, then promotes it', async () => {
    const n4 = await cluster.newNode('n4');
    n4.start();
    await n4.waitUp();
    expect((await n4.status()).role).toBe('unjoined');
    expect((await n4.request('GET', '/readyz')).status).toBe(503);
    const leader = await cluster.leader();
    await leader.request('PUT', '/v1/kv/m/1', 'one');
    const add = await nodes.find((n) => n !== leader)!.request('POST', '/v1/members', { id: n4.id, name: 'n4', peerAddress: n4.peerAddress, learner: true });
    expect(add.status, add.text).toBe(201);
    expect(add.json()).toMatchObject({ id: n4.id, role: 'learner' });
    await waitFor('n4 to replicate', async () => (await n4.request('GET', '/v1/kv/m/1?consistency=serializable')).text === 'one');
    // It is a learner once it applied its own addition, which follows m/1 in the log.
    await waitFor('n4 to know it is a learner', async () => (await n4.status()).role === 'learner');
    const promoted = await waitFor('promotion', async () => {
      const r = await leader.request('POST', `/v1/members/${n4.id}/promote`);
      return r.status === 200 ? r.json() : undefined;
    });
    expect(promoted).toMatchObject({ id: n4.id, role: 'voter' });
    expect((await members()).filter((m) => m.role === 'voter')).toHaveLength(4);
    nodes.push(n4);
  });

  it('grows to 5 voters', async () => {
    const n5 = await cluster.newNode('n5');
    n5.start();
    await n5.waitUp();
    await cluster.addAndPromote(n5);
    nodes.push(n5);
    const ms = await members();
    expect(ms.map((m) => m.name).sort()).toEqual(['n1', 'n2', 'n3', 'n4', 'n5']);
    expect(ms.every((m) => m.role === 'voter')).toBe(true);
    // A leader elected meanwhile has not heard from everyone yet; it soon has.
    await waitFor('the leader to report every member replicating', async () => {
      const lm = (await (await cluster.leader()).request('GET', '/v1/members?consistency=linearizable')).json().members as { matchIndex: number; lastContact: string | null }[];
      return lm.length === 5 && lm.every((m) => m.matchIndex > 0 && m.lastContact !== null);
    });
  });

  it('refuses to promote a learner that has not caught up (409), and removes a learner', async () => {
    const leader = await cluster.leader();
    const ghost = { id: '00000000000000b1', name: 'ghost', peerAddress: '127.0.0.1:1', learner: true }; // nothing listens there
    expect((await leader.request('POST', '/v1/members', ghost)).status).toBe(201);
    const r = await leader.request('POST', `/v1/members/${ghost.id}/promote`);
    expect(r.status).toBe(409);
    expect(r.json().code).toBe('not_caught_up');
    expect(r.text).toContain('has not caught up');
    expect((await leader.request('DELETE', `/v1/members/${ghost.id}`)).status).toBe(200);
    expect((await members()).map((m) => m.id)).not.toContain(ghost.id);
  });

  it('refuses a second membership change while one is pending (409)', async () => {
    const leader = await cluster.leader();
    const followers = nodes.filter((n) => n !== leader);
    // Without a quorum the first change cannot commit, so it is surely still pending.
    await Promise.all(followers.slice(0, 3).map((f) => f.kill('SIGKILL')));
    const [a, b] = await Promise.all([
      leader.request('POST', '/v1/members', { id: '00000000000000a1', name: 'x1', peerAddress: '127.0.0.1:1', learner: true }),
      leader.request('POST', '/v1/members', { id: '00000000000000a2', name: 'x2', peerAddress: '127.0.0.1:2', learner: true }),
    ]);
    const statuses = [a.status, b.status].sort();
    expect(statuses[0], `${a.text} ${b.text}`).toBe(409);
    expect(statuses[1]).toBe(503); // the first timed out (or the leader stepped down): it never hangs
    const conflict = a.status === 409 ? a : b;
    expect(conflict.json().code).toBe('change_pending');
    for (const f of followers.slice(0, 3)) f.start();
    await Promise.all(followers.slice(0, 3).map((f) => f.waitUp()));
    await cluster.leader();
    // The pending change may or may not have committed; clean it up so the next tests see 5 members.
    await waitFor('the cluster to settle', async () => {
      const extra = (await members()).find((m) => m.name === 'x1' || m.name === 'x2');
      if (!extra) return true;
      await (await cluster.leader()).request('DELETE', `/v1/members/${extra.id}`);
      return false;
    });
  });

  it('removes a follower; the removed node says so', async () => {
    const leader = await cluster.leader();
    const victim = nodes.find((n) => n !== leader)!;
    // A new leader refuses conf changes (409 change_pending) until it has applied its whole log.
    const r = await waitFor('the removal to be accepted', async () => {
      const res = await leader.request('DELETE', `/v1/members/${victim.id}`);
      return res.status === 409 && res.json().code === 'change_pending' ? undefined : res;
    });
    expect(r.status, r.text).toBe(200);
    nodes = nodes.filter((n) => n !== victim);
    expect((await members()).map((m) => m.id)).not.toContain(victim.id);
    await waitFor('the removed node to notice', async () => (await victim.status()).role === 'removed').catch((e) => {
      console.log('VICTIM', victim.output.split('\n').filter((l) => !l.includes('"debug"')).slice(-30).join('\n'));
      console.log('LEADER', leader.output.split('\n').filter((l) => /remov|forward|notice/i.test(l)).slice(-30).join('\n'));
      throw e;
    });
    expect((await victim.request('GET', '/readyz')).status).toBe(503);
    await victim.kill('SIGTERM');
  });

  it('removes the leader: it hands leadership over first, then is removed', async () => {
    const leader = await cluster.leader();
    const r = await leader.request('DELETE', `/v1/members/${leader.id}`);
    expect(r.status, r.text).toBe(200);
    const rest = nodes.filter((n) => n !== leader);
    const next = await cluster.leader(rest);
    expect(next).not.toBe(leader);
    const ms = (await next.request('GET', '/v1/members?consistency=linearizable')).json().members as Member[];
    expect(ms.map((m) => m.id)).not.toContain(leader.id);
    expect(ms).toHaveLength(3);
    await waitFor('the old leader to notice its removal', async () => (await leader.status()).role === 'removed');
    await leader.kill('SIGTERM');
    nodes = rest;
    // 5 → 3 done; the cluster still takes writes and serves them everywhere.
    expect((await next.request('PUT', '/v1/kv/after-shrink', 'ok')).status).toBe(200);
    for (const n of nodes) {
      // A follower that has not heard from the new leader yet (its transfer election may have
      // failed and a later one won) answers 503 no_leader for a linearizable read: it may retry.
      const r = await waitFor(`${n.name} to serve the write`, async () => {
        const res = await n.request('GET', '/v1/kv/after-shrink');
        return res.status === 503 && res.json().code === 'no_leader' ? undefined : res;
      }).catch(() => n.request('GET', '/v1/kv/after-shrink'));
      if (r.text !== 'ok') {
        for (const m of nodes) console.log(m.name, JSON.stringify(await m.status()), '\n', m.output.split('\n').filter((l) => !l.includes('"debug"')).slice(-25).join('\n'));
      }
      expect(r.text, n.name).toBe('ok');
    }
  });
});
