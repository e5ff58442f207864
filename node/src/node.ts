/**
 * The Ready loop: one async loop owns the RawNode. Between Readys it feeds the core ticks, peer
 * messages, proposals (all queued since the last Ready go in one proposeBatch: group commit),
 * ReadIndex requests and admin actions. For each Ready it sends `messages` at once, persists
 * (one synced batch), sends `messagesAfterPersist`, applies committed entries through the state
 * machine, resolves the waiting requests, serves ReadIndex reads, then advance()s.
 */
import { randomBytes } from 'node:crypto';
import { ClusterFormation, type IntroduceBody } from './cluster-formation.js';
import { CommitNoticeTimer } from './commit-notice.js';
import { NoLeaderError, NotReadyError, TimeoutError, UnavailableError } from './errors.js';
import type { JsonLogger } from './logger.js';
import { LeaderForwarding } from './leader-forwarding.js';
import { MembershipChanges } from './membership-changes.js';
import type { NodeMetrics } from './metrics.js';
import type { ApplyItem, StateMachine, Transport, WriteOutcome } from './node-ports.js';
import type { NodeParts, NodeSettings } from './node-settings.js';
import { NO_NODE, ProposalDroppedError, RawNode, decodeConfChange, type ConfChange, type Message, type NodeId, type Ready, type Status } from './raft/index.js';
import type { RaftLogStore } from './storage/index.js';
import type {
  AddMemberRequest,
  Consistency,
  ForwardedRequest,
  ForwardedResponse,
  KvList,
  KvRecord,
  MemberInfo,
  NodeApi,
  NodeStatus,
  Readiness,
  WatchEvent,
  WatchHandle,
  WriteCondition,
} from './server/node-api.js';
import { loopGauges, memberList, quorumContactReadiness } from './node-views.js';
import { ReadBatcher } from './read-batcher.js';
import { RemovedMembers } from './removed-members.js';
import { SnapshotScheduler } from './snapshot-scheduler.js';
import { Waiters } from './waiters.js';
import { outcomeToResult } from './write-outcome.js';

export type { NodeParts, NodeSettings } from './node-settings.js';
export { INTRODUCE_PATH, type IntroduceBody } from './cluster-formation.js';
export { REMOVED_PATH } from './removed-members.js';

interface PendingRead {
  index: number;
  resolve(): void;
}

/**
 * Event-loop rounds the Ready loop lets pass before each iteration, so that what arrives in them
 * joins one Ready. A/B at put ×64 (alternating pairs): one round +15–22% throughput over none;
 * two rounds +4–11% over one (3 of 3 pairs, 261–282 vs 291–293 µs/op of server CPU). With
 * writes in the background, three rounds over two: put ×64 +3%, ×256 +5% (2 of 2 pairs, ×256
 * 105 vs 110–112 µs/op); four measured the same as three.
 */
const BATCHING_ROUNDS = 3;
/** Readys whose entries may wait for the state machine before the loop waits for it. */
const MAX_APPLY_BACKLOG = 4;
/** Readys being written at once; the next waits for them (a slow disk holds the loop back). */
const MAX_PERSISTS_IN_FLIGHT = 8;

export class KuorumNode implements NodeApi {
  private raw: RawNode;
  private readonly store: RaftLogStore;
  private readonly kv: StateMachine;
  private readonly transport: Transport;
  private readonly metrics: NodeMetrics;
  private readonly log: JsonLogger;
  readonly id: NodeId;
  private readonly formation: ClusterFormation;
  private readonly removedMembers: RemovedMembers;
  private readonly membershipChanges: MembershipChanges;
  private readonly snapshots: SnapshotScheduler;
  private readonly forwarding: LeaderForwarding;

  private running = false;
  private loopDone: Promise<void> = Promise.resolve();
  private wake: (() => void) | null = null;
  private ticker: NodeJS.Timeout | null = null;
  private ticks = 0;
  private inbox: Message[] = [];
  private actions: (() => void)[] = [];
  private proposalQueue: { requestId: string; data: Uint8Array }[] = [];
  /** Sends a commit index the next append did not carry in time (the core defers commit broadcasts). */
  private readonly commitNotice = new CommitNoticeTimer(() => this.enqueue(() => this.raw.broadcastCommit()));

