/**
 * Removal, on both sides. The leader tells a removed member that its removal committed (the
 * member may never learn it otherwise: the leader stops replicating to it), keeping its address a
 * while for that ("lingering"). The removed member stops campaigning, records the removal in its
 * data dir, and refuses to rejoin with its old data.
 */
import { BadRequestError, ConflictError } from './errors.js';
import type { Transport } from './node-ports.js';
import type { NodeParts } from './node-settings.js';
import type { ConfChange, Message, NodeId, Status } from './raft/index.js';
import type { ForwardedRequest } from './server/node-api.js';
import { isRemovedSender, RemovedSenderNotices } from './removed-senders.js';

export const REMOVED_PATH = '/v1/internal/removed';

export const REJOIN_REFUSED =
  'this data dir belongs to a member that was removed from the cluster; it does not rejoin with its old data: remove it from the members again, empty its data dir and start it, then add it as the new member it reports';

export interface RemovedMembersDeps extends Pick<NodeParts, 'memberId' | 'log' | 'removed' | 'recordRemoved'> {
  transport: Pick<Transport, 'forward'>;
  /** How often at most the same removed sender is told again. */
  noticeIntervalMs: number;
  currentClusterId(): string;
  running(): boolean;
  /** The core's current status (called in the loop). */
  coreStatus(): Status;
  /** Hands the transport the members' and the lingering addresses. */
  updatePeers(): void;
}

export class RemovedMembers {
  /** Removed members' addresses while they are being told (the registry forgets them when the removal applies). */
  readonly lingering = new Map<NodeId, string>();
  private notice: boolean;
  private removalRecorded: Promise<void> | null = null;
  private readonly senderNotices: RemovedSenderNotices;

  constructor(private readonly deps: RemovedMembersDeps) {
    this.notice = deps.removed;
    if (deps.removed) this.removalRecorded = Promise.resolve();
    this.senderNotices = new RemovedSenderNotices(deps.noticeIntervalMs);
  }

  /** This member knows it was removed: it stops ticking and campaigning, and refuses to rejoin. */
  get noticed(): boolean {
    return this.notice;
  }

  /** Another member's removal was applied; a leader tells it, others forget its address. */
  otherRemovedApplied(id: NodeId, wasLeader: boolean): void {
    if (wasLeader) this.tellRemoved(id);
    else this.lingering.delete(id);
  }

  /** A conf change about this member was applied. */
  selfChangeApplied(cc: ConfChange, isLeader: boolean): void {
    if (cc.type === 'remove') {
      this.deps.log.warn('this node was removed from the cluster');
      // A leader that removed itself keeps ticking until a remaining voter knows the commit.
      if (!isLeader) this.notice = true;
      this.recordRemoved('applied').catch((err: unknown) => this.deps.log.error('could not record the removal in the data dir', { err: String(err) }));
    } else if (this.notice) {
      this.deps.log.error(REJOIN_REFUSED);
    }
  }

  /** On the removed member: the leader says this member's removal committed. */
  async noticeRemoved(body: { clusterId: string; memberId: string }): Promise<void> {
    const { memberId: id, log } = this.deps;
    const clusterId = this.deps.currentClusterId();
    if (body.memberId !== id) throw new BadRequestError(`this node is ${id}, not ${body.memberId}`);
    if (clusterId && body.clusterId !== clusterId) throw new ConflictError(`this node belongs to cluster ${clusterId}, not ${body.clusterId}`, 'cluster_mismatch');
    if (!this.notice) log.warn('this node was removed from the cluster (told by the leader); it no longer campaigns');
    this.notice = true;
    await this.recordRemoved('told');
  }

  /** In the loop (the core's configuration is current there): a removed member that missed tellRemoved() speaks up. */
  tellRemovedSender(from: NodeId, msgs: Message[], address: string | undefined): void {
    if (this.lingering.has(from) || !isRemovedSender(this.deps.coreStatus(), from, msgs)) return;
    if (!this.senderNotices.take(from, Date.now())) return;
    if (!address) {
      this.deps.log.warn('a removed member is still sending Raft messages, without its address: cannot tell it it was removed', { member: from });
      return;
    }
    this.deps.log.info('a removed member is still sending Raft messages; telling it it was removed', { member: from, address });
    this.lingering.set(from, address);
    this.deps.updatePeers();
    this.tellRemoved(from);
  }

  /** Over the Forward RPC, a few attempts; the address lingers until they are over. */
  private tellRemoved(id: NodeId): void {
    if (!this.lingering.has(id)) return;
    const { log, transport } = this.deps;
    const body = Buffer.from(JSON.stringify({ clusterId: this.deps.currentClusterId(), memberId: id }));
    const req: ForwardedRequest = { method: 'POST', path: REMOVED_PATH, headers: { 'content-type': 'application/json' }, body };
    const attempt = async (n: number): Promise<void> => {
      try {
        const res = await transport.forward(id, req, 1000);
        if (res.status === 200) log.info('told the removed member it was removed', { member: id });
        else log.warn('the removed member refused the notice', { member: id, status: res.status });
      } catch (err) {
        if (n < 5 && this.deps.running()) {
          await new Promise((r) => setTimeout(r, 500));
          return attempt(n + 1);
        }
        log.info('could not tell the removed member it was removed', { member: id, err: String(err) });
      }
    };
    void attempt(1).finally(() => {
      this.lingering.delete(id);
      if (this.deps.running()) this.deps.updatePeers();
    });
  }

  /** Once, durably: a restart then starts this member as removed (never campaigning). */
  private recordRemoved(learnedBy: 'told' | 'applied'): Promise<void> {
    this.removalRecorded ??= this.deps.recordRemoved(this.deps.currentClusterId(), learnedBy).catch((err: unknown) => {
      this.removalRecorded = null; // the next notice retries
      throw err;
    });
    return this.removalRecorded;
  }
}
