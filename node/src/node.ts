/**
 * The Ready loop: one async loop owns the RawNode. Between Readys it feeds the core ticks, peer
 * messages, proposals (all queued since the last Ready go in one proposeBatch: group commit),
 * ReadIndex requests and admin actions. For each Ready it sends `messages` at once, persists
 * (one synced batch), sends `messagesAfterPersist`, applies committed entries through the state
 * machine, resolves the waiting requests, serves ReadIndex reads, then advance()s.
 */
import { randomBytes } from 'node:crypto';
import {
  ApiError,
  BadRequestError,
  ConflictError,
  NoLeaderError,
  NotFoundError,
  NotLeaderError,
  NotReadyError,
  PreconditionFailedError,
  TimeoutError,
  UnavailableError,
} from './errors.js';
import type { JsonLogger } from './logger.js';
import type { LoopGaugeValues, NodeMetrics } from './metrics.js';
import type { ApplyItem, CapturedState, MemberRecord, StateMachine, Transport, WriteOutcome } from './node-ports.js';
import {
  NO_NODE,
  ProposalDroppedError,
  RawNode,
  decodeConfChange,
  type ConfChange,
  type Message,
  type NodeId,
  type Ready,
  type Status,
} from './raft/index.js';
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
import { memberList, mostCaughtUpVoter, quorumContactReadiness } from './node-views.js';
import { ReadBatcher } from './read-batcher.js';
import { isRemovedSender, RemovedSenderNotices } from './removed-senders.js';
import { Waiters } from './waiters.js';

export interface NodeSettings {
  name: string;
  advertisePeer: string;
  tickMs: number;
  electionTick: number;
  heartbeatTick: number;
  electionTimeoutMs: number;
  snapshotThreshold: number;
  snapshotCatchupEntries: number;
  proposalTimeoutMs: number;
  /** A learner is promoted only when its match index is within this many entries of the leader's last index. */
  promoteMaxLag: number;
}

export interface NodeParts {
  memberId: NodeId;
  clusterId: string | null;
  store: RaftLogStore;
  kv: StateMachine;
  transport: Transport;
  metrics: NodeMetrics;
  log: JsonLogger;
  /** Persists the cluster ID in the data dir's identity (bootstrap or first leader contact). */
  recordClusterId(clusterId: string): Promise<void>;
  newClusterId(): string;
  /** The data dir holds a removal mark: this member was removed before the restart. */
  removed: boolean;
  /** Persists the removal mark in the data dir (see storage/removal-mark.ts). */
  recordRemoved(clusterId: string, learnedBy: 'told' | 'applied'): Promise<void>;
  /** Called when the loop hits an error it cannot recover from (a failed fsync): the process must stop. */
  onFatal(err: Error): void;
}

interface ConfWaiter {
  cc: ConfChange;
  resolve(): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

interface PendingRead {
  index: number;
  resolve(): void;
}

export interface IntroduceBody {
  clusterId: string;
  leaderId: string;
  members: { id: string; peerAddress: string }[];
}

/** Readys whose entries may wait for the state machine before the loop waits for it. */
const MAX_APPLY_BACKLOG = 4;

export const INTRODUCE_PATH = '/v1/internal/introduce';
export const REMOVED_PATH = '/v1/internal/removed';

const REJOIN_REFUSED =
  'this data dir belongs to a member that was removed from the cluster; it does not rejoin with its old data: remove it from the members again, empty its data dir and start it, then add it as the new member it reports';

export class KuorumNode implements NodeApi {
  private raw: RawNode;
  private readonly store: RaftLogStore;
  private readonly kv: StateMachine;
  private readonly transport: Transport;
  private readonly metrics: NodeMetrics;
  private readonly log: JsonLogger;
  readonly id: NodeId;
  private clusterId: string;

  private running = false;
  private loopDone: Promise<void> = Promise.resolve();
  private wake: (() => void) | null = null;
  private ticker: NodeJS.Timeout | null = null;
  private ticks = 0;
  private inbox: Message[] = [];
  private actions: (() => void)[] = [];
  private proposalQueue: { requestId: string; data: Uint8Array }[] = [];

