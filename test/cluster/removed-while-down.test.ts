/**
 * A member removed while it was down (real node processes) learns it was removed once it is
 * back: its pre-votes reach the leader, which no longer has it in its configuration and tells
 * it (POST /v1/internal/removed over the peer transport, to the address its calls carry). A
 * member being added is never told so, even when it campaigns and votes after a leader change.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, ensureBuilt, sleep, waitFor, type NodeProcess } from './harness.js';

const ELECTION_MS = 600; // the harness's --election-timeout
const CAMPAIGN_LOG = 'starting an election';
const TELLING_LOG = 'a removed member is still sending Raft messages';
const TOLD_LOG = 'told by the leader';

describe('a member removed while it was down', () => {
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

  it('learns it was removed within a few election timeouts of its restart', async () => {
    const leader = await cluster.leader();
    const victim = nodes.find((n) => n !== leader)!;
    await victim.kill('SIGKILL');
    const removal = await waitFor('the removal', async () => {
      const res = await leader.request('DELETE', `/v1/members/${victim.id}`);
      return res.status === 409 && res.json().code === 'change_pending' ? undefined : res;
    });
    expect(removal.status, removal.text).toBe(200);
    await waitFor('the leader to give up telling it', async () => leader.output.includes('could not tell the removed member it was removed'));
    const termBefore = (await leader.status()).term;
    const leaderFrom = leader.output.length;

    const from = victim.output.length;
    victim.start();
    await victim.waitUp();
    // The notice is acknowledged once removed.json is written; /v1/status may say removed a moment before.
    const mark = path.join(victim.dataDir, 'removed.json');
    await waitFor('the restarted member to learn it was removed', async () => (await victim.status()).removed === true && existsSync(mark), 8 * ELECTION_MS, 50);
    const learnedAt = victim.output.length;
    expect(victim.output.slice(from)).toContain(TOLD_LOG);
    expect(await victim.status()).toMatchObject({ role: 'removed', removed: true, member: false });

    await sleep(5 * ELECTION_MS);
    expect(victim.output.slice(learnedAt), 'campaigned after it learned it was removed').not.toContain(CAMPAIGN_LOG);
    // One notice, not one per pre-vote; the cluster was not disturbed.
    expect(leader.output.slice(leaderFrom).split(TELLING_LOG).length - 1).toBe(1);
    expect((await cluster.leader()).name).toBe(leader.name);
    expect((await leader.status()).term).toBe(termBefore);
  });

  it('a member being added is never told it was removed, also when it campaigns after a leader change', async () => {
    const added = await cluster.newNode('n4');
    added.start();
    await added.waitUp();
    await cluster.addAndPromote(added);
    const oldLeader = await cluster.leader();
    // The leader changes: the new voter sends pre-votes and votes, or answers them, to every voter.
    await oldLeader.kill('SIGKILL');
    const newLeader = await cluster.leader();
    expect(newLeader.name).not.toBe(oldLeader.name);
    const put = await waitFor('a write through the new leader', async () => {
      const res = await newLeader.request('PUT', '/v1/kv/after-change', 'v');
      return res.status === 200 ? res : undefined;
    });
    expect(put.status).toBe(200);
    await waitFor('the added member to apply the write', async () => (await added.request('GET', '/v1/kv/after-change?consistency=serializable')).status === 200);

    expect(await added.status()).toMatchObject({ member: true, removed: false });
    expect(existsSync(path.join(added.dataDir, 'removed.json')), 'removed.json in the added member').toBe(false);
    expect(added.output).not.toContain(TOLD_LOG);
    for (const n of cluster.nodes) {
      const told = n.output.split('\n').filter((line) => line.includes(TELLING_LOG) && line.includes(added.id));
      expect(told, `${n.name} took the added member for a removed one`).toEqual([]);
    }
  });
});
