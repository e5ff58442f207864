import {
  MemoryStorage,
  ProposalDroppedError,
  RawNode,
  decodeConfChange,
  type ConfChange,
  type ConfState,
  type Entry,
  type Message,
  type NodeId,
  type Ready,
  type Role,
} from '../../node/src/raft/index.js';
import { KvMachine, decodePut, mixDigest, type PutCommand } from './kv-machine.js';
import { LogView } from './log-view.js';
import type { Prng } from './prng.js';
import { InvariantViolation, type SafetyChecker } from './safety-checker.js';

export interface CoreSettings {
  electionTick: number;
  heartbeatTick: number;
  maxSizePerMsg: number;
  maxInflightMsgs: number;
  maxUncommittedEntriesSize: number;
  maxCommittedSizePerReady: number;
  /** The node snapshots its state machine after this many applied entries... */
  snapshotEvery: number;
  /** ...and keeps this many entries before the snapshot index in its log. */
  keepEntries: number;
  /**
   * When a snapshot may be taken. `waitForCore` (default, what the node's scheduler does): at the
   * state machine's applied index, only once the core has handed out every entry up to it.
   * `state`: at the state machine's applied index even while the core lags behind it — the
   * node's bug F7 (FINDINGS.md), kept to show the checker catches it.
   */
  snapshotIndex?: 'waitForCore' | 'state';
  /** The core's deferCommitBroadcast: the node then sends a due commit index after a random delay, as the real node does after a fixed one. */
  deferCommitBroadcast?: boolean;
}

/** What a node needs from the simulation around it. */
export interface NodeHost {
  readonly checker: SafetyChecker;
  readonly core: CoreSettings;
  readonly rng: Prng;
  trace(text: string): void;
  send(from: SimNode, msgs: Message[]): void;
  /** Time units one disk write takes; 0 completes it within the current event. */
  diskDelay(node: SimNode, write: DiskWrite): number;
  schedule(delay: number, fn: () => void): void;
  /** Whether a batch that was being written when the node crashed made it to disk. */
  crashOutcomeDurable(node: SimNode): boolean;
  durablyHolds(node: NodeId, index: number, term: number): boolean;
  onFirstApply(entry: Entry, cc: ConfChange | undefined): void;
  onReadServed(): void;
  /** A snapshot's state replaced a node's state machine: `ahead` entries past the snapshot's index. */
  onSnapshotInstalled(ahead: number): void;
  /** A restarted node restored its state machine from the snapshot on its disk. */
  onStateRestoredAtStart(): void;
  /** A committed entry was handed out again and skipped by the state machine. */
  onEntrySkipped(e: Entry): void;
  onLeaderSuspected(): void;
}

/** What a disk write is for: a Ready's batch, an apply batch, or the sync that takes a snapshot. */
export type DiskWrite = 'persist' | 'apply' | 'snapshot';

export type NodeInput =
  | { kind: 'tick' }
  | { kind: 'step'; msg: Message }
  | { kind: 'propose'; writes: PutCommand[]; data: Uint8Array[] }
  | { kind: 'confChange'; cc: ConfChange }
  | { kind: 'read'; readId: string; key: string }
  | { kind: 'transfer'; to: NodeId }
  | { kind: 'campaign' }
  | { kind: 'reportSnapshot'; to: NodeId; ok: boolean }
  | { kind: 'reportUnreachable'; to: NodeId }
  /** The transport saw its connection to `about` end (as when that process dies). */
  | { kind: 'suspectLeader'; about: NodeId }
  /** The delay for a commit index no message carried yet has passed (deferCommitBroadcast). */
  | { kind: 'broadcastCommit' };

interface PendingRead {
  readId: string;
  key: string;
  index: number | undefined;
}

/**
 * The loop is held by a Ready: a snapshot waiting for the writes in flight ('drain'), then being
 * written ('persist'); or committed entries being applied ('apply').
 */