  private readonly proposals: Waiters<string, WriteOutcome>;
  private readonly reads: ReadBatcher;
  private pendingReads: PendingRead[] = [];
  private readonly requestPrefix = randomBytes(6).toString('hex');
  private requestSeq = 0;

  private softLeader: NodeId = NO_NODE;
  private lastStatus: Status;
  private readonly lastContact = new Map<NodeId, number>();
  private configIndex = 0;
  private everMember = false;
  private applying: Promise<void> = Promise.resolve();
  private applyFailure: Error | null = null;
  private applyBacklog = 0;
  /** The writes of accepted Readys, chained in order (the log store runs them one at a time). */
  private persisting: Promise<void> = Promise.resolve();
  private persistsInFlight = 0;
  /** Readys written since the last iteration: the core is told in order, between two Readys. */
  private persistedReadys: { raw: RawNode; rd: Ready }[] = [];
  /** The last entry handed to the state machine (it may not have applied it yet). */
  private dispatchedIndex = 0;
  /**
   * The last committed entry the core handed out and the loop went through (its conf changes
   * reached the core), or the snapshot the core installed. The state machine can be ahead of it
   * (a leader's state as of sending, or a restart): the core hands those entries out again.
   */
  private coreHandedOut = 0;
  private readonly pendingConfApplied: { index: number; cc: ConfChange }[] = [];

  constructor(
    private readonly settings: NodeSettings,
    private readonly parts: NodeParts,
  ) {
    this.store = parts.store;
    this.kv = parts.kv;
    this.transport = parts.transport;
    this.metrics = parts.metrics;
    this.log = parts.log;
    this.id = parts.memberId;
    const status = (): Status => this.lastStatus;
    const withRaw = <T>(fn: (raw: RawNode) => T): Promise<T> => this.withRaw(fn);
    const isMember = (): boolean => this.isMember();
    const requireMember = (): void => this.requireMember();
    this.formation = new ClusterFormation({ ...parts, settings, status, isMember, withRaw, restartRaw: () => this.restartRaw(), knowsItWasRemoved: () => this.removedNotice });
    this.removedMembers = new RemovedMembers({
      ...parts,
      noticeIntervalMs: 10 * settings.electionTimeoutMs,
      currentClusterId: () => this.clusterId,
      running: () => this.running,
      coreStatus: () => this.raw.status(),
      updatePeers: () => this.updatePeers(),
    });
    this.membershipChanges = new MembershipChanges({ ...parts, settings, status, withRaw, requireMember, isLeader: () => this.isLeader(), members: () => this.members() });
    this.snapshots = new SnapshotScheduler({ ...parts, settings, isMember, coreHandedOut: () => this.coreHandedOut });
    this.forwarding = new LeaderForwarding({ ...parts, leader: () => this.lastStatus.leader, requireMember });
    this.proposals = new Waiters<string, WriteOutcome>(() => this.metrics.proposalsFailed.inc({ reason: 'timeout' }));
    this.reads = new ReadBatcher({
      ask: (ctx) => this.enqueue(() => this.raw.readIndex(ctx)),
      retryMs: Math.max(50, Math.floor(settings.electionTimeoutMs / 3)),
      timeoutMs: settings.proposalTimeoutMs,
    });
    this.raw = this.newRawNode();
    this.lastStatus = this.raw.status();
    this.coreHandedOut = this.store.storage.snapshot().metadata.index;
    // After a restart: a member of a cluster before (it applied that cluster's state).
    this.everMember = this.isMember() || (this.clusterId !== '' && this.kv.appliedIndex() > 0);
  }

  // State the modules own, under the names the Ready loop's code uses.
  private get clusterId(): string {
    return this.formation.clusterId;
  }
  private get removedNotice(): boolean {
    return this.removedMembers.noticed;
  }
  private get lingering(): Map<NodeId, string> {
    return this.removedMembers.lingering;
  }

