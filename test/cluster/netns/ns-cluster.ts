/**
 * A kuorum cluster whose nodes each run in their own network-namespace test host, with
 * packet-loss partitions between them. destroy() kills every node and removes the namespaces.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ensureBuilt, waitFor } from '../harness.js';
import { NsNode } from './ns-node.js';
import { Partitions } from './partitions.js';
import { TestNetwork } from './test-network.js';

export interface NodeStatus {
  id: string;
  role: string;
  term: number;
  leaderId: string | null;
  commit: number;
  applied: number;
  lastIndex: number;
}

export class NsCluster {
  nodes: NsNode[] = [];
  private root = '';

  private constructor(
    readonly network: TestNetwork,
    readonly partitions: Partitions,
  ) {}

  /**
   * Builds the node, makes `size + spare` namespaces, bootstraps n1 and adds n2..n<size> as
   * learners then voters. Spare hosts get a node object that is not started (see join()).
   */
  static async form(size: number, spare = 0): Promise<NsCluster> {
    ensureBuilt();
    const network = await TestNetwork.create(size + spare);
    let cluster: NsCluster | undefined;
    try {
      cluster = new NsCluster(network, await Partitions.install(network.hosts));
      cluster.root = await mkdtemp(path.join(os.tmpdir(), 'kuorum-netns-'));
      cluster.nodes = network.hosts.map((h) => new NsNode(h, path.join(cluster!.root, `n${h.index}`)));
      const [first, ...rest] = cluster.nodes.slice(0, size);
      first!.start(['--bootstrap']);
      await first!.waitUp();
      await waitFor('n1 to lead', async () => (await first!.status()).role === 'leader');
      const members = [first!];
      for (const n of rest) {
        n.start();
        await n.waitUp();
        await cluster.addAndPromote(n, members);
        members.push(n);
      }
      return cluster;
    } catch (err) {
      if (cluster) await cluster.destroy();
      else network.destroySync();
      throw err;
    }
  }

  /** Starts a spare node and makes it a voter through the current leader. */
  async join(n: NsNode): Promise<void> {
    n.start();
    await n.waitUp();
    await this.addAndPromote(n, this.nodes.filter((m) => m !== n && m.running));
  }

  /** Removes a member through the leader (409 while another change is pending is retried). */
  async remove(n: NsNode): Promise<void> {
    await waitFor(`${n.name} removed`, async () => {
      const leader = await this.leader(this.nodes.filter((m) => m.running));
      const r = await leader.request('DELETE', `/v1/members/${n.id}`, undefined, {}, 10_000);
      if (r.status === 200 || r.status === 204) return true;
      if (r.status !== 409 && r.status !== 503) throw new Error(`remove ${n.name}: ${r.status} ${r.text}`);
      return false;
    });
  }

  private async addAndPromote(n: NsNode, members: NsNode[]): Promise<void> {
    const leader = await this.leader(members);
    const add = await leader.request('POST', '/v1/members', { id: n.id, name: n.name, peerAddress: n.peerAddress, learner: true });
    if (add.status !== 201) throw new Error(`add ${n.name}: ${add.status} ${add.text}`);
    await waitFor(`${n.name} promoted`, async () => {
      const r = await (await this.leader(members)).request('POST', `/v1/members/${n.id}/promote`);
      if (r.status === 200) return true;
      if (r.status !== 409 && r.status !== 503) throw new Error(`promote ${n.name}: ${r.status} ${r.text}`);
      return false;
    });
    await waitFor(`${n.name} ready`, async () => (await n.request('GET', '/readyz')).status === 200);
  }

  async statusOf(n: NsNode): Promise<NodeStatus | undefined> {
    try {
      const r = await n.request('GET', '/v1/status', undefined, {}, 2_000);
      return r.status === 200 ? (r.json() as NodeStatus) : undefined;
    } catch {
      return undefined;
    }
  }

  /** A running node in `among` that says it leads and that a majority of `among` follows (or agrees on). */
  async leader(among: NsNode[] = this.nodes.filter((n) => n.running), timeoutMs = 20_000): Promise<NsNode> {
    return waitFor(
      'a leader',
      async () => {
        const statuses = await Promise.all(among.map((n) => this.statusOf(n)));
        for (let i = 0; i < among.length; i++) {
          const s = statuses[i];
          if (s?.role !== 'leader') continue;
          const backers = statuses.filter((o) => o && (o.leaderId === s.id || o.id === s.id) && o.term === s.term).length;
          if (backers * 2 > among.length) return among[i];
        }
        return undefined;
      },
      timeoutMs,
    );
  }

  async destroy(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.kill('SIGKILL').catch(() => undefined)));
    this.network.destroySync();
    if (this.root) await rm(this.root, { recursive: true, force: true });
  }

  logs(): string {
    return this.nodes.map((n) => `--- ${n.name} (${n.host.address}) ---\n${n.output.slice(-4000)}`).join('\n');
  }
}