interface Busy {
  rd: Ready;
  phase: 'drain' | 'persist' | 'apply';
  /** Accepted by the core, its write in flight (persisted() follows); otherwise advance() at the end. */
  accepted: boolean;
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/**
 * One simulated member: a real RawNode over a MemoryStorage "disk" and a durable KV. As in the
 * node, a Ready's committed entries (durable ones only) are applied at once as one atomic KV
 * batch while inputs queue, and its hardState + entries are accepted by the core and written in
 * the background as ONE atomic batch: writes complete one at a time, in order, each followed by
 * its messagesAfterPersist and persisted(). Meanwhile the node takes inputs and more Readys. A
 * Ready with a snapshot waits for the writes in flight, is written, then applied and advanced.
 * A crash loses the queue and the writes not yet durable (those that made it are a prefix).
 *
 * As in the node, the state machine is the snapshot: the core's snapshots carry no data, a 'snap'
 * message carries the sender's state as of sending (applied index A' >= the snapshot's index C),
 * and the core hands out entries after C again: conf changes among them still reach the core,
 * the state machine skips every entry <= its applied index.
 */
export class SimNode {
  readonly storage = new MemoryStorage();
  kv: KvMachine;
  raw: RawNode | undefined;
  incarnation = 0;
  retired = false;
  readonly view: LogView;
  /** The last committed entry the core handed out (or the snapshot it installed): its `applied`. */
  private handedOut = 0;
  /**
   * What the node knows the core applied once a Ready is written and applied: the index and the
   * configuration as of it (the core's own config changes as soon as it steps a snapshot).
   */
  private coreApplied: { index: number; confState: ConfState } = { index: 0, confState: { voters: [], learners: [] } };
  private inbox: NodeInput[] = [];
  private busy: Busy | undefined;
  /** Accepted Readys whose write is in flight, oldest first; only the oldest is being written. */
  private writes: Ready[] = [];
  private pumping = false;
  private commitNoticeScheduled = false;
  /** A snapshot is being taken in the background. */
  private snapshotting = false;
  private readonly myWrites = new Set<string>();
  private readonly reads = new Map<string, PendingRead>();
  private lastRole: Role = 'follower';
  private lastTerm = 0;
  private lastCommit = 0;
  private lastLeader: NodeId = '';

  constructor(
    readonly id: NodeId,
    private readonly host: NodeHost,
    bootstrapVoters: NodeId[] | undefined,
    bootstrapIndex = 0,
  ) {
    const confState: ConfState = { voters: bootstrapVoters ? [...bootstrapVoters] : [], learners: [] };
    this.kv = new KvMachine(confState);
    if (bootstrapVoters) {
      // The contract's bootstrap is an index-0 snapshot; a later index (term 1) forces joiners to
      // start from a snapshot instead of from entry 1 (see FINDINGS.md).
      this.kv.applied = bootstrapIndex;
      this.storage.applySnapshot({ metadata: { index: bootstrapIndex, term: bootstrapIndex > 0 ? 1 : 0, confState }, data: new Uint8Array() });
      if (bootstrapIndex > 0) this.storage.setHardState({ term: 1, vote: '', commit: bootstrapIndex });
      host.checker.observeConfigSet(id, bootstrapIndex, confState);
    }
    this.view = new LogView(this.storage);
    this.start();
  }

  get alive(): boolean {
    return this.raw !== undefined;
  }

  get role(): Role {
    return this.lastRole;
  }

  get term(): number {
    return this.lastTerm;
  }

  get leaderHint(): NodeId {
    return this.lastLeader;
  }

  status() {
    return this.raw?.status();
  }

  input(x: NodeInput): void {
    if (!this.raw) return;
    this.inbox.push(x);
    this.pump();
  }