  private newRawNode(): RawNode {
    // Entries after the snapshot are handed out again and conf changes among them re-applied to
    // the core; the state machine skips what it already applied.
    return new RawNode({
      id: this.id,
      storage: this.store.storage,
      electionTick: this.settings.electionTick,
      heartbeatTick: this.settings.heartbeatTick,
      applied: this.store.storage.snapshot().metadata.index,
      maxSizePerMsg: 1024 * 1024,
      maxInflightMsgs: 256,
      maxUncommittedEntriesSize: 64 * 1024 * 1024,
      maxCommittedSizePerReady: 16 * 1024 * 1024,
      // A commit index goes with the next append, or after COMMIT_NOTICE_DELAY_MS (commit-notice.ts).
      deferCommitBroadcast: true,
      randomInt: (n) => Math.floor(Math.random() * n),
      logger: this.log.child({ component: 'raft' }),
    });
  }

  // ---- lifecycle ----

  async start(): Promise<void> {
    this.transport.onMessages((msgs, from, fromAddress) => {
      const now = Date.now();
      for (const m of msgs) this.lastContact.set(m.from, now);
      this.inbox.push(...msgs);
      const c = this.lastStatus.config;
      if (this.lastStatus.role === 'leader' && !c.voters.includes(from) && !c.learners.includes(from)) {
        this.enqueue(() => this.removedMembers.tellRemovedSender(from, msgs, fromAddress));
      }
      this.notify();
    });
    this.transport.onUnreachable((id) => this.enqueue(() => this.raw.reportUnreachable(id)));
    this.transport.onConnectionLost((id) => this.enqueue(() => this.suspectLeader(id)));
    this.transport.onSnapshotStatus((id, ok) => this.enqueue(() => this.raw.reportSnapshot(id, ok)));
    this.metrics.peerErrorSource = () => this.transport.peerErrorCounts();
    this.metrics.loopSource = () => loopGauges(this.lastStatus, this.id, { appliedIndex: this.kv.appliedIndex(), snapshotIndex: this.snapshots.lastIndex, proposalsPending: this.proposals.size });
    this.transport.onClusterId((id) => void this.formation.learnClusterId(id));
    this.transport.setForwardHandler((req) => this.forwarding.serve(req));
    if (this.clusterId) this.transport.setClusterId(this.clusterId);
    this.updatePeers();
    await this.transport.start();
    this.running = true;
    this.ticker = setInterval(() => {
      this.ticks++;
      this.notify();
    }, this.settings.tickMs);
    // Only when nothing in the log is left to apply: a conf change there could add voters.
    const others = this.kv.members().some((m) => m.id !== this.id);
    if (!others && this.store.storage.lastIndex() <= this.kv.appliedIndex()) this.enqueue(() => this.campaignIfSoleVoter());
    this.loopDone = this.loop();
    this.log.info('node started', { id: this.id, clusterId: this.clusterId, member: this.isMember(), removed: this.removedNotice, snapshotIndex: this.snapshots.lastIndex });
  }

  /** A leader hands leadership to the most caught-up voter (bounded wait); others do nothing. */
  handOverLeadership(handoverTimeoutMs: number): Promise<void> {
    return this.membershipChanges.handOverLeadership(handoverTimeoutMs);
  }

  /** Stops the loop and closes the transport, the state machine and the log. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.ticker) clearInterval(this.ticker);
    this.commitNotice.stop();
    this.notify();
    await this.loopDone;
    await this.persisting;
    await this.applying;
    await this.snapshots.idle();
    const err = new UnavailableError('the node is shutting down', 'shutting_down');
    this.proposals.rejectAll(err);
    this.reads.rejectAll(err);
    this.membershipChanges.rejectPending(err);
    await this.transport.stop();
    await this.kv.close();
    await this.store.close();
  }

  /**
   * A connection with `id` ended abruptly. If it is our leader, its process has probably died:
   * the core campaigns after a short grace instead of a whole election timeout, unless the
   * leader is heard from meanwhile (a reset connection is re-opened within the grace).
   */
  private suspectLeader(id: NodeId): void {
    const inTicks = this.raw.suspectLeader(id);
    if (inTicks === undefined) return;
    this.log.info(`lost the connection to the leader ${id}; campaigning in ~${inTicks * this.settings.tickMs}ms unless it is heard from`, { leader: id, inTicks });
  }

