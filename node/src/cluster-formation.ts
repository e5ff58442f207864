/**
 * How a node comes to belong to a cluster: it forms one (bootstrap), or a leader adds it and
 * introduces it (the members' addresses and the cluster ID); the cluster ID is also learnt from
 * a leader's first valid contact. The leader's side introduces the members it has just added.
 */
import { ConflictError } from './errors.js';
import type { MemberRecord, Transport } from './node-ports.js';
import type { NodeParts, NodeSettings } from './node-settings.js';
import type { NodeId, Status } from './raft/index.js';
import { REJOIN_REFUSED } from './removed-members.js';
import type { ForwardedRequest } from './server/node-api.js';

export const INTRODUCE_PATH = '/v1/internal/introduce';

export interface IntroduceBody {
  clusterId: string;
  leaderId: string;
  members: { id: string; peerAddress: string }[];
}

export interface ClusterFormationDeps extends Pick<NodeParts, 'memberId' | 'clusterId' | 'store' | 'kv' | 'log' | 'recordClusterId' | 'newClusterId'> {
  transport: Pick<Transport, 'setClusterId' | 'setPeers' | 'forward'>;
  settings: Pick<NodeSettings, 'name' | 'advertisePeer'>;
  /** The core's status as of the last Ready. */
  status(): Status;
  isMember(): boolean;
  /** This member knows it was removed. */
  knowsItWasRemoved(): boolean;
  /** Runs `fn` in the Ready loop, between two Readys. */
  withRaw<T>(fn: () => T): Promise<T>;
  /** Between two Readys: a new RawNode from the storage (after bootstrap saved its snapshot). */
  restartRaw(): void;
}

export class ClusterFormation {
  private cluster: string;
  private bootstrapping = false;
  private learning: Promise<void> = Promise.resolve();
  private readonly introduced = new Map<NodeId, number>();

  constructor(private readonly deps: ClusterFormationDeps) {
    this.cluster = deps.clusterId ?? '';
  }

  /** Empty until this node bootstraps a cluster or learns the ID of the one it was added to. */
  get clusterId(): string {
    return this.cluster;
  }

  /** An empty, unjoined node that may form a new cluster. */
  canBootstrap(): boolean {
    return !this.bootstrapping && !this.deps.isMember() && !this.hasHistory() && !this.clusterId;
  }

  /** Forms a one-member cluster: a new cluster ID, and a snapshot at index 0 holding this member. */
  async bootstrap(): Promise<void> {
    if (this.bootstrapping) throw new ConflictError('a bootstrap is already in progress', 'already_formed');
    if (!this.canBootstrap()) {
      throw new ConflictError('this node is already part of a cluster (or was); bootstrap needs an empty, unjoined node', 'already_formed');
    }
    this.bootstrapping = true;
    try {
      const { memberId: id, settings, store, kv, transport } = this.deps;
      const clusterId = this.deps.newClusterId();
      const self: MemberRecord = { id, name: settings.name, peerAddress: settings.advertisePeer, role: 'voter' };
      const data = await kv.bootstrapData(self);
      const snapshot = { metadata: { index: 0, term: 0, confState: { voters: [id], learners: [] } }, data };
      await this.deps.withRaw(() => undefined); // wait for a point between Readys
      await this.deps.recordClusterId(clusterId);
      this.cluster = clusterId;
      transport.setClusterId(clusterId);
      await store.save({ snapshot }, { sync: true });
      await kv.restore(data, 0);
      await this.deps.withRaw(() => this.deps.restartRaw());
      this.deps.log.info('bootstrapped a new cluster', { clusterId });
    } finally {
      this.bootstrapping = false;
    }
  }

  /** On an unjoined node: learn the peers and the cluster ID from the leader's introduction. */
  async introduce(body: IntroduceBody): Promise<void> {
    if (this.deps.knowsItWasRemoved()) throw new ConflictError(REJOIN_REFUSED, 'member_removed');
    if (this.clusterId && body.clusterId !== this.clusterId) {
      throw new ConflictError(`this node belongs to cluster ${this.clusterId}, not ${body.clusterId}`, 'cluster_mismatch');
    }
    if (this.deps.isMember()) return;
    await this.learnClusterId(body.clusterId);
    this.deps.transport.setPeers(body.members.filter((m) => m.id !== this.deps.memberId).map((m) => ({ id: m.id, address: m.peerAddress })));
  }

  /** Records the cluster ID once; calls are serialized (the transport and an introduction may race). */
  learnClusterId(clusterId: string): Promise<void> {
    const next = this.learning.then(() => this.doLearnClusterId(clusterId));
    this.learning = next.catch((err: unknown) => this.deps.log.error('could not record the cluster ID', { err: String(err) }));
    return next;
  }

  /**
   * On the leader: a member that never matched anything (just added) cannot answer us before it
   * knows our address: the leader tells it the members and the cluster ID over the Forward RPC.
   */
  introduceNewMembers(st: Status): void {
    const { memberId: self, kv, transport, log } = this.deps;
    const now = Date.now();
    for (const [id, pr] of st.progress ?? []) {
      if (id === self || pr.match > 0) continue;
      if (now - (this.introduced.get(id) ?? 0) < 1000) continue;
      this.introduced.set(id, now);
      const body: IntroduceBody = {
        clusterId: this.clusterId,
        leaderId: self,
        members: kv.members().map((m) => ({ id: m.id, peerAddress: m.peerAddress })),
      };
      const req: ForwardedRequest = { method: 'POST', path: INTRODUCE_PATH, headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify(body)) };
      transport.forward(id, req, 1000).then(
        (res) => {
          if (res.status !== 200) log.warn('new member refused the introduction', { member: id, status: res.status, body: Buffer.from(res.body).toString() });
        },
        (err: unknown) => log.debug('introduction to a new member failed; will retry', { member: id, err: String(err) }),
      );
    }
  }

  private hasHistory(): boolean {
    return this.deps.store.storage.lastIndex() > 0 || this.deps.kv.appliedIndex() > 0 || this.deps.status().term > 0;
  }

  private async doLearnClusterId(clusterId: string): Promise<void> {
    if (this.clusterId === clusterId || !clusterId) return;
    if (this.clusterId) {
      this.deps.log.error('refusing a second cluster ID', { own: this.clusterId, offered: clusterId });
      return;
    }
    await this.deps.recordClusterId(clusterId);
    this.cluster = clusterId;
    this.deps.transport.setClusterId(clusterId);
    this.deps.log.info('joined cluster', { clusterId });
  }
}
