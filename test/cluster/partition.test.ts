/**
 * Partitions with real packet loss (iptables DROP between network-namespace hosts) on 3 real
 * node processes. Needs root and iproute2/iptables: without them the suite fails, it never skips.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from './harness.js';
import { localCopies, waitConverged } from './netns/convergence.js';
import { NsCluster } from './netns/ns-cluster.js';
import type { NsNode } from './netns/ns-node.js';

describe('partitions by packet loss (3 nodes, one network namespace each)', () => {
  let cluster: NsCluster;
  /** Every key written and what the cluster acknowledged for it (undefined: never acknowledged). */
  const written = new Map<string, string | undefined>();

  beforeAll(async () => {
    cluster = await NsCluster.form(3);
  });
  afterAll(async () => {
    await cluster?.destroy();
  });

  async function putOk(via: NsNode, key: string, value: string): Promise<void> {
    await waitFor(`PUT ${key} through ${via.name}`, async () => {
      const r = await via.request('PUT', `/v1/kv/${key}`, value, {}, 10_000);
      if (r.status === 503) return false;
      expect(r.status, r.text).toBe(200);
      return true;
    });
    written.set(key, value);
  }

  async function expectAllAgree(nodes: NsNode[]): Promise<void> {
    const statuses = await waitConverged(cluster, nodes);
    expect(new Set(statuses.map((s) => s.commit)).size).toBe(1);
    for (const [key, acked] of written) {
      const copies = await localCopies(nodes, key);
      for (const c of copies) {
        if (acked === undefined) expect(c.status, `${key} on ${c.node} was never acknowledged`).toBe(404);
        else {
          expect(c.status, `${key} on ${c.node}`).toBe(200);
          expect(c.value, `${key} on ${c.node}`).toBe(acked);
        }
      }
      expect(new Set(copies.map((c) => c.etag)).size, `${key}: ${JSON.stringify(copies)}`).toBe(1);
    }
  }

  it('an isolated leader steps down and commits nothing; the majority elects a leader and goes on; after healing all agree', async () => {
    for (let i = 0; i < 10; i++) await putOk(cluster.nodes[i % 3]!, `before/${i}`, `b${i}`);
    const old = await cluster.leader();
    const majority = cluster.nodes.filter((n) => n !== old);

    await cluster.partitions.isolate([old.host]);
    expect(await cluster.partitions.rules(old.host)).toHaveLength(2);

    // Writes sent to the cut-off leader: each must fail (503), and must not show up later.
    const replies: number[] = [];
    for (let i = 0; i < 5; i++) {
      const key = `isolated/${i}`;
      const r = await old.request('PUT', `/v1/kv/${key}`, `lost${i}`, {}, 20_000);
      replies.push(r.status);
      written.set(key, r.status === 200 ? `lost${i}` : undefined);
    }
    expect(replies, 'writes to an isolated leader').toEqual([503, 503, 503, 503, 503]);
    await waitFor(`${old.name} to step down`, async () => (await cluster.statusOf(old))?.role !== 'leader', 10_000);

    const leader = await cluster.leader(majority);
    expect(leader).not.toBe(old);
    for (let i = 0; i < 10; i++) await putOk(majority[i % 2]!, `majority/${i}`, `m${i}`);
    // A serializable read on the cut-off node must not see the majority's writes yet.
    expect((await old.request('GET', '/v1/kv/majority/0?consistency=serializable')).status).toBe(404);

    await cluster.partitions.heal();
    await waitFor(`${old.name} to rejoin as a follower`, async () => {
      const s = await cluster.statusOf(old);
      return s?.role === 'follower' && s.leaderId !== '' && s.leaderId !== s.id;
    });
    await expectAllAgree(cluster.nodes);
  });

  it('one-way loss (followers → leader dropped): the leader loses its quorum, a follower leads, writes go on; after healing all agree', async () => {
    const old = await cluster.leader();
    const followers = cluster.nodes.filter((n) => n !== old);
    for (const f of followers) await cluster.partitions.dropOneWay(f.host, old.host);
    expect(await cluster.partitions.rules(old.host)).toHaveLength(2);
    for (const f of followers) expect(await cluster.partitions.rules(f.host)).toHaveLength(0);

    await waitFor(`${old.name} to step down`, async () => (await cluster.statusOf(old))?.role !== 'leader', 10_000);
    const leader = await cluster.leader(followers);
    expect(followers).toContain(leader);
    for (let i = 0; i < 10; i++) await putOk(followers[i % 2]!, `oneway/${i}`, `o${i}`);

    await cluster.partitions.heal();
    await expectAllAgree(cluster.nodes);
  });

  it('an isolated follower serves no linearizable reads, and catches up after healing', async () => {
    const leader = await cluster.leader();
    const follower = cluster.nodes.find((n) => n !== leader)!;
    await cluster.partitions.isolate([follower.host]);
    const rest = cluster.nodes.filter((n) => n !== follower);
    for (let i = 0; i < 10; i++) await putOk(rest[i % 2]!, `minority/${i}`, `f${i}`);
    const read = await follower.request('GET', '/v1/kv/minority/0', undefined, {}, 20_000);
    expect(read.status, read.text).toBe(503);
    await cluster.partitions.heal();
    await expectAllAgree(cluster.nodes);
  });
});