  /** A one-voter cluster need not wait an election timeout to elect itself. */
  private campaignIfSoleVoter(): void {
    if (this.removedNotice) return;
    const c = this.raw.status().config;
    if (c.voters.length === 1 && c.voters[0] === this.id) this.raw.campaign();
  }

  /** Between two Readys, after bootstrap saved its snapshot: a core that starts from it. */
  private restartRaw(): void {
    this.raw = this.newRawNode();
    this.lastStatus = this.raw.status();
    this.coreHandedOut = this.store.storage.snapshot().metadata.index;
    this.campaignIfSoleVoter();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private enqueue(action: () => void): void {
    this.actions.push(action);
    this.notify();
  }

  /** Runs `fn` with the RawNode between two Readys and returns its result. */
  private withRaw<T>(fn: (raw: RawNode) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.enqueue(() => {
        try {
          resolve(fn(this.raw));
        } catch (err) {
          reject(err as Error);
        }
      });
    });
  }

  // ---- the loop ----

  private async loop(): Promise<void> {
    while (this.running) {
      if (this.ticks === 0 && this.inbox.length === 0 && this.actions.length === 0 && this.proposalQueue.length === 0 && this.persistedReadys.length === 0 && !this.raw.hasReady()) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        continue;
      }
      // The rest of this event-loop round runs first: requests and peer messages that arrive
      // together join one Ready (one fsync, one append per follower) instead of the
      // first of them getting a Ready of its own and the others waiting for its save.
      for (let round = 0; round < BATCHING_ROUNDS; round++) await new Promise<void>((resolve) => setImmediate(resolve));
      if (!this.running) break; // stopped meanwhile
      try {
        if (this.applyFailure) throw this.applyFailure;
        await this.iteration();
      } catch (err) {
        this.log.fatal({ err }, 'the Ready loop failed; stopping');
        this.running = false;
        this.parts.onFatal(err as Error);
        return;
      }
    }
  }

  private async iteration(): Promise<void> {
    const raw = this.raw;
    // A member told of its removal stops ticking, so it never disturbs the cluster by campaigning.
    if (this.removedNotice) this.ticks = 0;
    this.tellPersisted(raw);
    for (; this.ticks > 0; this.ticks--) raw.tick();
    const msgs = this.inbox;
    this.inbox = [];
    for (const m of msgs) raw.step(m);
    const actions = this.actions;
    this.actions = [];
    for (const a of actions) a();
    this.flushProposals();

    if (this.raw !== raw || !this.raw.hasReady()) {
      this.afterReady();
      this.maybeSnapshot(); // applies finish in the background: a snapshot may have become due since the last Ready
      return;
    }
    const rd = raw.ready();
    await this.handleReady(raw, rd);
    this.afterReady();
    this.maybeSnapshot();
  }

  private flushProposals(): void {
    if (this.proposalQueue.length === 0) return;
    const batch = this.proposalQueue;
    this.proposalQueue = [];
    try {
      this.raw.proposeBatch(batch.map((p) => p.data));
    } catch (err) {
      const e = err instanceof ProposalDroppedError ? new NoLeaderError(`the write was not proposed: ${err.message}; retry`) : (err as Error);
      for (const p of batch) {
        this.metrics.proposalsFailed.inc({ reason: 'dropped' });
        this.proposals.reject(p.requestId, e);
      }
    }
  }

  /**
   * A member that knows it was removed still takes in the log (it may yet apply its own removal)
   * but never answers: if its ID is added again, the leader sees it unmatched and keeps
   * introducing it, which it refuses, instead of replicating to it as a member.
   */
  private sendRaft(msgs: Message[]): void {
    if (msgs.length === 0) return;
    if (this.removedNotice) {
      this.metrics.raftMessagesWithheld.inc(msgs.length);
      return;
    }
    this.transport.send(msgs);
  }

  /**
   * Sends, applies and hands the Ready's state to the log store, then returns: the loop goes on
   * (steps acknowledgements, commits, applies) while the write is in flight. Its messages that
   * need that state durable (acknowledgements, votes) go out when the write completes.
   */
  private async handleReady(raw: RawNode, rd: Ready): Promise<void> {
    if (rd.softState) this.onSoftState(rd.softState.leader);
    this.sendRaft(rd.messages);
    if (rd.snapshot) return this.handleSnapshotReady(raw, rd);
    const write = rd.hardState !== undefined || rd.entries.length > 0;
    // Handed to the log store before anything is applied: a snapshot of the state (which joins the
    // store's queue) then always follows the commit index that covers it.
    if (write) this.persist(raw, rd);
    // The core hands out only entries durable here: they are applied without waiting for this write.
    await this.dispatchApply(raw, rd);
    for (const rs of rd.readStates) this.reads.answer(rs.context, rs.index);
    if (!write && (this.persistsInFlight === 0 || rd.messagesAfterPersist.length === 0)) {
      this.sendRaft(rd.messagesAfterPersist);
      raw.advance(rd);
      return;
    }
    // Acknowledgements may cover entries of a write still in flight (a resent append): a Ready
    // that writes nothing still waits for those writes, and the core is told like for a write.
    if (!write) this.persisting = this.persisting.then(() => this.persisted(raw, rd));
    raw.acceptReady(rd);
    if (this.persistsInFlight > MAX_PERSISTS_IN_FLIGHT) await this.persisting;
  }

  /** Writes the Ready's hard state and entries behind the writes in flight; the core is told when they are durable. */
  private persist(raw: RawNode, rd: Ready): void {
    this.persistsInFlight++;
    const started = process.hrtime.bigint();
    const written = this.store.save({ hardState: rd.hardState, entries: rd.entries }, { sync: rd.mustSync });
    this.persisting = written.then(
      () => {
        this.persistsInFlight--;
        if (rd.mustSync) this.metrics.fsyncDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
        this.persisted(raw, rd);
      },
      (err: unknown) => {
        this.persistsInFlight--;
        this.applyFailure ??= err as Error;
        this.notify();
      },
    );
  }

  /** The Ready's state is durable (or it had none, behind writes that are): its acknowledgements go out, the core is told next iteration. */
  private persisted(raw: RawNode, rd: Ready): void {
    this.sendRaft(rd.messagesAfterPersist);
    this.persistedReadys.push({ raw, rd });
    this.notify();
  }

  /** Tells the core which accepted Readys are durable now (a core replaced since is not told). */
  private tellPersisted(raw: RawNode): void {
    if (this.persistedReadys.length === 0) return;
    const done = this.persistedReadys;
    this.persistedReadys = [];
    for (const p of done) if (p.raw === raw) raw.persisted(p.rd);
  }

  /** A snapshot replaces the log and the state: the writes and applies before it finish first. */
  private async handleSnapshotReady(raw: RawNode, rd: Ready): Promise<void> {
    const snapshot = rd.snapshot!;
    await this.persisting;
    if (this.applyFailure) throw this.applyFailure;
    this.tellPersisted(raw);
    await this.applyDone();
    const started = process.hrtime.bigint();
    await this.store.save({ hardState: rd.hardState, entries: rd.entries, snapshot }, { sync: true });
    this.metrics.fsyncDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
    this.coreHandedOut = Math.max(this.coreHandedOut, snapshot.metadata.index);
    if (snapshot.metadata.index > this.kv.appliedIndex()) {
      await this.kv.restore(snapshot.data, snapshot.metadata.index);
      this.snapshots.installed(snapshot.metadata.index);
      this.updatePeers();
      // The leader sends its state as of sending: `applied` may be ahead of the snapshot's index.
      this.log.info('installed a snapshot from the leader', { index: snapshot.metadata.index, applied: this.kv.appliedIndex() });
    }
    this.sendRaft(rd.messagesAfterPersist);
    await this.dispatchApply(raw, rd);
    for (const rs of rd.readStates) this.reads.answer(rs.context, rs.index);
    raw.advance(rd);
  }

  /**
   * Pipelined: the state machine applies these entries while the loop goes on (persisting the
   * next Readys); the core needs them durable, not applied, to advance. Bounded backlog.
   */
  private async dispatchApply(raw: RawNode, rd: Ready): Promise<void> {
    if (rd.committedEntries.length === 0) return;
    if (this.applyBacklog >= MAX_APPLY_BACKLOG) await this.applyDone();
    const items = this.prepareApply(raw, rd);
    if (items.length === 0) return;
    this.applyBacklog++;
    this.applying = this.applying
      .then(() => this.applyItems(items))
      .then(
        () => this.resolvePendingReads(),
        (err: unknown) => {
          this.applyFailure ??= err as Error;
          this.notify();
        },
      )
      .finally(() => this.applyBacklog--);
  }

  /** Waits for the applies in flight; one that failed stops the loop (the state is unknown). */
  private async applyDone(): Promise<void> {
    await this.applying;
    if (this.applyFailure) throw this.applyFailure;
  }

  /**
   * In the loop, before advance(): conf changes reach the core, and the entries not yet handed
   * to the state machine are picked.
   */
  private prepareApply(raw: RawNode, rd: Ready): ApplyItem[] {
    const handedOut = Math.max(this.kv.appliedIndex(), this.dispatchedIndex);
    const items: ApplyItem[] = [];
    for (const entry of rd.committedEntries) {
      let item: ApplyItem = { entry };
      if (entry.type === 'confChange') {
        try {
          const cc = decodeConfChange(entry.data);
          const confState = raw.applyConfChange(cc);
          item = { entry, confChange: cc, confState };
          this.configIndex = Math.max(this.configIndex, entry.index);
          if (entry.index > handedOut) this.pendingConfApplied.push({ index: entry.index, cc });
          if (cc.type === 'remove') {
            // Kept for tellRemoved(): the registry forgets the address when the removal applies.
            const address = this.kv.members().find((m) => m.id === cc.nodeId)?.peerAddress;
            if (address && cc.nodeId !== this.id) this.lingering.set(cc.nodeId, address);
          }
        } catch (err) {
          this.log.error('undecodable conf change entry; applied as a no-op', { index: entry.index, err: String(err) });
          item = { entry: { ...entry, type: 'normal', data: new Uint8Array() } };
        }
      }
      if (entry.index > handedOut) items.push(item);
    }
    if (items.length > 0) this.dispatchedIndex = items[items.length - 1]!.entry.index;
    this.coreHandedOut = Math.max(this.coreHandedOut, rd.committedEntries[rd.committedEntries.length - 1]!.index);
    return items;
  }

  /**
   * In the background, in order: the state machine plans the batch and hands it to storage, the
   * waiting writers are answered, then the write lands. Answering before it lands is safe:
   * - the entries are committed in the fsynced Raft log, so an answered write is never lost: if
   *   the state write fails, the rejection below stops the node (applyFailure) and a restart
   *   replays the log from the applied index, which only the landed write advanced;
   * - the results (revisions, failed preconditions, not-found deletes) come from planning alone;
   * - appliedIndex() advances only when the write has landed, so linearizable reads (which wait
   *   for it after ReadIndex) see it; serializable reads await kv.settled() (get, list); watches
   *   get its events live when it lands; the next apply, snapshot captures and restores wait in
   *   the state machine's own queue;
   * - a conf change's effects (peers, the members registry, the membership change's answer)
   *   happen after `landed`, when members() includes it.
   */
  private async applyItems(items: ApplyItem[]): Promise<void> {
    const started = process.hrtime.bigint();
    const { results, landed } = await this.kv.apply(items);
    for (const r of results) {
      if (r.requestId === undefined || r.outcome === undefined) continue;
      if (this.proposals.resolve(r.requestId, r.outcome)) {
        if (r.outcome.ok) this.metrics.proposalsCommittedCount++;
        else this.metrics.proposalsFailed.inc({ reason: r.outcome.code });
      }
    }
    await landed;
    this.metrics.applyDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
    const last = items[items.length - 1]!.entry.index;
    while (this.pendingConfApplied.length > 0 && this.pendingConfApplied[0]!.index <= last) this.onConfChangeApplied(this.pendingConfApplied.shift()!.cc);
  }

  private onConfChangeApplied(cc: ConfChange): void {
    const wasLeader = this.lastStatus.role === 'leader';
    this.lastStatus = this.raw.status();
    if (cc.type === 'remove' && cc.nodeId !== this.id) this.removedMembers.otherRemovedApplied(cc.nodeId, wasLeader);
    this.updatePeers();
    this.log.info('membership changed', { type: cc.type, member: cc.nodeId });
    this.membershipChanges.applied(cc);
    if (cc.nodeId === this.id) this.removedMembers.selfChangeApplied(cc, this.lastStatus.role === 'leader');
  }

  private afterReady(): void {
    const st = this.raw.status();
    this.lastStatus = st;
    this.commitNotice.observe(this.raw.commitNoticeDue());
    if (this.isMember()) this.everMember = true;
    this.resolvePendingReads();
    if (st.progress) this.introduceNewMembers(st);
  }

  private resolvePendingReads(): void {
    if (this.pendingReads.length === 0) return;
    const applied = this.kv.appliedIndex();
    const still: PendingRead[] = [];
    for (const r of this.pendingReads) {
      if (r.index <= applied) r.resolve();
      else still.push(r);
    }
    this.pendingReads = still;
  }

  private onSoftState(leader: NodeId): void {
    if (leader !== this.softLeader) {
      this.metrics.leaderChanges.inc();
      this.log.info('leader changed', { from: this.softLeader || null, to: leader || null });
      this.softLeader = leader;
      if (leader !== this.id) this.metrics.peerLag.reset();
    }
  }

  private maybeSnapshot(): void {
    this.snapshots.maybeStart();
  }

  private introduceNewMembers(st: Status): void {
    this.formation.introduceNewMembers(st);
  }

  /** On an unjoined node: learn the peers and the cluster ID from the leader's introduction. */
  introduce(body: IntroduceBody): Promise<void> {
    return this.formation.introduce(body);
  }

  /** On the removed member: the leader says this member's removal committed. */
  noticeRemoved(body: { clusterId: string; memberId: string }): Promise<void> {
    return this.removedMembers.noticeRemoved(body);
  }

  private updatePeers(): void {
    const peers = this.kv
      .members()
      .filter((m) => m.id !== this.id)
      .map((m) => ({ id: m.id, address: m.peerAddress }));
    for (const [id, address] of this.lingering) if (!peers.some((p) => p.id === id)) peers.push({ id, address });
    if (peers.length > 0 || this.isMember()) this.transport.setPeers(peers);
  }

  // ---- NodeApi ----

  private isMember(): boolean {
    const c = this.lastStatus.config;
    return c.voters.includes(this.id) || c.learners.includes(this.id);
  }

  /**
   * Removed: told so by the leader, or no longer in the configuration after having been in it.
   * (A joining node is not in it until it applies its own addition, so history alone proves nothing.)
   */
  private wasRemoved(): boolean {
    if (this.isMember()) {
      this.everMember = true;
      return this.removedNotice;
    }
    return this.removedNotice || this.everMember;
  }

  status(): NodeStatus {
    const st = this.lastStatus;
    let role: string = st.role;
    if (this.wasRemoved()) role = 'removed';
    else if (!this.isMember()) role = 'unjoined';
    else if (st.config.learners.includes(this.id)) role = 'learner';
    return {
      id: this.id,
      name: this.settings.name,
      clusterId: this.clusterId,
      role,
      term: st.term,
      leaderId: st.leader,
      commit: st.commit,
      applied: this.kv.appliedIndex(),
      lastIndex: st.lastIndex,
      snapshotIndex: this.snapshots.lastIndex,
      configIndex: this.configIndex,
      revision: this.kv.revision(),
      member: this.isMember() && !this.wasRemoved(),
      removed: this.wasRemoved(),
      peerAddress: this.settings.advertisePeer,
    };
  }

  settled(): Promise<void> | undefined {
    return this.kv.settled();
  }

  readiness(): Readiness {
    if (!this.running) return { ready: false, reason: 'the node is not running' };
    if (this.wasRemoved()) return { ready: false, reason: 'this node was removed from the cluster' };
    if (!this.isMember()) return { ready: false, reason: 'not a member yet: waiting to be added by a leader (or POST /v1/bootstrap)' };
    return quorumContactReadiness(this.lastStatus, this.id, this.lastContact, Date.now(), this.settings.electionTimeoutMs);
  }

  isLeader(): boolean {
    return this.running && this.lastStatus.role === 'leader';
  }

  setForwardHandler(handler: (req: ForwardedRequest) => Promise<ForwardedResponse>): void {
    this.forwarding.setHandler(handler);
  }

  forwardToLeader(req: ForwardedRequest, timeoutMs: number): Promise<ForwardedResponse> {
    return this.forwarding.toLeader(req, timeoutMs);
  }

  private requireMember(): void {
    if (this.wasRemoved()) throw new NotReadyError('this node was removed from the cluster');
    if (!this.isMember()) throw new NotReadyError('this node is not a member of a cluster yet');
  }

  private async linearizableBarrier(): Promise<void> {
    this.requireMember();
    if (this.lastStatus.leader === NO_NODE) throw new NoLeaderError();
    const index = await this.reads.wait();
    if (this.kv.appliedIndex() >= index) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new TimeoutError(`the read waited too long for index ${index} to be applied`)), this.settings.proposalTimeoutMs);
      this.pendingReads.push({
        index,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  async get(key: string, consistency: Consistency): Promise<KvRecord | undefined> {
    await this.readBarrier(consistency);
    return this.kv.get(key);
  }

  async list(prefix: string, limit: number, consistency: Consistency): Promise<KvList> {
    await this.readBarrier(consistency);
    return this.kv.list(prefix, limit);
  }

  /**
   * Linearizable: wait for the read index to be applied (landed). Serializable: wait for a write
   * in flight, which may already be answered (applyItems), so a client reads its own writes here.
   */
  private async readBarrier(consistency: Consistency): Promise<void> {
    if (consistency === 'linearizable') return this.linearizableBarrier();
    const inFlight = this.settled();
    if (inFlight) await inFlight;
  }

  watch(prefix: string, fromRevision: number, onEvent: (e: WatchEvent) => void, onEnd?: (err: Error) => void): WatchHandle {
    return this.kv.watch(prefix, fromRevision, onEvent, onEnd);
  }

  /**
   * Any member proposes: a follower's core forwards the entry to the leader in the peer stream
   * (batched with the others), and the write completes when this member applies it — the
   * request ID inside the entry finds the waiter.
   */
  private proposeWrite(encode: (requestId: string) => Uint8Array): Promise<WriteOutcome> {
    this.requireMember();
    if (this.lastStatus.leader === NO_NODE) throw new NoLeaderError();
    const requestId = `${this.requestPrefix}${(++this.requestSeq).toString(16)}`;
    const data = encode(requestId);
    const wait = this.proposals.wait(requestId, this.settings.proposalTimeoutMs, 'the write');
    this.proposalQueue.push({ requestId, data });
    this.notify();
    return wait;
  }

  // proposeWrite is not async and may throw here: put/delete are, so a throw still rejects their
  // promise; awaiting its plain promise costs fewer microtask hops than an async function's.
  async put(key: string, value: Uint8Array, cond: WriteCondition): Promise<{ revision: number }> {
    const outcome = await this.proposeWrite((id) => this.kv.encodePut(id, key, value, cond));
    return outcomeToResult(key, outcome);
  }

  async delete(key: string, cond: WriteCondition): Promise<{ revision: number }> {
    const outcome = await this.proposeWrite((id) => this.kv.encodeDelete(id, key, cond));
    return outcomeToResult(key, outcome);
  }

  // ---- membership ----

  members(): MemberInfo[] {
    return memberList(this.lastStatus, this.kv.members(), { id: this.id, name: this.settings.name, peerAddress: this.settings.advertisePeer }, this.lastContact, Date.now());
  }

  async listMembers(consistency: Consistency): Promise<MemberInfo[]> {
    await this.readBarrier(consistency);
    return this.members();
  }

  /** An empty, unjoined node that may form a new cluster. */
  canBootstrap(): boolean {
    return this.formation.canBootstrap();
  }

  async bootstrap(): Promise<NodeStatus> {
    await this.formation.bootstrap();
    return this.status();
  }

  addMember(req: AddMemberRequest): Promise<MemberInfo> {
    return this.membershipChanges.addMember(req);
  }

  promoteMember(id: string): Promise<MemberInfo> {
    return this.membershipChanges.promoteMember(id);
  }

  removeMember(id: string): Promise<{ id: string }> {
    return this.membershipChanges.removeMember(id);
  }

  transferLeadership(to?: string): Promise<{ leaderId: string }> {
    return this.membershipChanges.transferLeadership(to);
  }
}
