/**
 * Changes to the cluster's membership, made on the leader: adding, promoting and removing a
 * member (one conf change at a time, answered once it is applied here), and handing leadership
 * to another voter.
 */
import { ConflictError, NotFoundError, NotLeaderError, TimeoutError } from './errors.js';
import type { StateMachine } from './node-ports.js';
import type { NodeParts, NodeSettings } from './node-settings.js';
import { mostCaughtUpVoter } from './node-views.js';
import { NO_NODE, ProposalDroppedError, type ConfChange, type NodeId, type RawNode, type Status } from './raft/index.js';
import type { AddMemberRequest, MemberInfo } from './server/node-api.js';

export interface MembershipChangesDeps extends Pick<NodeParts, 'memberId' | 'log'> {
  /** Its member registry (names and addresses). */
  kv: Pick<StateMachine, 'members'>;
  settings: Pick<NodeSettings, 'proposalTimeoutMs' | 'electionTimeoutMs' | 'promoteMaxLag'>;
  /** The core's status as of the last Ready. */
  status(): Status;
  /** Runs `fn` with the RawNode between two Readys. */
  withRaw<T>(fn: (raw: RawNode) => T): Promise<T>;
  /** Throws unless this node is a member that was not removed. */
  requireMember(): void;
  isLeader(): boolean;
  members(): MemberInfo[];
}

interface ConfWaiter {
  cc: ConfChange;
  resolve(): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

export class MembershipChanges {
  private confWaiter: ConfWaiter | null = null;

  constructor(private readonly deps: MembershipChangesDeps) {}

  async addMember(req: AddMemberRequest): Promise<MemberInfo> {
    this.deps.requireMember();
    if (this.memberInfo(req.id) || req.id === this.deps.memberId) throw new ConflictError(`member ${req.id} already exists`, 'member_exists');
    const clash = this.deps.kv.members().find((m) => m.name === req.name || m.peerAddress === req.peerAddress);
    if (clash) throw new ConflictError(`member ${clash.id} already uses name ${clash.name} / address ${clash.peerAddress}`, 'member_exists');
    const context = Buffer.from(JSON.stringify({ name: req.name, peerAddress: req.peerAddress }));
    await this.proposeConfChange({ type: req.learner ? 'addLearner' : 'addVoter', nodeId: req.id, context }, `adding member ${req.id}`);
    return this.memberInfo(req.id) ?? { id: req.id, name: req.name, peerAddress: req.peerAddress, role: req.learner ? 'learner' : 'voter', isLeader: false };
  }

  async promoteMember(id: string): Promise<MemberInfo> {
    this.deps.requireMember();
    if (!this.deps.isLeader()) throw new NotLeaderError();
    const m = this.memberInfo(id);
    if (!m) throw new NotFoundError(`member ${id} not found`, 'member_not_found');
    if (m.role === 'voter') throw new ConflictError(`member ${id} is already a voter`, 'already_voter');
    const st = this.deps.status();
    const match = st.progress?.get(id)?.match ?? 0;
    if (match === 0 || st.lastIndex - match > this.deps.settings.promoteMaxLag) {
      throw new ConflictError(`learner ${id} has not caught up yet (match ${match}, leader's last index ${st.lastIndex}); retry later`, 'not_caught_up');
    }
    await this.proposeConfChange({ type: 'promote', nodeId: id, context: new Uint8Array() }, `promoting member ${id}`);
    return this.memberInfo(id) ?? { ...m, role: 'voter' };
  }

  async removeMember(id: string): Promise<{ id: string }> {
    this.deps.requireMember();
    if (!this.deps.isLeader()) throw new NotLeaderError();
    const m = this.memberInfo(id);
    if (!m) throw new NotFoundError(`member ${id} not found`, 'member_not_found');
    const voters = this.deps.status().config.voters;
    if (m.role === 'voter' && voters.length === 1) throw new ConflictError('cannot remove the only voter', 'last_voter');
    if (id === this.deps.memberId) {
      const to = this.bestTransferee();
      if (!to) throw new ConflictError('no other voter to hand leadership to before removing the leader', 'last_voter');
      await this.doTransfer(to, this.transferWaitMs());
      throw new NotLeaderError('leadership was handed over before removing this node; the new leader removes it');
    }
    await this.proposeConfChange({ type: 'remove', nodeId: id, context: new Uint8Array() }, `removing member ${id}`);
    return { id };
  }

  async transferLeadership(to?: string): Promise<{ leaderId: string }> {
    this.deps.requireMember();
    if (!this.deps.isLeader()) throw new NotLeaderError();
    if (to !== undefined) {
      const m = this.memberInfo(to);
      if (!m) throw new NotFoundError(`member ${to} not found`, 'member_not_found');
      if (m.role !== 'voter') throw new ConflictError(`member ${to} is a learner and cannot lead`, 'not_voter');
      if (to === this.deps.memberId) return { leaderId: this.deps.memberId };
    }
    const target = to ?? this.bestTransferee();
    if (!target) throw new ConflictError('there is no other voter to hand leadership to', 'no_transferee');
    await this.doTransfer(target, this.transferWaitMs());
    return { leaderId: this.deps.status().leader };
  }

