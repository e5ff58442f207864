/**
 * A follower that sees its leader's connections end campaigns after a short grace instead of a
 * whole election timeout (Raft suspectLeader, fed by the transport's onConnectionLost). What is
 * asserted is the mechanism and its outcome (the log line, the new leader, a leader that keeps
 * its term through a blip), never a duration: speed is the benchmark's job.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startRelay, type TcpRelay } from '../unit/transport/tcp-relay.js';
import { NodeProcess, TestCluster, ensureBuilt, freePort, sleep, waitFor } from './harness.js';

const lostLine = (leaderId: string): RegExp => new RegExp(`lost the connection to the leader ${leaderId}; campaigning in ~\\d+ms unless it is heard from`);

/** A node whose peers reach it through a TCP relay the test can reset (its advertised address is the relay's). */
class RelayedNode extends NodeProcess {
  constructor(
    name: string,
    dataDir: string,
    httpPort: number,
    peerPort: number,
    readonly relay: TcpRelay,
  ) {
    super(name, dataDir, httpPort, peerPort);
  }

  override get peerAddress(): string {
    return this.relay.address;
  }
}

describe('leader loss detected through its connections (3 real node processes)', () => {
  const clusters: TestCluster[] = [];
  const relays: TcpRelay[] = [];
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(clusters.map((c) => c.destroy()));
    for (const r of relays) r.close();
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  it('kill -9 of the leader: a follower logs that it lost the leader and campaigns early; a survivor becomes leader', async () => {
    ensureBuilt();
    const cluster = await new TestCluster().init();
    clusters.push(cluster);
    const nodes = await cluster.form(3);
    const old = await cluster.leader();
    const oldId = old.id;
    const survivors = nodes.filter((n) => n !== old);
    await old.kill('SIGKILL');
    await waitFor('a survivor to log the connection loss', async () => survivors.some((n) => lostLine(oldId).test(n.output)), 10_000);
    const leader = await cluster.leader(survivors);
    expect(survivors).toContain(leader);
    expect((await leader.request('PUT', '/v1/kv/after-kill', 'ok')).status).toBe(200);
  });

  it('a live leader whose connections all reset at once keeps its leadership and term', async () => {
    ensureBuilt();
    const cluster = await new TestCluster().init();
    clusters.push(cluster);
    const root = await mkdtemp(path.join(os.tmpdir(), 'kuorum-relayed-'));
    dirs.push(root);
    const nodes: RelayedNode[] = [];
    for (let i = 1; i <= 3; i++) {
      const peerPort = await freePort();
      const relay = await startRelay(peerPort);
      relays.push(relay);
      const n = new RelayedNode(`n${i}`, path.join(root, `n${i}`), await freePort(), peerPort, relay);
      cluster.nodes.push(n);
      nodes.push(n);
    }
    nodes[0]!.start(['--bootstrap']);
    await nodes[0]!.waitUp();
    await waitFor('n1 to lead', async () => (await nodes[0]!.status()).role === 'leader');
    for (const n of nodes.slice(1)) {
      n.start();
      await n.waitUp();
      await cluster.addAndPromote(n);
    }
    const leader = await cluster.leader();
    const followers = nodes.filter((n) => n !== leader);
    const { term, configIndex } = await leader.status();
    // A member that has not applied its promotion yet is a learner, which never campaigns.
    await waitFor('every member to know it is a voter', async () => {
      const all = await Promise.all(followers.map((n) => n.status()));
      return all.every((s) => s.role === 'follower' && s.configIndex === configIndex);
    });
    for (let round = 0; round < 3; round++) {
      for (const r of relays) r.reset(); // every peer connection, both directions, at once
      await waitFor('the followers to notice', async () => followers.every((n) => (n.output.match(new RegExp(lostLine(leader.id), 'g')) ?? []).length > round), 10_000);
      await sleep(1_500); // over two election timeouts (600 ms): long enough for a disruptive election to happen
    }
    for (const n of nodes) expect(await n.status(), n.name).toMatchObject({ term, leaderId: leader.id });
    expect((await leader.request('PUT', '/v1/kv/after-blips', 'ok')).status).toBe(200);
  });
});