  private readonly proposals: Waiters<string, WriteOutcome>;
  private readonly reads: ReadBatcher;
  private pendingReads: PendingRead[] = [];
  private confWaiter: ConfWaiter | null = null;
  private readonly requestPrefix = randomBytes(6).toString('hex');
  private requestSeq = 0;

  private softLeader: NodeId = NO_NODE;
  private lastStatus: Status;
  private readonly lastContact = new Map<NodeId, number>();
  private readonly introduced = new Map<NodeId, number>();
  private configIndex = 0;
  private readonly lingering = new Map<NodeId, string>();
  private removedNotice: boolean;
  private removalRecorded: Promise<void> | null = null;
  private readonly removedSenderNotices: RemovedSenderNotices;
  private everMember = false;
  private lastSnapshotIndex: number;
  private lastSnapshotBytes = 0;
  private appliedBytesSinceSnapshot = 0;
  private snapshotting: Promise<void> | null = null;
  private applying: Promise<void> = Promise.resolve();
  private applyFailure: Error | null = null;
  private applyBacklog = 0;
  /** The last entry handed to the state machine (it may not have applied it yet). */
  private dispatchedIndex = 0;
  private readonly pendingConfApplied: { index: number; cc: ConfChange }[] = [];
  private bootstrapping = false;
  private forwardHandler: ((req: ForwardedRequest) => Promise<ForwardedResponse>) | null = null;

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
    this.clusterId = parts.clusterId ?? '';
    this.removedNotice = parts.removed;
    if (parts.removed) this.removalRecorded = Promise.resolve();
    this.removedSenderNotices = new RemovedSenderNotices(10 * settings.electionTimeoutMs);
    this.proposals = new Waiters<string, WriteOutcome>(() => this.metrics.proposalsFailed.inc({ reason: 'timeout' }));
    this.lastSnapshotIndex = this.store.storage.snapshot().metadata.index;
    this.reads = new ReadBatcher({
      ask: (ctx) => this.enqueue(() => this.raw.readIndex(ctx)),
      retryMs: Math.max(50, Math.floor(settings.electionTimeoutMs / 3)),
      timeoutMs: settings.proposalTimeoutMs,
    });
    this.raw = this.newRawNode();
    this.lastStatus = this.raw.status();
    // After a restart: a member of a cluster before (it applied that cluster's state).
    this.everMember = this.isMember() || (this.clusterId !== '' && this.kv.appliedIndex() > 0);
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
        this.enqueue(() => this.tellRemovedSender(from, msgs, fromAddress));
      }
      this.notify();
    });
    this.transport.onUnreachable((id) => this.enqueue(() => this.raw.reportUnreachable(id)));
    this.transport.onSnapshotStatus((id, ok) => this.enqueue(() => this.raw.reportSnapshot(id, ok)));
    this.metrics.peerErrorSource = () => this.transport.peerErrorCounts();
    this.metrics.loopSource = () => this.loopGaugeValues();
    this.transport.onClusterId((id) => void this.learnClusterId(id));
    this.transport.setForwardHandler((req) => this.handleForwarded(req));
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
    this.log.info('node started', { id: this.id, clusterId: this.clusterId, member: this.isMember(), removed: this.removedNotice, snapshotIndex: this.lastSnapshotIndex });
  }

  /** A leader hands leadership to the most caught-up voter (bounded wait); others do nothing. */
  async handOverLeadership(handoverTimeoutMs: number): Promise<void> {
    if (this.isLeader() && handoverTimeoutMs > 0) {
      const to = this.bestTransferee();
      if (to) {
        this.log.info('handing over leadership before stopping', { to });
        try {
          await this.doTransfer(to, handoverTimeoutMs);
        } catch (err) {
          this.log.warn('leadership handover failed; stopping anyway', { err: (err as Error).message });
        }
      }
    }
  }

  /** Stops the loop and closes the transport, the state machine and the log. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.ticker) clearInterval(this.ticker);
    this.notify();
    await this.loopDone;
    await this.applying;
    await this.snapshotting;
    const err = new UnavailableError('the node is shutting down', 'shutting_down');
    this.proposals.rejectAll(err);
    this.reads.rejectAll(err);
    if (this.confWaiter) {
      clearTimeout(this.confWaiter.timer);
      this.confWaiter.reject(err);
      this.confWaiter = null;
    }
    await this.transport.stop();
    await this.kv.close();
    await this.store.close();
  }

  /** A one-voter cluster need not wait an election timeout to elect itself. */
  private campaignIfSoleVoter(): void {
    if (this.removedNotice) return;
    const c = this.raw.status().config;
    if (c.voters.length === 1 && c.voters[0] === this.id) this.raw.campaign();
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
      if (this.ticks === 0 && this.inbox.length === 0 && this.actions.length === 0 && this.proposalQueue.length === 0 && !this.raw.hasReady()) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        continue;
      }
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
    raw.advance(rd);
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

  private async handleReady(raw: RawNode, rd: Ready): Promise<void> {
    if (rd.softState) this.onSoftState(rd.softState.leader);
    if (rd.messages.length > 0) this.transport.send(rd.messages);

    // Without new entries or a snapshot, everything committed is already in the durable log (an
    // earlier Ready's save finished): apply it now instead of after this Ready's save, which then
    // holds only the commit index — the write's answer need not wait for that.
    const appliedEarly = rd.entries.length === 0 && !rd.snapshot;
    if (appliedEarly) await this.dispatchApply(raw, rd);
    // A snapshot replaces the state: the applies handed out before it finish first.
    if (rd.snapshot) await this.applyDone();
    if (rd.hardState || rd.entries.length > 0 || rd.snapshot) {
      const started = process.hrtime.bigint();
      await this.store.save({ hardState: rd.hardState, entries: rd.entries, snapshot: rd.snapshot }, { sync: rd.mustSync });
      if (rd.mustSync) this.metrics.fsyncDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
    }
    if (rd.snapshot && rd.snapshot.metadata.index > this.kv.appliedIndex()) {
      await this.kv.restore(rd.snapshot.data, rd.snapshot.metadata.index);
      this.lastSnapshotIndex = rd.snapshot.metadata.index;
      this.lastSnapshotBytes = rd.snapshot.data.length;
      this.appliedBytesSinceSnapshot = 0;
      this.updatePeers();
      this.log.info('installed a snapshot from the leader', { index: rd.snapshot.metadata.index });
    }
    if (rd.messagesAfterPersist.length > 0) this.transport.send(rd.messagesAfterPersist);

    if (!appliedEarly) await this.dispatchApply(raw, rd);

    for (const rs of rd.readStates) {
      this.reads.answer(rs.context, rs.index);
    }
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
      if (entry.index > handedOut) {
        items.push(item);
        this.appliedBytesSinceSnapshot += entry.data.length;
      }
    }
    if (items.length > 0) this.dispatchedIndex = items[items.length - 1]!.entry.index;
    return items;
  }

  /** In the background, in order: the state machine applies, then the waiting requests are answered. */
  private async applyItems(items: ApplyItem[]): Promise<void> {
    const started = process.hrtime.bigint();
    const results = await this.kv.apply(items);
    this.metrics.applyDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
    for (const r of results) {
      if (r.requestId === undefined || r.outcome === undefined) continue;
      if (this.proposals.resolve(r.requestId, r.outcome)) {
        if (r.outcome.ok) this.metrics.proposalsCommitted.inc();
        else this.metrics.proposalsFailed.inc({ reason: r.outcome.code });
      }
    }
    const last = items[items.length - 1]!.entry.index;
    while (this.pendingConfApplied.length > 0 && this.pendingConfApplied[0]!.index <= last) this.onConfChangeApplied(this.pendingConfApplied.shift()!.cc);
  }

  private onConfChangeApplied(cc: ConfChange): void {
    const wasLeader = this.lastStatus.role === 'leader';
    this.lastStatus = this.raw.status();
    if (cc.type === 'remove' && cc.nodeId !== this.id) {
      if (wasLeader) this.tellRemoved(cc.nodeId);
      else this.lingering.delete(cc.nodeId);
    }
    this.updatePeers();
    this.log.info('membership changed', { type: cc.type, member: cc.nodeId });
    const w = this.confWaiter;
    if (w && w.cc.type === cc.type && w.cc.nodeId === cc.nodeId) {
      this.confWaiter = null;
      clearTimeout(w.timer);
      w.resolve();
    }
    if (cc.type === 'remove' && cc.nodeId === this.id) {
      this.log.warn('this node was removed from the cluster');
      // A leader that removed itself keeps ticking until a remaining voter knows the commit.
      if (this.lastStatus.role !== 'leader') this.removedNotice = true;
      this.recordRemoved('applied').catch((err: unknown) => this.log.error('could not record the removal in the data dir', { err: String(err) }));
    } else if (cc.nodeId === this.id && this.removedNotice) {
      this.log.error(REJOIN_REFUSED);
    }
  }

  private afterReady(): void {
    const st = this.raw.status();
    this.lastStatus = st;
    if (this.isMember()) this.everMember = true;
    this.resolvePendingReads();
    if (st.progress) this.introduceNewMembers(st);
  }

  /** What the loop gauges show on a scrape (metrics.loopSource). */
  private loopGaugeValues(): LoopGaugeValues {
    const st = this.lastStatus;
    const progress = st.progress;
    return {
      term: st.term,
      isLeader: st.role === 'leader',
      hasLeader: st.leader !== NO_NODE,
      commitIndex: st.commit,
      appliedIndex: this.kv.appliedIndex(),
      snapshotIndex: this.lastSnapshotIndex,
      proposalsPending: this.proposals.size,
      ...(progress && { peerLag: [...progress].filter(([id]) => id !== this.id).map(([id, pr]): [string, number] => [id, Math.max(0, st.lastIndex - pr.match)]) }),
    };
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

  /**
   * Starts a snapshot in the background when one is due; the loop goes on ticking, stepping
   * messages and applying while the state is encoded and written (at most one at a time).
   * Due: `snapshotThreshold` entries applied since the last one, and, so that a large state is
   * not rewritten every few thousand small writes, at least half the last snapshot's size in
   * applied entry bytes.
   */
  private maybeSnapshot(): void {
    if (this.snapshotting) return;
    const applied = this.kv.appliedIndex();
    // The bootstrap configuration lives only in the index-0 snapshot: snapshot and compact right
    // away, so that every member that joins later starts from a snapshot holding it.
    const afterBootstrap = this.lastSnapshotIndex === 0 && applied > 0 && this.store.storage.firstIndex() === 1 && this.isMember();
    if (!afterBootstrap) {
      if (applied - this.lastSnapshotIndex < this.settings.snapshotThreshold) return;
      if (this.appliedBytesSinceSnapshot < this.lastSnapshotBytes / 2) return;
    }
    if (applied > this.store.storage.lastIndex()) return;
    // Applies may be in flight: the state machine says which index (and config) it captured.
    this.snapshotting = this.kv
      .captureSnapshot((state) => this.recordSnapshot(state, afterBootstrap))
      .catch((err: unknown) => this.log.warn('taking a snapshot failed; will retry later', { index: applied, err: String(err) }))
      .finally(() => {
        this.snapshotting = null;
      });
  }

  private async recordSnapshot({ index: applied, confState, parts }: CapturedState, afterBootstrap: boolean): Promise<void> {
    let bytes = 0;
    const counted = async function* (): AsyncGenerator<Uint8Array> {
      for await (const p of parts) {
        bytes += p.length;
        yield p;
      }
    };
    await this.store.createSnapshot(applied, confState, counted());
    this.lastSnapshotIndex = applied;
    this.lastSnapshotBytes = bytes;
    this.appliedBytesSinceSnapshot = 0;
    const compactTo = afterBootstrap ? applied : applied - this.settings.snapshotCatchupEntries;
    if (compactTo >= this.store.storage.firstIndex()) await this.store.compact(compactTo);
    this.log.info('created a snapshot', { index: applied, bytes, compactedTo: Math.max(compactTo, 0) });
  }

  /**
   * A member that never matched anything (just added) cannot answer us before it knows our
   * address: the leader tells it the members and the cluster ID over the Forward RPC.
   */
  private introduceNewMembers(st: Status): void {
    const now = Date.now();
    for (const [id, pr] of st.progress ?? []) {
      if (id === this.id || pr.match > 0) continue;
      if (now - (this.introduced.get(id) ?? 0) < 1000) continue;
      this.introduced.set(id, now);
      const body: IntroduceBody = {
        clusterId: this.clusterId,
        leaderId: this.id,
        members: this.kv.members().map((m) => ({ id: m.id, peerAddress: m.peerAddress })),
      };
      const req: ForwardedRequest = { method: 'POST', path: INTRODUCE_PATH, headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify(body)) };
      this.transport.forward(id, req, 1000).then(
        (res) => {
          if (res.status !== 200) this.log.warn('new member refused the introduction', { member: id, status: res.status, body: Buffer.from(res.body).toString() });
        },
        (err: unknown) => this.log.debug('introduction to a new member failed; will retry', { member: id, err: String(err) }),
      );
    }
  }

  /** On an unjoined node: learn the peers and the cluster ID from the leader's introduction. */
  async introduce(body: IntroduceBody): Promise<void> {
    if (this.removedNotice) throw new ConflictError(REJOIN_REFUSED, 'member_removed');
    if (this.clusterId && body.clusterId !== this.clusterId) {
      throw new ConflictError(`this node belongs to cluster ${this.clusterId}, not ${body.clusterId}`, 'cluster_mismatch');
    }
    if (this.isMember()) return;
    await this.learnClusterId(body.clusterId);
    this.transport.setPeers(body.members.filter((m) => m.id !== this.id).map((m) => ({ id: m.id, address: m.peerAddress })));
  }

  private learning: Promise<void> = Promise.resolve();

  /** Records the cluster ID once; calls are serialized (the transport and an introduction may race). */
  private learnClusterId(clusterId: string): Promise<void> {
    const next = this.learning.then(() => this.doLearnClusterId(clusterId));
    this.learning = next.catch((err: unknown) => this.log.error('could not record the cluster ID', { err: String(err) }));
    return next;
  }

  private async doLearnClusterId(clusterId: string): Promise<void> {
    if (this.clusterId === clusterId || !clusterId) return;
    if (this.clusterId) {
      this.log.error('refusing a second cluster ID', { own: this.clusterId, offered: clusterId });
      return;
    }
    await this.parts.recordClusterId(clusterId);
    this.clusterId = clusterId;
    this.transport.setClusterId(clusterId);
    this.log.info('joined cluster', { clusterId });
  }

  /**
   * A removed member may never learn that its removal committed (the leader stops replicating to
   * it): the leader tells it over the Forward RPC, keeping its address a few seconds for that.
   */
  private tellRemoved(id: NodeId): void {
    if (!this.lingering.has(id)) return;
    const body = Buffer.from(JSON.stringify({ clusterId: this.clusterId, memberId: id }));
    const req: ForwardedRequest = { method: 'POST', path: REMOVED_PATH, headers: { 'content-type': 'application/json' }, body };
    const attempt = async (n: number): Promise<void> => {
      try {
        const res = await this.transport.forward(id, req, 1000);
        if (res.status === 200) this.log.info('told the removed member it was removed', { member: id });
        else this.log.warn('the removed member refused the notice', { member: id, status: res.status });
      } catch (err) {
        if (n < 5 && this.running) {
          await new Promise((r) => setTimeout(r, 500));
          return attempt(n + 1);
        }
        this.log.info('could not tell the removed member it was removed', { member: id, err: String(err) });
      }
    };
    void attempt(1).finally(() => {
      this.lingering.delete(id);
      if (this.running) this.updatePeers();
    });
  }

  /** In the loop (the core's configuration is current there): a removed member that missed tellRemoved() speaks up. */
  private tellRemovedSender(from: NodeId, msgs: Message[], address: string | undefined): void {
    if (this.lingering.has(from) || !isRemovedSender(this.raw.status(), from, msgs)) return;
    if (!this.removedSenderNotices.take(from, Date.now())) return;
    if (!address) {
      this.log.warn('a removed member is still sending Raft messages, without its address: cannot tell it it was removed', { member: from });
      return;
    }
    this.log.info('a removed member is still sending Raft messages; telling it it was removed', { member: from, address });
    this.lingering.set(from, address);
    this.updatePeers();
    this.tellRemoved(from);
  }

  /** On the removed member: the leader says this member's removal committed. */
  async noticeRemoved(body: { clusterId: string; memberId: string }): Promise<void> {
    if (body.memberId !== this.id) throw new BadRequestError(`this node is ${this.id}, not ${body.memberId}`);
    if (this.clusterId && body.clusterId !== this.clusterId) throw new ConflictError(`this node belongs to cluster ${this.clusterId}, not ${body.clusterId}`, 'cluster_mismatch');
    if (!this.removedNotice) this.log.warn('this node was removed from the cluster (told by the leader); it no longer campaigns');
    this.removedNotice = true;
    await this.recordRemoved('told');
  }

  /** Once, durably: a restart then starts this member as removed (never campaigning). */
  private recordRemoved(learnedBy: 'told' | 'applied'): Promise<void> {
    this.removalRecorded ??= this.parts.recordRemoved(this.clusterId, learnedBy).catch((err: unknown) => {
      this.removalRecorded = null; // the next notice retries
      throw err;
    });
    return this.removalRecorded;
  }

  private updatePeers(): void {
    const peers = this.kv
      .members()
      .filter((m) => m.id !== this.id)
      .map((m) => ({ id: m.id, address: m.peerAddress }));
    for (const [id, address] of this.lingering) if (!peers.some((p) => p.id === id)) peers.push({ id, address });
    if (peers.length > 0 || this.isMember()) this.transport.setPeers(peers);
  }

  private async handleForwarded(req: ForwardedRequest): Promise<ForwardedResponse> {
    if (!this.forwardHandler) return { status: 503, headers: { 'content-type': 'application/json' }, body: Buffer.from('{"error":"starting","code":"not_ready"}') };
    return this.forwardHandler(req);
  }

  // ---- NodeApi ----

  private isMember(): boolean {
    const c = this.lastStatus.config;
    return c.voters.includes(this.id) || c.learners.includes(this.id);
  }

  private hasHistory(): boolean {
    return this.store.storage.lastIndex() > 0 || this.kv.appliedIndex() > 0 || this.lastStatus.term > 0;
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
      snapshotIndex: this.lastSnapshotIndex,
      configIndex: this.configIndex,
      revision: this.kv.revision(),
      member: this.isMember() && !this.wasRemoved(),
      removed: this.wasRemoved(),
      peerAddress: this.settings.advertisePeer,
    };
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
    this.forwardHandler = handler;
  }

  async forwardToLeader(req: ForwardedRequest, timeoutMs: number): Promise<ForwardedResponse> {
    this.requireMember();
    const leader = this.lastStatus.leader;
    if (leader === NO_NODE) throw new NoLeaderError();
    if (leader === this.id) throw new NotLeaderError('leadership is changing; retry');
    try {
      return await this.transport.forward(leader, req, timeoutMs);
    } catch (err) {
      throw new UnavailableError(`forwarding to the leader ${leader} failed: ${(err as Error).message}`, 'forward_failed');
    }
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
    if (consistency === 'linearizable') await this.linearizableBarrier();
    return this.kv.get(key);
  }

  async list(prefix: string, limit: number, consistency: Consistency): Promise<KvList> {
    if (consistency === 'linearizable') await this.linearizableBarrier();
    return this.kv.list(prefix, limit);
  }

  watch(prefix: string, fromRevision: number, onEvent: (e: WatchEvent) => void, onEnd?: (err: Error) => void): WatchHandle {
    return this.kv.watch(prefix, fromRevision, onEvent, onEnd);
  }

  /**
   * Any member proposes: a follower's core forwards the entry to the leader in the peer stream
   * (batched with the others), and the write completes when this member applies it — the
   * request ID inside the entry finds the waiter.
   */
  private async proposeWrite(encode: (requestId: string) => Uint8Array): Promise<WriteOutcome> {
    this.requireMember();
    if (this.lastStatus.leader === NO_NODE) throw new NoLeaderError();
    const requestId = `${this.requestPrefix}${(++this.requestSeq).toString(16)}`;
    const data = encode(requestId);
    const wait = this.proposals.wait(requestId, this.settings.proposalTimeoutMs, 'the write');
    this.proposalQueue.push({ requestId, data });
    this.notify();
    return wait;
  }

  async put(key: string, value: Uint8Array, cond: WriteCondition): Promise<{ revision: number }> {
    return outcomeToResult(key, await this.proposeWrite((id) => this.kv.encodePut(id, key, value, cond)));
  }

  async delete(key: string, cond: WriteCondition): Promise<{ revision: number }> {
    return outcomeToResult(key, await this.proposeWrite((id) => this.kv.encodeDelete(id, key, cond)));
  }

  // ---- membership ----

  members(): MemberInfo[] {
    return memberList(this.lastStatus, this.kv.members(), { id: this.id, name: this.settings.name, peerAddress: this.settings.advertisePeer }, this.lastContact, Date.now());
  }

  private memberInfo(id: NodeId): MemberInfo | undefined {
    return this.members().find((m) => m.id === id);
  }

  /** An empty, unjoined node that may form a new cluster. */
  canBootstrap(): boolean {
    return !this.bootstrapping && !this.isMember() && !this.hasHistory() && !this.clusterId;
  }

  async bootstrap(): Promise<NodeStatus> {
    if (this.bootstrapping) throw new ConflictError('a bootstrap is already in progress', 'already_formed');
    if (!this.canBootstrap()) {
      throw new ConflictError('this node is already part of a cluster (or was); bootstrap needs an empty, unjoined node', 'already_formed');
    }
    this.bootstrapping = true;
    try {
      const clusterId = this.parts.newClusterId();
      const self: MemberRecord = { id: this.id, name: this.settings.name, peerAddress: this.settings.advertisePeer, role: 'voter' };
      const data = await this.kv.bootstrapData(self);
      const snapshot = { metadata: { index: 0, term: 0, confState: { voters: [this.id], learners: [] } }, data };
      await this.withRaw(() => undefined); // wait for a point between Readys
      await this.parts.recordClusterId(clusterId);
      this.clusterId = clusterId;
      this.transport.setClusterId(clusterId);
      await this.store.save({ snapshot }, { sync: true });
      await this.kv.restore(data, 0);
      await this.withRaw(() => {
        this.raw = this.newRawNode();
        this.lastStatus = this.raw.status();
        this.campaignIfSoleVoter();
      });
      this.log.info('bootstrapped a new cluster', { clusterId });
      return this.status();
    } finally {
      this.bootstrapping = false;
    }
  }

  private async proposeConfChange(cc: ConfChange, what: string): Promise<void> {
    this.requireMember();
    if (!this.isLeader()) throw new NotLeaderError();
    if (this.confWaiter) throw new ConflictError(`another membership change is in progress (${this.confWaiter.cc.type} ${this.confWaiter.cc.nodeId})`, 'change_pending');
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.confWaiter?.cc === cc) this.confWaiter = null;
        reject(new TimeoutError(`${what} was not committed within ${this.settings.proposalTimeoutMs} ms; it may still take effect`));
      }, this.settings.proposalTimeoutMs);
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
      await this.withRaw((raw) => raw.proposeConfChange(cc));
      return;
    } catch (err) {
      const st = this.lastStatus;
      if (!(err instanceof ProposalDroppedError) || !/pending/.test(err.message) || st.applied >= st.lastIndex) throw err;
      const target = st.lastIndex;
      const deadline = Date.now() + this.settings.electionTimeoutMs;
      while (this.lastStatus.applied < target && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    }
    await this.withRaw((raw) => raw.proposeConfChange(cc));
  }

  async addMember(req: AddMemberRequest): Promise<MemberInfo> {
    this.requireMember();
    if (this.memberInfo(req.id) || req.id === this.id) throw new ConflictError(`member ${req.id} already exists`, 'member_exists');
    const clash = this.kv.members().find((m) => m.name === req.name || m.peerAddress === req.peerAddress);
    if (clash) throw new ConflictError(`member ${clash.id} already uses name ${clash.name} / address ${clash.peerAddress}`, 'member_exists');
    const context = Buffer.from(JSON.stringify({ name: req.name, peerAddress: req.peerAddress }));
    await this.proposeConfChange({ type: req.learner ? 'addLearner' : 'addVoter', nodeId: req.id, context }, `adding member ${req.id}`);
    return this.memberInfo(req.id) ?? { id: req.id, name: req.name, peerAddress: req.peerAddress, role: req.learner ? 'learner' : 'voter', isLeader: false };
  }

  async promoteMember(id: string): Promise<MemberInfo> {
    this.requireMember();
    if (!this.isLeader()) throw new NotLeaderError();
    const m = this.memberInfo(id);
    if (!m) throw new NotFoundError(`member ${id} not found`, 'member_not_found');
    if (m.role === 'voter') throw new ConflictError(`member ${id} is already a voter`, 'already_voter');
    const st = this.lastStatus;
    const match = st.progress?.get(id)?.match ?? 0;
    if (match === 0 || st.lastIndex - match > this.settings.promoteMaxLag) {
      throw new ConflictError(`learner ${id} has not caught up yet (match ${match}, leader's last index ${st.lastIndex}); retry later`, 'not_caught_up');
    }
    await this.proposeConfChange({ type: 'promote', nodeId: id, context: new Uint8Array() }, `promoting member ${id}`);
    return this.memberInfo(id) ?? { ...m, role: 'voter' };
  }

  async removeMember(id: string): Promise<{ id: string }> {
    this.requireMember();
    if (!this.isLeader()) throw new NotLeaderError();
    const m = this.memberInfo(id);
    if (!m) throw new NotFoundError(`member ${id} not found`, 'member_not_found');
    const voters = this.lastStatus.config.voters;
    if (m.role === 'voter' && voters.length === 1) throw new ConflictError('cannot remove the only voter', 'last_voter');
    if (id === this.id) {
      const to = this.bestTransferee();
      if (!to) throw new ConflictError('no other voter to hand leadership to before removing the leader', 'last_voter');
      await this.doTransfer(to, this.transferWaitMs());
      throw new NotLeaderError('leadership was handed over before removing this node; the new leader removes it');
    }
    await this.proposeConfChange({ type: 'remove', nodeId: id, context: new Uint8Array() }, `removing member ${id}`);
    return { id };
  }

  async transferLeadership(to?: string): Promise<{ leaderId: string }> {
    this.requireMember();
    if (!this.isLeader()) throw new NotLeaderError();
    if (to !== undefined) {
      const m = this.memberInfo(to);
      if (!m) throw new NotFoundError(`member ${to} not found`, 'member_not_found');
      if (m.role !== 'voter') throw new ConflictError(`member ${to} is a learner and cannot lead`, 'not_voter');
      if (to === this.id) return { leaderId: this.id };
    }
    const target = to ?? this.bestTransferee();
    if (!target) throw new ConflictError('there is no other voter to hand leadership to', 'no_transferee');
    await this.doTransfer(target, this.transferWaitMs());
    return { leaderId: this.lastStatus.leader };
  }

  private bestTransferee(): NodeId | undefined {
    return mostCaughtUpVoter(this.lastStatus, this.id);
  }

  /** How long an API call waits for a leadership transfer to finish. */
  private transferWaitMs(): number {
    return Math.max(this.settings.proposalTimeoutMs, this.settings.electionTimeoutMs * 3);
  }

  private async doTransfer(to: NodeId, timeoutMs: number): Promise<void> {
    await this.withRaw((raw) => raw.transferLeadership(to));
    const deadline = Date.now() + timeoutMs;
    let askedAt = Date.now();
    while (Date.now() < deadline) {
      const st = this.lastStatus;
      if (st.leader === to) return;
      if (st.role !== 'leader' && st.leader !== NO_NODE && st.leader !== this.id) return;
      // The core abandons a transfer that did not finish within an election timeout: ask again.
      if (st.role === 'leader' && st.leadTransferee === NO_NODE && Date.now() - askedAt > this.settings.electionTimeoutMs) {
        askedAt = Date.now();
        await this.withRaw((raw) => raw.transferLeadership(to));
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new TimeoutError(`leadership did not move to ${to} within ${timeoutMs} ms`);
  }
}

function outcomeToResult(key: string, outcome: WriteOutcome): { revision: number } {
  if (outcome.ok) return { revision: outcome.revision };
  switch (outcome.code) {
    case 'precondition':
      return raise(new PreconditionFailedError(`precondition failed for ${JSON.stringify(key)}: its revision is ${outcome.currentModRevision}`, outcome.currentModRevision));
    case 'not_found':
      return raise(new NotFoundError(`key ${JSON.stringify(key)} not found`, 'key_not_found'));
    default:
      return raise(new BadRequestError(outcome.message));
  }
}

function raise(err: ApiError): never {
  throw err;
}

