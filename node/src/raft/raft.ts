import { decodeConfChange, nextConfState } from './conf-change.js';
import type { ResolvedConfig } from './config.js';
import { ProposalDroppedError } from './errors.js';
import { RaftLog } from './log.js';
import { entrySize } from './memory-storage.js';
import { isTransferContext, newMessage, TRANSFER_CONTEXT } from './messages.js';
import type { Progress } from './progress.js';
import { ReadOnly } from './read-only.js';
import { handleAppend, handleHeartbeat, handleSnapshot } from './follower.js';
import { handleReadAck, handleReadIndex } from './reads.js';
import { ProgressTracker } from './tracker.js';
import type {
  ConfChange, ConfState, Entry, HardState, Logger, Message, MessageType, NodeId, ReadState, Role, SoftState, Snapshot,
} from './types.js';
import { NO_NODE } from './types.js';

const EMPTY = new Uint8Array();

/**
 * Ticks a follower that lost its connection to the leader still waits before its lease ends:
 * enough for a live leader whose connection merely reset to reconnect and heartbeat (which
 * cancels the suspicion). It then campaigns within as many ticks again, randomized.
 */
export const LEADER_LOSS_GRACE_TICKS = 3;

/**
 * The Raft state machine. Everything it wants done comes out as messages, unstable log
 * entries and read states that RawNode turns into Readys; it never does I/O itself.
 */
export class Raft {
  readonly id: NodeId;
  term = 0;
  vote: NodeId = NO_NODE;
  lead: NodeId = NO_NODE;
  state: Role = 'follower';
  readonly log: RaftLog;
  readonly trk: ProgressTracker;
  readonly readOnly = new ReadOnly();
  readonly logger: Logger;

  /** May be sent at once (a leader's appends and heartbeats, requests). */
  msgs: Message[] = [];
  /** Must wait until the state of the current Ready is durable (votes, acks). */
  msgsAfterPersist: Message[] = [];
  readStates: ReadState[] = [];

  leadTransferee: NodeId = NO_NODE;
  /** Index of the last conf change proposed by this leader; another may be proposed once it is applied. */
  pendingConfIndex = 0;
  /** With deferCommitBroadcast: the pendingConfIndex whose commit was broadcast at once (0: none this term). */
  private confCommitBroadcastAt = 0;
  uncommittedSize = 0;
  /** A leader that removed itself: the commit index a remaining voter must acknowledge before it steps down. */
  leavingAt = 0;
  /**
   * This leader's own removal is in its log but not applied yet. It then accepts no more
   * entries, so that its log does not outgrow the survivors': after the removal one of them
   * must be able to win this node's vote (with two voters it needs it).
   */
  private removingSelf = false;
  /** ReadIndex requests waiting until this leader has committed an entry of its term. */
  pendingReadIndexMessages: Message[] = [];

  electionElapsed = 0;
  private heartbeatElapsed = 0;
  randomizedElectionTimeout = 0;
  /** The transport reported the connection to our leader lost and it has not been heard from since. */
  private leaderSuspected = false;
  private readonly electionTimeout: number;
  private readonly heartbeatTimeout: number;

  constructor(private readonly cfg: ResolvedConfig) {
    this.id = cfg.id;
    this.logger = cfg.logger;
    this.electionTimeout = cfg.electionTick;
    this.heartbeatTimeout = cfg.heartbeatTick;
    this.log = new RaftLog(cfg.storage, cfg.logger, cfg.maxCommittedSizePerReady);
    this.trk = new ProgressTracker(cfg.maxInflightMsgs, cfg.maxInflightBytes);
    const { hardState, confState } = cfg.storage.initialState();
    this.trk.setConf(confState, this.log.lastIndex() + 1);
    if (hardState.commit < this.log.committed || hardState.commit > this.log.lastIndex()) {
      throw new Error(`raft: stored commit ${hardState.commit} is out of range [${this.log.committed}, ${this.log.lastIndex()}]`);
    }
    this.log.committed = hardState.commit;
    this.term = hardState.term;
    this.vote = hardState.vote;
    if (cfg.applied > this.log.applied) {
      if (cfg.applied > this.log.committed) throw new Error(`raft: applied ${cfg.applied} is above the stored commit ${this.log.committed}`);
      this.log.appliedTo(cfg.applied);
    }
    this.becomeFollower(this.term, NO_NODE);
    this.logger.info('raft node started', { id: this.id, term: this.term, commit: this.log.committed, applied: this.log.applied, lastIndex: this.log.lastIndex(), voters: confState.voters, learners: confState.learners });
  }