  /** Power loss: everything in memory is gone; of the writes in flight, a prefix got to the disk. */
  crash(): void {
    if (!this.raw) return;
    let reached = 0;
    while (reached < this.writes.length && this.host.crashOutcomeDurable(this)) this.writeBatch(this.writes[reached++]!);
    if (this.writes.length > 0) this.host.trace(`${this.id} crash: ${reached} of ${this.writes.length} writes in flight reached the disk`);
    const b = this.busy;
    if (b && b.phase === 'persist' && this.host.crashOutcomeDurable(this)) {
      // The node saves a snapshot, then restores the state from it: the crash may fall between.
      const restored = !b.rd.snapshot || this.host.crashOutcomeDurable(this);
      this.writeBatch(b.rd, restored);
      this.host.trace(`${this.id} crash: the batch in flight reached the disk${restored ? '' : ', the state restore from its snapshot did not'}`);
    } else if (b) {
      this.host.trace(`${this.id} crash: the ${b.phase} batch in flight is lost`);
    }
    for (const r of this.reads.values()) this.host.checker.abandonRead(r.readId);
    this.reads.clear();
    this.myWrites.clear();
    this.inbox = [];
    this.busy = undefined;
    this.writes = [];
    this.snapshotting = false;
    this.raw = undefined;
    this.view.clearAll();
    this.lastRole = 'follower';
    this.incarnation++;
  }

  restart(): void {
    if (this.raw || this.retired) return;
    const hs = this.storage.hardStateNow();
    if (hs.commit > this.storage.lastIndex()) {
      // Committed entries must never disappear from a disk: the commit index is written in the
      // same atomic batch as (or after) the entries it covers.
      throw new InvariantViolation('StateMachineSafety', `${this.id} restarts with commit ${hs.commit} beyond its durable log (${this.storage.lastIndex()})`);
    }
    this.catchUpWithSnapshot();
    this.start();
    this.pump();
  }

  /**
   * As the node at start: a state machine behind the log's snapshot is restored from that
   * snapshot's data, which only a snapshot received from a leader has (the crash came between
   * saving it and restoring the state); behind a snapshot of its own, the node refuses to start.
   */
  private catchUpWithSnapshot(): void {
    const snap = this.storage.snapshot();
    if (this.kv.applied >= snap.metadata.index) return;
    if (snap.data.length === 0) {
      throw new InvariantViolation('StateMachineSafety', `${this.id}'s state machine is applied up to ${this.kv.applied}, behind its log's snapshot at ${snap.metadata.index}, which has no data: it refuses to start`);
    }
    this.host.trace(`${this.id} restores its state machine from the snapshot at ${snap.metadata.index} on its disk`);
    this.installState(snap.metadata.index, snap.data);
    this.host.onStateRestoredAtStart();
  }

  private start(): void {
    const core = this.host.core;
    const rng = this.host.rng.fork();
    // Entries after the log's snapshot are handed out again: the core re-applies the conf
    // changes among them, the state machine skips what it already applied.
    const snap = this.storage.snapshot().metadata;
    this.handedOut = snap.index;
    this.coreApplied = { index: snap.index, confState: snap.confState };
    this.raw = this.coreCall('constructor', () =>
      new RawNode({
        id: this.id,
        storage: this.storage,
        electionTick: core.electionTick,
        heartbeatTick: core.heartbeatTick,
        applied: this.handedOut,
        maxSizePerMsg: core.maxSizePerMsg,
        maxInflightMsgs: core.maxInflightMsgs,
        maxUncommittedEntriesSize: core.maxUncommittedEntriesSize,
        maxCommittedSizePerReady: core.maxCommittedSizePerReady,
        preVote: true,
        checkQuorum: true,
        deferCommitBroadcast: core.deferCommitBroadcast ?? false,
        randomInt: (n) => rng.int(n),
      }),
    );
    this.commitNoticeScheduled = false;
    const st = this.raw.status();
    this.checkCoreConfig(st.config);
    this.lastRole = st.role;
    this.lastTerm = st.term;
    this.lastCommit = st.commit;
    this.lastLeader = st.leader;
  }

