/**
 * A member catches up by a snapshot that is the leader's state as of sending (real node
 * processes): the state may be ahead of the snapshot the Raft message names, with a conf change
 * in between. The member ends with the leader's keys, revisions and configuration.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, ensureBuilt, waitFor, type NodeProcess } from './harness.js';

interface Listed {
  key: string;
  value: string;
  createRevision: number;
  modRevision: number;
  version: number;
}

describe('catch-up by a snapshot of the state as of sending', () => {
  const cluster = new TestCluster();
  let nodes: NodeProcess[];
  const options = { snapshotThreshold: 200, snapshotCatchupEntries: 5 };

  beforeAll(async () => {
    ensureBuilt();
    await cluster.init();
    nodes = await cluster.form(3, options);
  });
  afterAll(async () => {
    await cluster.destroy();
  });

  async function put(via: NodeProcess, key: string, value: string): Promise<void> {
    const r = await via.request('PUT', `/v1/kv/${key}`, value);
    expect(r.status, r.text).toBe(200);
  }

  async function everything(n: NodeProcess): Promise<Listed[]> {
    const r = await n.request('GET', '/v1/kv?prefix=&limit=10000&consistency=serializable');
    expect(r.status, r.text).toBe(200);
    return r.json().items as Listed[];
  }

  async function configuration(n: NodeProcess): Promise<string[]> {
    const r = await n.request('GET', '/v1/members');
    expect(r.status, r.text).toBe(200);
    return (r.json().members as { id: string; role: string }[]).map((m) => `${m.id}:${m.role}`).sort();
  }

  it('a member that missed a snapshot, a conf change and ongoing writes ends with the same keys, revisions and configuration', async () => {
    const leader = await cluster.leader();
    const lagging = nodes.find((n) => n !== leader)!;
    await lagging.kill('SIGKILL');
    for (let i = 0; i < 260; i++) await put(leader, `a/${i}`, `a${i}`);
    await put(leader, 'a/0', 'overwritten'); // a key with history: its revisions must carry over
    const snapshotIndex = await waitFor('the leader to snapshot', async () => ((await leader.status()).snapshotIndex as number) || undefined);

    // A conf change after the leader's snapshot: the catching-up member's core learns it from the
    // entries after the snapshot, which its state machine skips as already applied.
    const learner = await cluster.newNode('n4', options);
    learner.start();
    await learner.waitUp();
    const add = await leader.request('POST', '/v1/members', { id: learner.id, name: learner.name, peerAddress: learner.peerAddress, learner: true });
    expect(add.status, add.text).toBe(201);
    const configIndex = (await leader.status()).configIndex as number;
    expect(configIndex).toBeGreaterThan(snapshotIndex);

    // Writes go on while it catches up, but fewer than the snapshot threshold: the leader's next
    // snapshot stays behind the conf change, so the state it sends is ahead of the snapshot.
    let writing = true;
    let written = 0;
    const writer = (async () => {
      while (writing && written < 60) await put(leader, `b/${written++}`, 'x'.repeat(100));
    })();
    const from = lagging.output.length;
    lagging.start();
    await lagging.waitUp();
    const installed = await waitFor('the lagging member to install a snapshot', async () => lagging.output.slice(from).split('\n').find((l) => l.includes('installed a snapshot from the leader')));
    writing = false;
    await writer;
    const { index, applied } = JSON.parse(installed) as { index: number; applied: number };
    expect(index).toBe(snapshotIndex); // no newer snapshot meanwhile
    expect(applied).toBeGreaterThan(configIndex);

    const target = (await leader.status()).commit as number;
    await waitFor('the lagging member to catch up', async () => ((await lagging.status()).applied as number) >= target, 30_000);
    expect(await configuration(lagging)).toEqual(await configuration(leader));
    expect(await configuration(lagging)).toContain(`${learner.id}:learner`);
    const [mine, theirs] = [await everything(lagging), await everything(leader)];
    expect(mine.length).toBe(260 + written);
    expect(mine).toEqual(theirs);
    expect((await lagging.status()).revision).toBe((await leader.status()).revision);
    expect((await leader.status()).revision).toBeGreaterThan(260);
  });
});