  /** A leader hands leadership to the most caught-up voter (bounded wait); others do nothing. */
  async handOverLeadership(handoverTimeoutMs: number): Promise<void> {
    if (this.deps.isLeader() && handoverTimeoutMs > 0) {
      const to = this.bestTransferee();
      if (to) {
        this.deps.log.info('handing over leadership before stopping', { to });
        try {
          await this.doTransfer(to, handoverTimeoutMs);
        } catch (err) {
          this.deps.log.warn('leadership handover failed; stopping anyway', { err: (err as Error).message });
        }
      }
    }
  }

  /** A conf change was applied here: the change waiting for it is answered. */
  applied(cc: ConfChange): void {
    const w = this.confWaiter;
    if (w && w.cc.type === cc.type && w.cc.nodeId === cc.nodeId) {
      this.confWaiter = null;
      clearTimeout(w.timer);
      w.resolve();
    }
  }

  /** Fails the change being waited for (the node is stopping). */
  rejectPending(err: Error): void {
    if (this.confWaiter) {
      clearTimeout(this.confWaiter.timer);
      this.confWaiter.reject(err);
      this.confWaiter = null;
    }
  }

  private memberInfo(id: NodeId): MemberInfo | undefined {
    return this.deps.members().find((m) => m.id === id);
  }

  private async proposeConfChange(cc: ConfChange, what: string): Promise<void> {
    this.deps.requireMember();
    if (!this.deps.isLeader()) throw new NotLeaderError();
    if (this.confWaiter) throw new ConflictError(`another membership change is in progress (${this.confWaiter.cc.type} ${this.confWaiter.cc.nodeId})`, 'change_pending');
    const timeoutMs = this.deps.settings.proposalTimeoutMs;
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.confWaiter?.cc === cc) this.confWaiter = null;
        reject(new TimeoutError(`${what} was not committed within ${timeoutMs} ms; it may still take effect`));
      }, timeoutMs);
      this.confWaiter = { cc, resolve, reject, timer };
    });
    try {
      await this.proposeConfChangeAfterBarrier(cc);
    } catch (err) {
      const w = this.confWaiter as ConfWaiter | null;
      if (w?.cc === cc) {
        clearTimeout(w.timer);
        this.confWaiter = null;
      }
      done.catch(() => undefined);
      if (err instanceof ProposalDroppedError) {
        if (/pending|uncommitted|unapplied/i.test(err.message)) throw new ConflictError(`another membership change is pending: ${err.message}`, 'change_pending');
        if (/refused/i.test(err.message)) throw new ConflictError(err.message, 'conf_change_refused');
        throw new NotLeaderError(err.message);
      }
      throw err;
    }
    await done;
  }

  /**
   * A new leader refuses conf changes until it has applied everything in its log at election
   * (an earlier change may hide there). Rather than answer 409 for that, wait for the log to be
   * applied (at most an election timeout) and try once more.
   */
  private async proposeConfChangeAfterBarrier(cc: ConfChange): Promise<void> {
    try {
      await this.deps.withRaw((raw) => raw.proposeConfChange(cc));
      return;
    } catch (err) {
      const st = this.deps.status();
      if (!(err instanceof ProposalDroppedError) || !/pending/.test(err.message) || st.applied >= st.lastIndex) throw err;
      const target = st.lastIndex;
      const deadline = Date.now() + this.deps.settings.electionTimeoutMs;
      while (this.deps.status().applied < target && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    }
    await this.deps.withRaw((raw) => raw.proposeConfChange(cc));
  }

  private bestTransferee(): NodeId | undefined {
    return mostCaughtUpVoter(this.deps.status(), this.deps.memberId);
  }

  /** How long an API call waits for a leadership transfer to finish. */
  private transferWaitMs(): number {
    return Math.max(this.deps.settings.proposalTimeoutMs, this.deps.settings.electionTimeoutMs * 3);
  }

  private async doTransfer(to: NodeId, timeoutMs: number): Promise<void> {
    const { electionTimeoutMs } = this.deps.settings;
    await this.deps.withRaw((raw) => raw.transferLeadership(to));
    const deadline = Date.now() + timeoutMs;
    let askedAt = Date.now();
    while (Date.now() < deadline) {
      const st = this.deps.status();
      if (st.leader === to) return;
      if (st.role !== 'leader' && st.leader !== NO_NODE && st.leader !== this.deps.memberId) return;
      // The core abandons a transfer that did not finish within an election timeout: ask again.
      if (st.role === 'leader' && st.leadTransferee === NO_NODE && Date.now() - askedAt > electionTimeoutMs) {
        askedAt = Date.now();
        await this.deps.withRaw((raw) => raw.transferLeadership(to));
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new TimeoutError(`leadership did not move to ${to} within ${timeoutMs} ms`);
  }
}