  softState(): SoftState {
    return { leader: this.lead, role: this.state };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  /** A voter in its own configuration: only those may campaign. */
  promotable(): boolean {
    return this.trk.voters.has(this.id);
  }

  // ---------------------------------------------------------------- sending

  send(m: Message, afterPersist = false): void {
    m.from = this.id;
    if (afterPersist) this.msgsAfterPersist.push(m);
    else this.msgs.push(m);
  }

  sendAtTerm(type: MessageType, to: NodeId, fields: Partial<Message> = {}, afterPersist = false): void {
    this.send(newMessage(type, to, { term: this.term, ...fields }), afterPersist);
  }

  /**
   * Sends an 'app' (or a snapshot) to `to` if its progress allows; returns whether something was
   * sent. `commitBroadcast`: sent because the commit index advanced (see noAck below).
   */
  maybeSendAppend(to: NodeId, sendIfEmpty: boolean, commitBroadcast = false): boolean {
    if (to === this.id) return false;
    const pr = this.trk.progress.get(to);
    if (!pr || pr.isPaused()) return false;
    const last = this.log.lastIndex();
    if (pr.next > last + 1) {
      this.logger.warn('progress next beyond the log; probing from the end', { to, next: pr.next, last });
      pr.next = last + 1;
    }
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    let ents: Entry[] = [];
    let compacted = prevTerm === undefined;
    if (!compacted && pr.next <= last) {
      try {
        ents = this.log.entries(pr.next, this.cfg.maxSizePerMsg);
      } catch {
        compacted = true;
      }
    }
    // A brand-new member starting from index 1 also needs the bootstrap configuration, which
    // lives only in the index-0 snapshot of a bootstrapped cluster, not in any entry.
    const needsBootstrapConf = prevIndex === 0 && pr.match === 0 && pr.state === 'probe' && this.bootstrapSnapshot(to) !== undefined;
    if (compacted || needsBootstrapConf) return this.sendSnapshot(to, pr);
    if (ents.length === 0 && !sendIfEmpty) return false;
    let bytes = 0;
    for (const e of ents) bytes += entrySize(e);
    const fields: Partial<Message> = { index: prevIndex, logTerm: prevTerm!, entries: ents, commit: this.log.committed };
    // Only the new commit index, to a follower that was sent every entry: the answers to those
    // appends (or, if they are lost, a heartbeat's resend) tell the leader what it holds, so this
    // one needs none. (A leader that is leaving, which waits for the followers' commit, sends
    // its appends from the tick, never as a commit broadcast: they are answered.)
    if (commitBroadcast && ents.length === 0 && pr.state === 'replicate' && prevIndex === last) fields.noAck = true;
    this.sendAtTerm('app', to, fields);
    if (this.log.committed > pr.sentCommit) pr.sentCommit = this.log.committed;
    pr.sentEntries(ents.length, bytes);
    return true;
  }

  private sendSnapshot(to: NodeId, pr: Progress): boolean {
    if (!pr.recentActive) {
      this.logger.debug('not sending a snapshot to an inactive follower', { to });
      return false;
    }
    const snap = this.log.snapshot();
    if (snap.metadata.index === 0 && this.bootstrapSnapshot(to) === undefined) {
      this.logger.warn('follower needs a snapshot but none is available yet', { to });
      return false;
    }
    this.logger.info('sending snapshot', { to, index: snap.metadata.index, term: snap.metadata.term });
    pr.becomeSnapshot(snap.metadata.index);
    this.sendAtTerm('snap', to, { snapshot: snap, index: snap.metadata.index, logTerm: snap.metadata.term });
    return true;
  }

  /**
   * The snapshot `to` needs before it may take entries from index 1. A bootstrapped cluster's
   * initial configuration lives only in a snapshot (the index-0 one, or folded into any later
   * one), never in an entry, so a member that joined later cannot learn it from the log.
   * Members that started with the index-0 configuration need nothing.
   */
  private bootstrapSnapshot(to: NodeId): Snapshot | undefined {
    if (this.log.firstIndex() !== 1) return undefined; // compacted: the ordinary snapshot path applies
    const s = this.log.snapshot();
    const cs = s.metadata.confState;
    if (cs.voters.length === 0) return undefined;
    if (s.metadata.index === 0 && (cs.voters.includes(to) || cs.learners.includes(to))) return undefined;
    return s;
  }

  bcastAppend(commitBroadcast = false): void {
    for (const id of this.trk.progress.keys()) if (id !== this.id) this.maybeSendAppend(id, true, commitBroadcast);
  }

  /** Heartbeats to every member, carrying the newest pending read context (if any). */
  bcastHeartbeat(): void {
    const context = this.readOnly.lastPendingContext();
    for (const id of this.trk.progress.keys()) if (id !== this.id) this.sendHeartbeat(id, context);
  }

  sendHeartbeat(to: NodeId, context: Uint8Array | undefined): void {
    const pr = this.trk.progress.get(to)!;
    const commit = Math.min(pr.match, this.log.committed);
    this.sendAtTerm('heartbeat', to, context ? { commit, context } : { commit });
    if (commit > pr.sentCommit) pr.sentCommit = commit;
  }

  // ---------------------------------------------------------------- role changes

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NO_NODE;
    }
    this.lead = NO_NODE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.leaderSuspected = false;
    this.resetRandomizedElectionTimeout();
    this.leadTransferee = NO_NODE;
    this.trk.resetVotes();
    const next = this.log.lastIndex() + 1;
    for (const id of [...this.trk.progress.keys()]) {
      const pr = this.trk.newProgress(next, this.trk.learners.has(id));
      pr.recentActive = false;
      if (id === this.id) pr.match = Math.min(this.log.lastStableIndex(), this.log.lastIndex());
      this.trk.progress.set(id, pr);
    }
    this.pendingConfIndex = 0;
    this.confCommitBroadcastAt = 0;
    this.uncommittedSize = 0;
    this.leavingAt = 0;
    this.removingSelf = false;
    this.readOnly.reset();
    this.pendingReadIndexMessages = [];
  }

  private resetRandomizedElectionTimeout(): void {
    const r = Math.floor(this.cfg.randomInt(this.electionTimeout));
    this.randomizedElectionTimeout = this.electionTimeout + Math.min(Math.max(r, 0), this.electionTimeout - 1);
  }

  becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.lead = lead;
    this.state = 'follower';
    this.logger.debug('became follower', { term, lead });
  }

  private becomePreCandidate(): void {
    if (this.state === 'leader') throw new Error('raft: leader cannot become a pre-candidate');
    // Does not touch term or vote: a pre-election must not disrupt anyone.
    this.trk.resetVotes();
    this.lead = NO_NODE;
    this.state = 'precandidate';
    this.logger.info('became pre-candidate', { term: this.term });
  }

  private becomeCandidate(): void {
    if (this.state === 'leader') throw new Error('raft: leader cannot become a candidate');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.state = 'candidate';
    this.logger.info('became candidate', { term: this.term });
  }

  private becomeLeader(): void {
    if (this.state === 'follower') throw new Error('raft: follower cannot become leader directly');
    this.reset(this.term);
    this.lead = this.id;
    this.state = 'leader';
    const self = this.trk.progress.get(this.id);
    if (self) {
      self.becomeReplicate();
      self.recentActive = true;
    }
    // Any conf change in the uncommitted tail may still be pending; be conservative.
    this.pendingConfIndex = this.log.lastIndex();
    this.removingSelf = this.tailRemovesSelf();
    this.appendEntries([{ term: 0, index: 0, type: 'normal', data: EMPTY }]);
    this.logger.info('became leader', { term: this.term, lastIndex: this.log.lastIndex() });
  }

  // ---------------------------------------------------------------- ticks

  tick(): void {
    if (this.state === 'leader') this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.endSuspicion();
      this.hup(false);
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0;
      // A leader that removed itself keeps going until a remaining voter knows the commit (see
      // applyConfChange): stepping down earlier could leave the survivors unable to elect anyone.
      if (this.cfg.checkQuorum && this.leavingAt === 0) {
        if (!this.trk.quorumActive(this.id)) {
          this.logger.warn('stepping down: no quorum of voters heard from in an election timeout', { term: this.term });
          this.becomeFollower(this.term, NO_NODE);
          return;
        }
        for (const [id, pr] of this.trk.progress) if (id !== this.id) pr.recentActive = false;
      }
      if (this.leadTransferee !== NO_NODE) {
        this.logger.info('leadership transfer timed out', { to: this.leadTransferee });
        this.leadTransferee = NO_NODE;
      }
    }
    if (this.heartbeatElapsed >= this.heartbeatTimeout) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat();
      if (this.leavingAt > 0) this.bcastAppend(); // answered after persisting, with the follower's commit
    }
  }

  // ---------------------------------------------------------------- elections

  private hasUnappliedConfChanges(): boolean {
    try {
      return this.log.someEntry(this.log.applied + 1, this.log.committed + 1, this.cfg.maxSizePerMsg, (e) => e.type === 'confChange');
    } catch (err) {
      this.logger.error('cannot scan for unapplied conf changes', { err: String(err) });
      return true;
    }
  }

  /** Starts an election (a pre-election first if PreVote is on, unless this is a transfer). */
  hup(transfer: boolean): void {
    if (this.state === 'leader') {
      this.logger.debug('ignoring campaign: already leader');
      return;
    }
    if (!this.promotable()) {
      this.logger.warn('ignoring campaign: not a voter in the current configuration');
      return;
    }
    if (this.hasUnappliedConfChanges()) {
      this.logger.warn('ignoring campaign: a committed conf change is not applied yet', { applied: this.log.applied, committed: this.log.committed });
      return;
    }
    this.logger.info('starting an election', { term: this.term, transfer });
    if (this.cfg.preVote && !transfer) this.campaign('preVote', false);
    else this.campaign('vote', transfer);
  }

  private campaign(kind: 'preVote' | 'vote', transfer: boolean): void {
    let term: number;
    if (kind === 'preVote') {
      this.becomePreCandidate();
      term = this.term + 1;
      // Pre-votes change no durable state, so the self pre-vote counts at once.
      this.trk.recordVote(this.id, true);
      if (this.trk.tallyVotes().result === 'won') {
        this.campaign('vote', false);
        return;
      }
    } else {
      this.becomeCandidate();
      term = this.term;
      // The self vote counts only once the term and vote are durable (see selfVoteDurable).
    }
    const lastIndex = this.log.lastIndex();
    const lastTerm = this.log.lastTerm();
    for (const id of this.trk.voters) {
      if (id === this.id) continue;
      const fields: Partial<Message> = { term, index: lastIndex, logTerm: lastTerm };
      if (transfer) fields.context = TRANSFER_CONTEXT;
      this.send(newMessage(kind, id, fields));
    }
  }

  /** The candidate's own vote for its current term is now durable. */
  selfVoteDurable(): void {
    if (this.state !== 'candidate' || this.vote !== this.id) return;
    this.poll(this.id, true);
  }

  private poll(id: NodeId, granted: boolean): void {
    this.trk.recordVote(id, granted);
    const { result, granted: g, rejected } = this.trk.tallyVotes();
    this.logger.debug('vote tally', { state: this.state, term: this.term, granted: g, rejected });
    if (result === 'won' && !this.promotable()) {
      // The configuration changed under the campaign (e.g. this node's removal was applied).
      this.logger.info('won an election but is no longer a voter; standing down');
      this.becomeFollower(this.term, NO_NODE);
    } else if (result === 'won') {
      if (this.state === 'precandidate') this.campaign('vote', false);
      else {
        this.becomeLeader();
        this.bcastAppend();
      }
    } else if (result === 'lost') {
      this.becomeFollower(this.term, NO_NODE);
    }
  }

  // ---------------------------------------------------------------- step

  step(m: Message): void {
    if (m.term === 0) {
      // A forwarded request (prop, readIndex, transferLeader): no term to compare.
    } else if (m.term > this.term) {
      if (m.type === 'vote' || m.type === 'preVote') {
        const force = isTransferContext(m.context);
        const leaseApplies = m.type === 'preVote' || this.cfg.checkQuorum;
        const inLease = leaseApplies && this.lead !== NO_NODE && this.electionElapsed < this.electionTimeout;
        if (!force && inLease) {
          this.logger.info('ignoring a vote request: the current leader is alive (lease)', { type: m.type, from: m.from, term: m.term, lead: this.lead });
          return;
        }
      }
      if (m.type === 'preVote') {
        // Never change our term for a pre-vote.
      } else if (m.type === 'preVoteResp' && !m.reject) {
        // The term in a granted pre-vote is the one we hope to win; bumped when we campaign.
      } else {
        this.logger.info('received a message with a higher term', { type: m.type, from: m.from, term: m.term, ourTerm: this.term });
        const lead = m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap' ? m.from : NO_NODE;
        this.becomeFollower(m.term, lead);
      }
    } else if (m.term < this.term) {
      if ((this.cfg.checkQuorum || this.cfg.preVote) && (m.type === 'heartbeat' || m.type === 'app')) {
        // A stale leader (e.g. cut off and then rejoined): tell it our term so it steps down.
        this.sendAtTerm('appResp', m.from);
      } else if (m.type === 'preVote') {
        this.sendAtTerm('preVoteResp', m.from, { reject: true }, true);
      } else {
        this.logger.debug('ignoring a message with a lower term', { type: m.type, from: m.from, term: m.term, ourTerm: this.term });
      }
      return;
    }

    if (m.type === 'vote' || m.type === 'preVote') {
      this.handleVoteRequest(m);
      return;
    }
    switch (this.state) {
      case 'leader':
        this.stepLeader(m);
        break;
      case 'candidate':
      case 'precandidate':
        this.stepCandidate(m);
        break;
      case 'follower':
        this.stepFollower(m);
        break;
    }
  }

  private handleVoteRequest(m: Message): void {
    const respType = m.type === 'vote' ? 'voteResp' : 'preVoteResp';
    const canVote =
      this.vote === m.from ||
      (this.vote === NO_NODE && this.lead === NO_NODE) ||
      (m.type === 'preVote' && m.term > this.term);
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      this.logger.info('granting vote', { type: m.type, to: m.from, term: m.term });
      // The response carries the request's term (a pre-vote grant must not bump the candidate).
      this.send(newMessage(respType, m.from, { term: m.term }), true);
      if (m.type === 'vote') {
        this.electionElapsed = 0;
        this.vote = m.from;
      } else if (this.leaderSuspected) {
        // Give that candidate a grace to finish before campaigning ourselves: two followers that
        // both lost the leader must not start their elections a few ms apart and split the vote.
        this.randomizedElectionTimeout = Math.max(this.randomizedElectionTimeout, this.electionElapsed + LEADER_LOSS_GRACE_TICKS);
      }
    } else {
      this.logger.info('rejecting vote', { type: m.type, to: m.from, term: m.term, vote: this.vote, lead: this.lead });
      this.sendAtTerm(respType, m.from, { reject: true }, true);
    }
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case 'prop':
        try {
          this.propose(m.entries, false);
          const pr = this.trk.progress.get(m.from);
          if (pr) pr.proposedUpTo = this.log.lastIndex();
        } catch (err) {
          this.logger.info('dropping a forwarded proposal', { from: m.from, reason: String(err) });
        }
        return;
      case 'readIndex':
        this.readIndex(m);
        return;
      case 'transferLeader':
        this.startTransfer(m.from);
        return;
      default:
        break;
    }
    const pr = this.trk.progress.get(m.from);
    if (!pr) {
      this.logger.debug('leader: message from a non-member dropped', { type: m.type, from: m.from });
      return;
    }
    switch (m.type) {
      case 'appResp':
        this.handleAppendResponse(m, pr);
        break;
      case 'heartbeatResp':
        pr.recentActive = true;
        pr.msgAppFlowPaused = false;
        // Appends (or their acks) may have been lost while the window was full: make room for
        // one more, which the follower either accepts or rejects (and then we probe).
        if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirstOne();
        if (pr.match < this.log.lastIndex()) this.maybeSendAppend(m.from, true);
        if (m.context && m.context.length > 0) handleReadAck(this, m.from, m.context);
        break;
      default:
        this.logger.debug('leader: ignoring message', { type: m.type, from: m.from });
    }
  }

  private maybeFinishLeaving(): void {
    if (this.leavingAt === 0 || this.state !== 'leader') return;
    for (const id of this.trk.voters) {
      if (this.trk.progress.get(id)!.commitKnown >= this.leavingAt) {
        this.logger.info('a remaining voter knows the removal is committed; stepping down', { voter: id });
        this.becomeFollower(this.term, NO_NODE);
        return;
      }
    }
  }

  private handleAppendResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    if (!m.reject && m.commit > pr.commitKnown) {
      pr.commitKnown = m.commit;
      this.maybeFinishLeaving();
      if (this.state !== 'leader') return;
    }
    if (m.reject) {
      let hint = m.rejectHint;
      if (m.logTermHint !== undefined && m.logTermHint > 0) {
        [hint] = this.log.findConflictByTerm(m.rejectHint, m.logTermHint);
      }
      if (pr.maybeDecrTo(m.index, hint)) {
        this.logger.debug('follower rejected append; backing off', { from: m.from, index: m.index, hint, next: pr.next });
        if (pr.state === 'replicate') pr.becomeProbe();
        this.maybeSendAppend(m.from, true);
      }
      return;
    }
    const wasPaused = pr.isPaused();
    const updated = pr.maybeUpdate(m.index);
    if (pr.state === 'snapshot' && pr.match + 1 >= this.log.firstIndex()) {
      this.logger.info('follower caught up after a snapshot', { from: m.from, match: pr.match });
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot) {
      // The snapshot is installed but we compacted past it meanwhile: probe, which sends a newer one.
      this.logger.info('follower installed a snapshot that is already too old; sending another', { from: m.from, match: pr.match });
      pr.becomeProbe();
      this.maybeSendAppend(m.from, true);
      return;
    } else if (!updated) {
      return;
    } else if (pr.state === 'probe') {
      pr.becomeReplicate();
    } else if (pr.state === 'replicate') {
      pr.inflights.freeLE(m.index);
    }
    if (this.maybeCommit()) {
      this.afterCommit();
    } else if (wasPaused) {
      this.maybeSendAppend(m.from, true);
    }
    while (this.maybeSendAppend(m.from, false)) {
      // keep the pipeline full
    }
    // Its entries may have committed before it acknowledged them (another follower was first).
    if (this.cfg.deferCommitBroadcast) this.sendAwaitedCommit(m.from, pr);
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) {
      this.logger.info('transferee caught up; sending timeoutNow', { to: m.from });
      this.sendAtTerm('timeoutNow', m.from);
    }
  }

  /** The leader's own entries up to `index` are durable. */
  selfDurable(index: number): void {
    if (this.state !== 'leader') return;
    const pr = this.trk.progress.get(this.id);
    if (!pr || !pr.maybeUpdate(index)) return;
    if (this.maybeCommit()) this.afterCommit();
  }

  private maybeCommit(): boolean {
    return this.log.maybeCommit(this.trk.committed(), this.term);
  }

  private afterCommit(): void {
    // A committed conf change goes out to everyone at once: a member it removes leaves the
    // leader's progress when the leader applies it, and would never hear the commit otherwise
    // (it learns its removal from its own log).
    const confCommitted = this.pendingConfIndex > this.confCommitBroadcastAt && this.pendingConfIndex <= this.log.committed;
    if (confCommitted) this.confCommitBroadcastAt = this.pendingConfIndex;
    if (this.cfg.deferCommitBroadcast && !confCommitted) {
      // Entries still go out at once, and so does the commit to a follower whose writers wait
      // for it (it forwarded the entries); to the others, one that would carry nothing but the
      // commit waits for the next append or broadcastCommit().
      for (const [id, pr] of this.trk.progress) {
        if (id === this.id) continue;
        this.maybeSendAppend(id, false);
        this.sendAwaitedCommit(id, pr);
      }
    } else {
      this.bcastAppend(true);
    }
    if (this.committedEntryInCurrentTerm() && this.pendingReadIndexMessages.length > 0) {
      const pending = this.pendingReadIndexMessages;
      this.pendingReadIndexMessages = [];
      for (const m of pending) this.readIndex(m);
    }
  }

  /**
   * With deferCommitBroadcast: whether some follower holds committed entries it was not yet told
   * are committed, and could be sent an 'app' now (broadcastCommit() would send something).
   */
  commitNoticeDue(): boolean {
    if (this.state !== 'leader') return false;
    for (const [id, pr] of this.trk.progress) if (id !== this.id && this.owesCommit(pr)) return true;
    return false;
  }

  /** Sends the commit index to each follower commitNoticeDue() counts. */
  broadcastCommit(): void {
    if (this.state !== 'leader') return;
    for (const [id, pr] of this.trk.progress) if (id !== this.id && this.owesCommit(pr)) this.maybeSendAppend(id, true, true);
  }

  /** With deferCommitBroadcast: tells a follower at once that entries it forwarded (and holds) committed. */
  private sendAwaitedCommit(id: NodeId, pr: Progress): void {
    if (pr.proposedUpTo > pr.sentCommit && this.owesCommit(pr)) this.maybeSendAppend(id, true, true);
  }

  private owesCommit(pr: Progress): boolean {
    return Math.min(this.log.committed, pr.match) > pr.sentCommit && pr.state === 'replicate' && !pr.isPaused();
  }

  committedEntryInCurrentTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case 'prop':
        this.logger.info('dropping a forwarded proposal: no leader', { from: m.from });
        return;
      case 'app':
        this.becomeFollower(m.term, m.from);
        handleAppend(this, m);
        return;
      case 'heartbeat':
        this.becomeFollower(m.term, m.from);
        handleHeartbeat(this, m);
        return;
      case 'snap':
        this.becomeFollower(m.term, m.from);
        handleSnapshot(this, m);
        return;
      case 'preVoteResp':
      case 'voteResp':
        if ((m.type === 'preVoteResp') === (this.state === 'precandidate')) this.poll(m.from, !m.reject);
        return;
      default:
        this.logger.debug('candidate: ignoring message', { type: m.type, from: m.from });
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case 'prop':
        if (this.lead === NO_NODE || this.cfg.disableProposalForwarding) {
          this.logger.info('dropping a forwarded proposal', { from: m.from, lead: this.lead });
          return;
        }
        this.send(newMessage('prop', this.lead, { entries: m.entries }));
        return;
      case 'app':
        this.heardFromLeader(m.from);
        handleAppend(this, m);
        return;
      case 'heartbeat':
        this.heardFromLeader(m.from);
        handleHeartbeat(this, m);
        return;
      case 'snap':
        this.heardFromLeader(m.from);
        handleSnapshot(this, m);
        return;
      case 'transferLeader':
      case 'readIndex':
        if (this.lead === NO_NODE) {
          this.logger.info(`dropping ${m.type}: no leader`, { from: m.from });
          return;
        }
        this.send(newMessage(m.type, this.lead, { entries: m.entries, term: 0 }));
        this.msgs[this.msgs.length - 1]!.from = m.from; // keep the original requester / transferee
        return;
      case 'timeoutNow':
        this.logger.info('received timeoutNow; campaigning for a leadership transfer', { from: m.from });
        this.hup(true);
        return;
      case 'readIndexResp':
        this.readStates.push({ index: m.index, context: m.entries[0]!.data });
        return;
      default:
        this.logger.debug('follower: ignoring message', { type: m.type, from: m.from });
    }
  }

  // ---------------------------------------------------------------- proposals

  /** Appends entries to the leader's log; false if the uncommitted-size cap refuses them. */
  private appendEntries(ents: Entry[]): boolean {
    let li = this.log.lastIndex();
    const stamped = ents.map((e) => ({ term: this.term, index: ++li, type: e.type, data: e.data }));
    const size = RaftLog.payloadSize(stamped);
    const cap = this.cfg.maxUncommittedEntriesSize;
    if (cap > 0 && this.uncommittedSize > 0 && size > 0 && this.uncommittedSize + size > cap) return false;
    this.uncommittedSize += size;
    this.log.append(stamped);
    return true;
  }

  /** The leader lowers the uncommitted size as its committed entries are handed out for application. */
  reduceUncommittedSize(ents: Entry[]): void {
    if (this.state !== 'leader') return;
    this.uncommittedSize = Math.max(0, this.uncommittedSize - RaftLog.payloadSize(ents));
  }

  /** Proposes entries (data and type are used); throws ProposalDroppedError. `local` = from this node's app. */
  propose(entries: Entry[], local: boolean): void {
    if (entries.length === 0) return;
    if (this.state === 'follower') {
      if (this.lead === NO_NODE) throw new ProposalDroppedError('no leader');
      if (this.cfg.disableProposalForwarding) throw new ProposalDroppedError('proposal forwarding is disabled');
      this.send(newMessage('prop', this.lead, { entries: entries.map((e) => ({ term: 0, index: 0, type: e.type, data: e.data })) }));
      return;
    }
    if (this.state !== 'leader') throw new ProposalDroppedError(`no leader (this node is a ${this.state})`);
    if (this.leavingAt > 0 || !this.trk.voters.has(this.id)) throw new ProposalDroppedError('this leader is no longer a voter');
    if (this.removingSelf) throw new ProposalDroppedError('this leader is removing itself from the cluster');
    if (this.leadTransferee !== NO_NODE) throw new ProposalDroppedError(`leadership is being transferred to ${this.leadTransferee}`);
    const ents: Entry[] = entries.map((e) => ({ term: 0, index: 0, type: e.type, data: e.data }));
    let confAt = -1;
    for (let i = 0; i < ents.length; i++) {
      if (ents[i]!.type !== 'confChange') continue;
      const refusal = this.confChangeRefusal(ents[i]!.data, confAt >= 0);
      if (refusal !== undefined) {
        if (local) throw new ProposalDroppedError(refusal);
        this.logger.info('replacing a refused forwarded conf change with a no-op', { reason: refusal });
        ents[i] = { term: 0, index: 0, type: 'normal', data: EMPTY };
      } else {
        confAt = i;
      }
    }
    const before = this.log.lastIndex();
    if (!this.appendEntries(ents)) throw new ProposalDroppedError('too many uncommitted bytes (maxUncommittedEntriesSize)');
    if (confAt >= 0) {
      this.pendingConfIndex = before + 1 + confAt;
      const cc = decodeConfChange(ents[confAt]!.data);
      if (cc.type === 'remove' && cc.nodeId === this.id) this.removingSelf = true;
    }
    this.bcastAppend();
  }

  /** Whether the uncommitted or unapplied tail of the log holds this node's own removal. */
  private tailRemovesSelf(): boolean {
    const removesSelf = (e: Entry): boolean => {
      if (e.type !== 'confChange') return false;
      try {
        const cc = decodeConfChange(e.data);
        return cc.type === 'remove' && cc.nodeId === this.id;
      } catch {
        return false; // never committed: the leader refuses undecodable conf changes
      }
    };
    try {
      return this.log.someEntry(this.log.applied + 1, this.log.lastIndex() + 1, this.cfg.maxSizePerMsg, removesSelf);
    } catch {
      return false;
    }
  }

  private confChangeRefusal(data: Uint8Array, anotherInBatch: boolean): string | undefined {
    if (anotherInBatch || this.pendingConfIndex > this.log.applied) {
      return 'another conf change is pending (one at a time)';
    }
    let cc: ConfChange;
    try {
      cc = decodeConfChange(data);
    } catch (err) {
      return String(err instanceof Error ? err.message : err);
    }
    const { noop } = nextConfState(this.trk.confState(), cc);
    if (noop !== undefined) return `conf change ${cc.type} ${cc.nodeId} refused: ${noop}`;
    return undefined;
  }

  // ---------------------------------------------------------------- conf changes

  applyConfChange(cc: ConfChange): ConfState {
    const { conf, noop } = nextConfState(this.trk.confState(), cc);
    if (noop !== undefined) {
      this.logger.info('conf change is a no-op', { type: cc.type, nodeId: cc.nodeId, reason: noop });
      return this.trk.confState();
    }
    const before = new Set(this.trk.progress.keys());
    this.trk.setConf(conf, this.log.lastIndex() + 1);
    this.logger.info('applied conf change', { type: cc.type, nodeId: cc.nodeId, voters: conf.voters, learners: conf.learners });
    if (this.state === 'leader') {
      if (!this.trk.voters.has(this.id)) {
        // Stepping down at once could strand the remaining voters: if none of them knows the
        // removal is committed, they may still count this node in their quorum (e.g. 2 → 1).
        // So the leader stays until a remaining voter has durably acknowledged the commit.
        this.leavingAt = this.log.committed;
        this.logger.info('leader is no longer a voter; leaving once a remaining voter knows the commit', { commit: this.leavingAt });
        this.maybeFinishLeaving();
        if (this.state === 'leader') this.bcastAppend();
      } else {
        if (this.leadTransferee !== NO_NODE && !this.trk.voters.has(this.leadTransferee)) this.leadTransferee = NO_NODE;
        if (this.maybeCommit()) this.afterCommit();
        for (const id of this.trk.progress.keys()) if (!before.has(id)) this.maybeSendAppend(id, true);
      }
    } else if (this.state !== 'follower' && !this.promotable()) {
      this.logger.info('no longer a voter; abandoning the campaign');
      this.becomeFollower(this.term, NO_NODE);
    }
    return this.trk.confState();
  }

  // ---------------------------------------------------------------- reads (see reads.ts)

  /** Handles a ReadIndex request: local (from = '' or self) or forwarded by a follower. */
  readIndex(m: Message): void {
    handleReadIndex(this, m);
  }

  // ---------------------------------------------------------------- leadership transfer

  transferLeadership(to: NodeId): void {
    if (this.state === 'leader') {
      this.startTransfer(to);
    } else if (this.lead === NO_NODE || this.state !== 'follower') {
      this.logger.info('dropping transferLeadership: no leader', { to });
    } else {
      const m = newMessage('transferLeader', this.lead);
      this.msgs.push({ ...m, from: to });
    }
  }

  private startTransfer(to: NodeId): void {
    const pr = this.trk.progress.get(to);
    if (!pr || !this.trk.voters.has(to)) {
      this.logger.warn('refusing leadership transfer to a node that is not a voter', { to });
      return;
    }
    if (to === this.id) {
      this.logger.info('leadership transfer to self: already leader');
      return;
    }
    if (this.leadTransferee !== NO_NODE) {
      if (this.leadTransferee === to) {
        this.logger.info('leadership transfer already in progress', { to });
        return;
      }
      this.logger.info('aborting the previous leadership transfer', { to: this.leadTransferee });
    }
    this.leadTransferee = to;
    this.electionElapsed = 0; // the transfer must finish within one election timeout
    this.logger.info('starting leadership transfer', { to, match: pr.match, lastIndex: this.log.lastIndex() });
    if (pr.match === this.log.lastIndex()) this.sendAtTerm('timeoutNow', to);
    else this.maybeSendAppend(to, true);
  }

  // ---------------------------------------------------------------- reports from the app

  private heardFromLeader(from: NodeId): void {
    this.electionElapsed = 0;
    this.lead = from;
    this.endSuspicion();
  }

  /**
   * The transport saw its connection to `id` end abruptly (its process probably died: the kernel
   * closes a dead process's sockets at once). A follower of `id` then stops counting as "in
   * lease" after LEADER_LOSS_GRACE_TICKS, so it grants pre-votes, and campaigns itself within
   * another LEADER_LOSS_GRACE_TICKS, randomized so that followers that all saw the loss do not
   * split the vote. Anything from the leader meanwhile cancels this. A follower that alone lost
   * its connection cannot disrupt a live leader: the others are still in lease and refuse its
   * pre-vote. Returns the ticks until it campaigns, or undefined when ignored (not a follower
   * of `id`, not a voter, or already suspecting).
   */
  suspectLeader(id: NodeId): number | undefined {
    if (this.state !== 'follower' || id === NO_NODE || this.lead !== id || !this.promotable() || this.leaderSuspected) return undefined;
    const grace = Math.min(LEADER_LOSS_GRACE_TICKS, this.electionTimeout);
    this.leaderSuspected = true;
    this.electionElapsed = Math.max(this.electionElapsed, this.electionTimeout - grace);
    const r = Math.min(Math.max(Math.floor(this.cfg.randomInt(grace)), 0), grace - 1);
    this.randomizedElectionTimeout = Math.min(this.randomizedElectionTimeout, this.electionTimeout + r);
    return Math.max(1, this.randomizedElectionTimeout - this.electionElapsed);
  }

  /** Back to a full randomized election timeout once the suspicion is over (heard from, or campaigned). */
  private endSuspicion(): void {
    if (!this.leaderSuspected) return;
    this.leaderSuspected = false;
    this.resetRandomizedElectionTimeout();
  }

  reportUnreachable(id: NodeId): void {
    if (this.state !== 'leader') return;
    const pr = this.trk.progress.get(id);
    if (pr && pr.state === 'replicate') pr.becomeProbe();
  }

  reportSnapshot(id: NodeId, ok: boolean): void {
    if (this.state !== 'leader') return;
    const pr = this.trk.progress.get(id);
    if (!pr || pr.state !== 'snapshot') return;
    if (!ok) pr.pendingSnapshot = 0;
    pr.becomeProbe();
    // Wait for the follower's answer (or a heartbeat response) before the next append.
    pr.msgAppFlowPaused = true;
    this.logger.info('snapshot report', { id, ok, next: pr.next });
  }
}
