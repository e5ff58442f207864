/**
 * A removed member restarted on its old data dir (real node processes) stays removed: it never
 * campaigns, so the cluster's term stays put, and it reports itself removed — whether it was told
 * by the leader or applied its own removal from its log. A wiped data dir joins as a new member;
 * the old data dir re-added is refused.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, ensureBuilt, sleep, waitFor, type NodeProcess } from './harness.js';

const ELECTION_MS = 600; // the harness's --election-timeout
const CAMPAIGN_LOG = 'starting an election';

describe('a removed member restarted on its old data dir', () => {
  const cluster = new TestCluster();
  /** Removed while down, then told by hand; then re-added with its old data dir. */
  let told: NodeProcess;
  /** Removed while up, applying its own removal; then wiped and added as a new member. */
  let applied: NodeProcess;

  beforeAll(async () => {
    ensureBuilt();
    await cluster.init();
    const nodes = await cluster.form(3);
    const leader = await cluster.leader();
    [told, applied] = nodes.filter((n) => n !== leader) as [NodeProcess, NodeProcess];
  });
  afterAll(async () => {
    await cluster.destroy();
  });

  async function remove(victim: NodeProcess): Promise<void> {
    const leader = await cluster.leader();
    // A new leader refuses conf changes (409 change_pending) until it has applied its whole log.
    const r = await waitFor(`the removal of ${victim.name}`, async () => {
      const res = await leader.request('DELETE', `/v1/members/${victim.id}`);
      return res.status === 409 && res.json().code === 'change_pending' ? undefined : res;
    });
    expect(r.status, r.text).toBe(200);
  }

  /** Restarts `n` on its data dir; for a few election timeouts it must not campaign nor move the cluster's term. */
  async function restartStaysRemoved(n: NodeProcess): Promise<void> {
    const leader = await cluster.leader(cluster.running().filter((m) => m !== n));
    const termBefore = (await leader.status()).term;
    const from = n.output.length;
    n.start();
    await n.waitUp();
    await sleep(5 * ELECTION_MS);
    const since = n.output.slice(from);
    expect(since, 'the restarted removed member campaigned').not.toContain(CAMPAIGN_LOG);
    expect(await n.status()).toMatchObject({ role: 'removed', removed: true, member: false });
    const ready = await n.request('GET', '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.json().error).toBe('this node was removed from the cluster');
    expect((await cluster.leader()).name).toBe(leader.name);
    expect((await leader.status()).term).toBe(termBefore);
  }

  it('told by the leader: stays removed after a restart', async () => {
    const leader = await cluster.leader();
    const victim = told;
    // Down while it is removed: it neither gets the removal entry nor the leader's notice.
    await victim.kill('SIGKILL');
    await remove(victim);
    await waitFor('the leader to give up telling it', async () => leader.output.includes('could not tell the removed member it was removed'));
    const from = victim.output.length;
    victim.start();
    await victim.waitUp();
    // Not knowing, it campaigns (the others ignore its pre-votes: they hear from the leader).
    await waitFor('the uninformed removed member to campaign', async () => victim.output.slice(from).includes(CAMPAIGN_LOG));
    // The leader tells it on hearing its pre-vote (removed-while-down.test.ts); the same notice
    // delivered by hand (POST /v1/internal/removed, marked as forwarded) is taken again, idempotently.
    const { clusterId } = await leader.status();
    const notice = await victim.request('POST', '/v1/internal/removed', { clusterId, memberId: victim.id }, { 'x-kuorum-forwarded': '1' });
    expect(notice.status, notice.text).toBe(200);
    expect(await victim.status()).toMatchObject({ role: 'removed', removed: true });
    await victim.kill('SIGKILL');
    await restartStaysRemoved(victim);
  });

  it('removed through its own log: stays removed after a restart, with or without the mark', async () => {
    const leader = await cluster.leader();
    const victim = applied;
    await remove(victim);
    // It applied the removal entry itself (its configuration index reached the leader's).
    const configIndex = (await leader.status()).configIndex as number;
    await waitFor('the removed member to apply its own removal', async () => (await victim.status()).configIndex === configIndex);
    await victim.kill('SIGTERM');
    await restartStaysRemoved(victim);
    // A data dir from before the mark existed: the replayed log alone keeps it removed.
    await victim.kill('SIGTERM');
    await rm(path.join(victim.dataDir, 'removed.json'));
    await restartStaysRemoved(victim);
    await victim.kill('SIGTERM');
  });

  it('a wiped data dir joins as a new member; the old data dir re-added is refused', async () => {
    const wiped = applied;
    const oldId = wiped.id;
    await rm(wiped.dataDir, { recursive: true, force: true });
    wiped.start();
    await wiped.waitUp();
    expect(wiped.id).not.toBe(oldId);
    await cluster.addAndPromote(wiped);
    expect(await wiped.status()).toMatchObject({ member: true, removed: false });

    const stale = told; // still running on its old data dir, removed
    const leader = await cluster.leader();
    const add = await leader.request('POST', '/v1/members', { id: stale.id, name: stale.name, peerAddress: stale.peerAddress, learner: true });
    expect(add.status, add.text).toBe(201);
    await waitFor('the leader to log the refused introduction', async () => /refused the introduction.*member_removed/.test(leader.output));
    expect(await stale.status()).toMatchObject({ role: 'removed', removed: true });
    expect((await stale.request('GET', '/readyz')).status).toBe(503);
    await remove(stale);
  });
});