  private coreCall<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof InvariantViolation || e instanceof ProposalDroppedError) throw e;
      const err = e as Error;
      throw new InvariantViolation('CoreContract', `${this.id}: ${what} threw ${err.name}: ${err.message}\n${err.stack ?? ''}`);
    }
  }

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.raw && !this.busy) {
        if (this.raw.hasReady()) {
          this.startReady();
          continue;
        }
        const x = this.inbox.shift();
        if (!x) break;
        this.applyInput(x);
        if (this.raw && !this.raw.hasReady()) this.observe();
      }
    } finally {
      this.pumping = false;
    }
  }

  private applyInput(x: NodeInput): void {
    const raw = this.raw!;
    try {
      this.coreCall(x.kind, () => {
        switch (x.kind) {
          case 'tick':
            return raw.tick();
          case 'step':
            return raw.step(x.msg);
          case 'propose':
            for (const w of x.writes) this.myWrites.add(w.id);
            if (x.data.length === 1) return raw.propose(x.data[0]!);
            return raw.proposeBatch(x.data);
          case 'confChange':
            return raw.proposeConfChange(x.cc);
          case 'read':
            this.reads.set(x.readId, { readId: x.readId, key: x.key, index: undefined });
            this.host.checker.beginRead(x.readId, this.id, x.key);
            return raw.readIndex(textEncoder.encode(x.readId));
          case 'transfer':
            return raw.transferLeadership(x.to);
          case 'campaign':
            return raw.campaign();
          case 'reportSnapshot':
            return raw.reportSnapshot(x.to, x.ok);
          case 'reportUnreachable':
            return raw.reportUnreachable(x.to);
          case 'broadcastCommit':
            return raw.broadcastCommit();
          case 'suspectLeader': {
            const inTicks = raw.suspectLeader(x.about);
            if (inTicks !== undefined) {
              this.host.trace(`${this.id} lost its connection to leader ${x.about}; campaigns in ${inTicks} ticks unless it hears from it`);
              this.host.onLeaderSuspected();
            }
            return;
          }
        }
      });
    } catch (e) {
      if (!(e instanceof ProposalDroppedError)) throw e;
      if (x.kind === 'propose') for (const w of x.writes) this.myWrites.delete(w.id);
      if (x.kind === 'read') {
        this.reads.delete(x.readId);
        this.host.checker.abandonRead(x.readId);
      }
      this.host.trace(`${this.id} ${x.kind} dropped: ${e.message}`);
    }
  }

  /** Checks run after every input and every completed Ready. */
  private observe(): void {
    const raw = this.raw;
    if (!raw) return;
    const st = raw.status();
    const checker = this.host.checker;
    checker.observeRole(this.id, st.role, st.config.learners);
    const wasLeader = this.lastRole === 'leader' && this.lastTerm === st.term;
    if (st.role !== this.lastRole || st.term !== this.lastTerm) this.host.trace(`${this.id} is ${st.role} in term ${st.term}`);
    if (st.role === 'leader') {
      checker.observeLeader(this.id, st.term);
      if (!wasLeader) checker.observeNewLeader(this.id, st.term, (i) => this.view.term(i));
    }
    if (st.commit > this.lastCommit) {
      const last = this.view.lastIndex();
      if (st.commit > last) throw new InvariantViolation('CoreContract', `${this.id} commit ${st.commit} beyond its last index ${last}`);
      for (let i = Math.max(this.lastCommit + 1, this.view.snapshotIndex()); i <= st.commit; i++) {
        const t = this.view.term(i);
        if (typeof t === 'number') checker.observeCommitted(this.id, i, t);
      }
      if (st.role === 'leader' && wasLeader) {
        const t = this.view.term(st.commit);
        checker.observeLeaderCommit(this.id, st.term, st.commit, t, st.config.voters, (v) =>
          typeof t === 'number' ? this.host.durablyHolds(v, st.commit, t) : false,
        );
      }
      this.lastCommit = st.commit;
    }
    if (st.role === 'leader') {
      const pending: number[] = [];
      for (let i = st.commit + 1; i <= this.view.lastIndex(); i++) {
        if (this.view.entry(i)?.type === 'confChange') pending.push(i);
      }
      checker.observePendingConfChanges(this.id, st.term, pending);
    }
    this.lastRole = st.role;
    this.lastTerm = st.term;
    this.lastLeader = st.leader;
    this.maybeScheduleCommitNotice(raw);
  }

  private maybeScheduleCommitNotice(raw: RawNode): void {
    if (!this.host.core.deferCommitBroadcast || this.commitNoticeScheduled || !raw.commitNoticeDue()) return;
    this.commitNoticeScheduled = true;
    const incarnation = this.incarnation;
    this.host.schedule(1 + this.host.rng.int(4), () => {
      if (this.incarnation !== incarnation) return;
      this.commitNoticeScheduled = false;
      this.input({ kind: 'broadcastCommit' });
    });
  }

  private startReady(): void {
    const raw = this.raw!;
    const rd = this.coreCall('ready', () => raw.ready());
    if (isEmptyReady(rd)) {
      // hasReady() said yes but there is nothing to do: the loop would spin forever.
      throw new InvariantViolation('CoreContract', `${this.id} got an empty Ready (commit ${raw.status().commit}, handed out ${this.handedOut}, log ${this.storage.firstIndex()}..${this.storage.lastIndex()})`);
    }
    this.checkReadyShape(rd);
    if (rd.snapshot) this.view.setSnapshotOverlay(rd.entries, rd.snapshot.metadata);
    else this.view.pushWrite(rd.entries);
    this.host.send(this, rd.messages);
    for (const rs of rd.readStates) {
      const r = this.reads.get(textDecoder.decode(rs.context));
      if (r && r.index === undefined) r.index = rs.index;
    }
    if (rd.snapshot) {
      this.busy = { rd, phase: 'drain', accepted: false };
      this.observe();
      if (this.writes.length === 0) this.startSnapshotWrite();
      return;
    }
    // Acknowledgements may cover entries of earlier writes still in flight (a resent append): a
    // Ready that writes nothing still queues behind those writes, accepted like a write.
    const write = rd.hardState !== undefined || rd.entries.length > 0 || (rd.messagesAfterPersist.length > 0 && this.writes.length > 0);
    if (write) {
      this.coreCall('acceptReady', () => raw.acceptReady(rd));
      this.writes.push(rd);
      if (this.writes.length === 1) this.scheduleWrite();
    } else {
      this.host.send(this, rd.messagesAfterPersist);
    }
    this.busy = { rd, phase: 'apply', accepted: write };
    this.observe();
    this.serveReads();
    const delay = rd.committedEntries.length > 0 ? this.host.diskDelay(this, 'apply') : 0;
    this.afterDelay(delay, () => this.busy?.rd === rd && this.finishApply());
  }

  /** Runs `fn` after `delay` (0: at once), unless the node crashed meanwhile. */
  private afterDelay(delay: number, fn: () => void): void {
    if (delay === 0) return fn();
    const incarnation = this.incarnation;
    this.host.schedule(delay, () => this.incarnation === incarnation && fn());
  }

  /**
   * The oldest write in flight goes to the disk: it completes later, never before the inputs
   * already queued with it. Only a Ready that must be fsynced waits for the disk; one with only a
   * commit index does not (otherwise a slow disk would also delay every heartbeat response).
   */
  private scheduleWrite(): void {
    const rd = this.writes[0]!;
    const delay = rd.mustSync ? this.host.diskDelay(this, 'persist') : 0;
    const incarnation = this.incarnation;
    this.host.schedule(delay, () => this.incarnation === incarnation && this.writes[0] === rd && this.finishWrite());
  }

  private finishWrite(): void {
    const rd = this.writes.shift()!;
    this.writeBatch(rd);
    this.view.writeDone(rd.entries);
    this.host.send(this, rd.messagesAfterPersist);
    this.coreCall('persisted', () => this.raw!.persisted(rd));
    if (this.writes.length > 0) this.scheduleWrite();
    else if (this.busy?.phase === 'drain') this.startSnapshotWrite();
    this.maybeSnapshot(); // as the node's scheduler, which looks after every loop iteration
    this.observe();
    this.pump();
  }

  private startSnapshotWrite(): void {
    const b = this.busy!;
    b.phase = 'persist';
    const delay = this.host.diskDelay(this, 'persist');
    this.afterDelay(delay, () => this.busy === b && this.finishSnapshotWrite());
  }

  /** Log Matching bookkeeping for every entry handed out, and shape checks the disk relies on. */
  private checkReadyShape(rd: Ready): void {
    const checker = this.host.checker;
    let prevIndex = rd.snapshot ? rd.snapshot.metadata.index : undefined;
    let prevTerm = rd.snapshot ? rd.snapshot.metadata.term : undefined;
    const bootstrapSnapshot = rd.snapshot?.metadata.index === 0 && this.handedOut === 0;
    if (rd.snapshot && rd.snapshot.metadata.index <= this.handedOut && !bootstrapSnapshot) {
      throw new InvariantViolation('CoreContract', `${this.id} was handed snapshot ${rd.snapshot.metadata.index}, not newer than the entries it handed out (${this.handedOut})`);
    }
    if (rd.snapshot) this.handedOut = rd.snapshot.metadata.index;
    const first = rd.entries[0];
    if (first) {
      // The writes in flight reach the disk first: the entries follow the log they leave.
      const last = rd.snapshot ? rd.snapshot.metadata.index : this.view.lastIndex();
      if (first.index > last + 1) {
        throw new InvariantViolation('CoreContract', `${this.id} Ready entries start at ${first.index}, leaving a gap after ${last}`);
      }
      if (prevIndex === undefined || first.index !== prevIndex + 1) {
        prevIndex = first.index - 1;
        prevTerm = undefined;
        const t = this.view.term(prevIndex);
        if (typeof t === 'number') prevTerm = t;
      }
    }
    for (const e of rd.entries) {
      if (prevIndex !== undefined && e.index !== prevIndex + 1) {
        throw new InvariantViolation('CoreContract', `${this.id} Ready entries are not contiguous at ${e.index}`);
      }
      checker.observeLogEntry(this.id, e.index, e.term, prevTerm, mixDigest(0, e), this.lastCommit);
      prevIndex = e.index;
      prevTerm = e.term;
    }
  }

  /**
   * Writes one Ready's hardState, entries and snapshot: the whole batch or nothing. A snapshot
   * (kept with its data, as the node keeps a received one in a file) then replaces the state
   * machine unless that already applied its index; `restoreState` false models a crash between
   * the two writes.
   */
  private writeBatch(rd: Ready, restoreState = true): void {
    const snap = rd.snapshot;
    if (snap) {
      this.host.checker.checkConfigAsOf(this.id, snap.metadata.index, snap.metadata.confState, `the metadata of snapshot ${snap.metadata.index}`);
      this.storage.applySnapshot(snap);
      if (snap.metadata.index === 0) {
        // The bootstrap snapshot (index 0) carries only the membership, no state-machine data.
        if (this.kv.applied === 0) this.kv = new KvMachine(snap.metadata.confState);
      } else if (snap.metadata.index <= this.kv.applied) {
        this.host.trace(`${this.id} keeps its state machine at ${this.kv.applied}: it already applied snapshot ${snap.metadata.index}`);
      } else if (restoreState) {
        this.installState(snap.metadata.index, snap.data);
        this.host.onSnapshotInstalled(this.kv.applied - snap.metadata.index);
      }
    }
    this.coreCall('storage.append', () => this.storage.append(rd.entries));
    if (rd.hardState) this.storage.setHardState(rd.hardState);
  }

  /** Replaces the state machine with a leader's state, taken at or after snapshot index `index`. */
  private installState(index: number, data: Uint8Array): void {
    let kv: KvMachine;
    try {
      kv = KvMachine.deserialize(data);
    } catch (e) {
      throw new InvariantViolation('CoreContract', `${this.id} got snapshot ${index} whose data is not a state (${(e as Error).message})`);
    }
    if (kv.applied < index) {
      throw new InvariantViolation('StateMachineSafety', `${this.id} got snapshot ${index} whose state is applied only up to ${kv.applied}: entries ${kv.applied + 1}..${index} would be lost`);
    }
    if (kv.applied < this.kv.applied) {
      throw new InvariantViolation('StateMachineSafety', `${this.id} would restore a state at ${kv.applied}, older than its own at ${this.kv.applied}`);
    }
    this.host.checker.observeSnapshotInstall(this.id, kv.applied, kv.digest);
    this.host.checker.checkConfigAsOf(this.id, kv.applied, kv.confState, `the membership in the state of snapshot ${index}`);
    this.host.trace(`${this.id} installed the state at ${kv.applied} for snapshot ${index}`);
    this.kv = kv;
  }

  private finishSnapshotWrite(): void {
    const b = this.busy!;
    this.writeBatch(b.rd);
    this.coreApplied = { index: b.rd.snapshot!.metadata.index, confState: b.rd.snapshot!.metadata.confState };
    this.view.clearSnapshotOverlay();
    this.host.send(this, b.rd.messagesAfterPersist);
    b.phase = 'apply';
    this.serveReads();
    const delay = b.rd.committedEntries.length > 0 ? this.host.diskDelay(this, 'apply') : 0;
    this.afterDelay(delay, () => this.busy === b && this.finishApply());
  }

  private finishApply(): void {
    const raw = this.raw!;
    const b = this.busy!;
    for (const e of b.rd.committedEntries) this.handOut(raw, e);
    this.checkCoreConfig(raw.status().config);
    this.serveReads();
    if (!b.accepted) this.coreCall('advance', () => raw.advance(b.rd));
    this.busy = undefined;
    this.maybeSnapshot();
    this.observe();
    this.pump();
  }

  /**
   * One committed entry from the core, in order after the last one (or its snapshot). Entries the
   * state machine already applied are skipped, but a conf change among them still goes to the
   * core; the next one after the state machine's applied index is applied.
   */
  private handOut(raw: RawNode, e: Entry): void {
    if (e.index !== this.handedOut + 1) {
      throw new InvariantViolation('CoreContract', `${this.id} handed committed entry ${e.index} after handing out ${this.handedOut}`);
    }
    this.handedOut = e.index;
    if (e.index <= this.kv.applied) this.skipEntry(raw, e);
    else if (e.index === this.kv.applied + 1) this.applyEntry(raw, e);
    else throw new InvariantViolation('CoreContract', `${this.id} handed committed entry ${e.index} but its state machine applied only up to ${this.kv.applied}`);
    this.coreApplied = { index: e.index, confState: this.coreApplied.confState };
  }

  private skipEntry(raw: RawNode, e: Entry): void {
    const before = { applied: this.kv.applied, digest: this.kv.digest };
    if (e.type === 'confChange' && e.data.length > 0) {
      const cc = this.coreCall('decodeConfChange', () => decodeConfChange(e.data));
      this.applyConfChangeToCore(raw, e, cc);
    }
    this.host.checker.observeSkip(this.id, e, before, { applied: this.kv.applied, digest: this.kv.digest });
    this.host.onEntrySkipped(e);
  }

  private applyConfChangeToCore(raw: RawNode, e: Entry, cc: ConfChange): ConfState {
    const cs = this.coreCall('applyConfChange', () => raw.applyConfChange(cc));
    this.coreApplied = { index: this.coreApplied.index, confState: cs };
    this.host.checker.observeConfigSet(this.id, e.index, cs);
    this.host.trace(`${this.id} core applied ${cc.type} ${cc.nodeId} at ${e.index} -> voters [${cs.voters.join(',')}] learners [${cs.learners.join(',')}]`);
    return cs;
  }

  /** The core's configuration must be the cluster's as of the last entry it handed out. */
  private checkCoreConfig(config: ConfState): void {
    if (this.handedOut === 0 && config.voters.length === 0 && config.learners.length === 0) return; // a joiner, not started yet
    this.host.checker.checkConfigAsOf(this.id, this.handedOut, config, 'its core\'s configuration');
  }

  private applyEntry(raw: RawNode, e: Entry): void {
    let cc: ConfChange | undefined;
    let put: PutCommand | undefined;
    if (e.type === 'confChange' && e.data.length > 0) {
      const decoded = this.coreCall('decodeConfChange', () => decodeConfChange(e.data));
      cc = decoded;
      this.kv.confState = this.applyConfChangeToCore(raw, e, decoded);
    } else if (e.type === 'normal' && e.data.length > 0) {
      try {
        put = decodePut(e.data);
      } catch {
        throw new InvariantViolation('StateMachineSafety', `${this.id} applied entry ${e.index} whose data was never proposed`);
      }
    }
    const fresh = put ? this.kv.put(put) : false;
    this.kv.markApplied(e);
    const first = this.host.checker.observeApply(this.id, e.index, this.kv.digest);
    if (first) this.host.onFirstApply(e, cc);
    if (put && fresh) {
      this.host.checker.observeWriteApplied(put.id, e.index);
      if (this.myWrites.delete(put.id)) this.host.checker.ackWrite(put.id);
    }
  }

  private serveReads(): void {
    for (const [ctx, r] of this.reads) {
      if (r.index === undefined || r.index > this.kv.applied) continue;
      this.reads.delete(ctx);
      this.host.checker.serveRead(r.readId, this.kv.values.get(r.key));
      this.host.onReadServed();
    }
  }

  /**
   * As the node's snapshot scheduler: when due, in the background (one at a time), the state
   * machine syncs and says which index and membership it now holds; that is recorded in the log
   * as a snapshot without data, then the log is compacted. Applies go on meanwhile, so the
   * snapshot's index is the one when it completes.
   */
  private maybeSnapshot(): void {
    // The node's snapshot joins the log store's queue behind the writes in flight.
    if (this.snapshotting || this.writes.length > 0) return;
    const index = this.kv.applied;
    if (index - this.storage.snapshot().metadata.index < this.host.core.snapshotEvery) return;
    if (index > this.storage.lastIndex()) return;
    const delay = this.host.diskDelay(this, 'snapshot');
    if (delay === 0) return this.takeSnapshot();
    this.snapshotting = true;
    const incarnation = this.incarnation;
    this.host.schedule(delay, () => {
      if (this.incarnation !== incarnation) return;
      this.snapshotting = false;
      this.takeSnapshot();
    });
  }

  private takeSnapshot(): void {
    if (this.writes.length > 0) return this.maybeSnapshot(); // retried when the writes drain
    const index = this.kv.applied;
    if (index <= this.storage.snapshot().metadata.index || index > this.storage.lastIndex()) return;
    // The node waits while its state machine is ahead of what its core handed out (F7).
    if (this.host.core.snapshotIndex !== 'state' && index > this.coreApplied.index) return;
    const confState = this.kv.confState;
    this.host.checker.checkConfigAsOf(this.id, index, confState, `the configuration of its snapshot at ${index}`);
    const compactTo = index - this.host.core.keepEntries;
    if (compactTo > this.coreApplied.index) {
      throw new InvariantViolation(
        'CoreContract',
        `${this.id} snapshots at its state machine's index ${index} and compacts its log to ${compactTo}, but its core handed out only up to ${this.coreApplied.index}: committed entries ${this.coreApplied.index + 1}..${compactTo} (and any conf change among them) would never reach the core`,
      );
    }
    this.storage.createSnapshot(index, confState, new Uint8Array());
    if (compactTo > this.storage.firstIndex() - 1) this.storage.compact(compactTo);
    this.host.trace(`${this.id} snapshot at ${index} (core handed out ${this.handedOut}), log compacted to ${this.storage.firstIndex() - 1}`);
  }

  /** A 'snap' message as the transport sends it: with this node's state as of now. */
  withCurrentState(m: Message): Message {
    if (!m.snapshot) return m;
    return { ...m, snapshot: { metadata: m.snapshot.metadata, data: this.kv.serialize() } };
  }

  /** Stops the node for good (its pod and volume are deleted after its removal). */
  retire(): void {
    this.crash();
    this.retired = true;
  }

  /** Whether the node has something in flight (used by scenario tests to crash mid-write). */
  get writing(): 'persist' | 'apply' | undefined {
    if (this.writes.length > 0 || this.busy?.phase === 'persist' || this.busy?.phase === 'drain') return 'persist';
    return this.busy?.phase;
  }
}

function isEmptyReady(rd: Ready): boolean {
  return (
    !rd.softState &&
    !rd.hardState &&
    !rd.snapshot &&
    rd.entries.length === 0 &&
    rd.committedEntries.length === 0 &&
    rd.messages.length === 0 &&
    rd.messagesAfterPersist.length === 0 &&
    rd.readStates.length === 0
  );
}
