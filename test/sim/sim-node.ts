import {
  MemoryStorage,
  ProposalDroppedError,
  RawNode,
  decodeConfChange,
  type ConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type LogStorage,
  type Message,
  type NodeId,
  type Ready,
  type Role,
  type Snapshot,
} from '../../node/src/raft/index.js';
import { KvMachine, decodePut, mixDigest, type PutCommand } from './kv-machine.js';
import { LogView, durableTerm } from './log-view.js';
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
}

/** What a node needs from the simulation around it. */
export interface NodeHost {
  readonly checker: SafetyChecker;
  readonly core: CoreSettings;
  readonly rng: Prng;
  trace(text: string): void;
  send(from: SimNode, msgs: Message[]): void;
  /** Time units one disk write takes; 0 completes it within the current event. */
  diskDelay(node: SimNode): number;
  schedule(delay: number, fn: () => void): void;
  /** Whether a batch that was being written when the node crashed made it to disk. */
  crashOutcomeDurable(node: SimNode): boolean;
  durablyHolds(node: NodeId, index: number, term: number): boolean;
  onFirstApply(entry: Entry, cc: ConfChange | undefined): void;
  onReadServed(): void;
  onSnapshotInstalled(): void;
  onLeaderSuspected(): void;
}

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
  | { kind: 'suspectLeader'; about: NodeId };

interface PendingRead {
  readId: string;
  key: string;
  index: number | undefined;
}

interface Busy {
  rd: Ready;
  phase: 'persist' | 'apply';
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/**
 * The node's disk as the core reads it. initialState() reports the membership the state machine
 * durably applied (it is written with the KV in one batch), because on restart the core skips
 * entries up to `applied`, so a conf change after the last snapshot would otherwise be forgotten.
 */
class NodeDisk implements LogStorage {
  constructor(
    private readonly mem: MemoryStorage,
    private readonly appliedConf: () => ConfState,
  ) {}
  initialState(): { hardState: HardState; confState: ConfState } {
    const cs = this.appliedConf();
    return { hardState: this.mem.hardStateNow(), confState: { voters: [...cs.voters], learners: [...cs.learners] } };
  }
  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    return this.mem.entries(lo, hi, maxBytes);
  }
  term(i: number): number {
    return this.mem.term(i);
  }
  firstIndex(): number {
    return this.mem.firstIndex();
  }
  lastIndex(): number {
    return this.mem.lastIndex();
  }
  snapshot(): Snapshot {
    return this.mem.snapshot();
  }
}

/**
 * One simulated member: a real RawNode over a MemoryStorage "disk" and a durable KV. Inputs are
 * queued while a Ready is being written (the node's loop is single-threaded), each Ready is
 * written as ONE atomic batch (hardState + entries + snapshot), then the committed entries are
 * applied as one atomic KV batch, then advance(). A crash loses the queue and whatever batch was
 * not yet durable.
 */
export class SimNode {
  readonly storage = new MemoryStorage();
  kv: KvMachine;
  raw: RawNode | undefined;
  incarnation = 0;
  retired = false;
  readonly view: LogView;
  private readonly disk: NodeDisk;
  private inbox: NodeInput[] = [];
  private busy: Busy | undefined;
  private pumping = false;
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
      const data = bootstrapIndex > 0 ? this.kv.serialize() : new Uint8Array();
      this.storage.applySnapshot({ metadata: { index: bootstrapIndex, term: bootstrapIndex > 0 ? 1 : 0, confState }, data });
      if (bootstrapIndex > 0) this.storage.setHardState({ term: 1, vote: '', commit: bootstrapIndex });
    }
    this.view = new LogView(this.storage);
    this.disk = new NodeDisk(this.storage, () => this.kv.confState);
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

  /** Power loss: everything in memory is gone; a batch being written is durable only if it got there. */
  crash(): void {
    if (!this.raw) return;
    const b = this.busy;
    if (b && b.phase === 'persist' && this.host.crashOutcomeDurable(this)) {
      this.writeBatch(b.rd);
      this.host.trace(`${this.id} crash: the batch in flight reached the disk`);
    } else if (b) {
      this.host.trace(`${this.id} crash: the ${b.phase} batch in flight is lost`);
    }
    for (const r of this.reads.values()) this.host.checker.abandonRead(r.readId);
    this.reads.clear();
    this.myWrites.clear();
    this.inbox = [];
    this.busy = undefined;
    this.raw = undefined;
    this.view.clearOverlay();
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
    this.start();
    this.pump();
  }

  private start(): void {
    const core = this.host.core;
    const rng = this.host.rng.fork();
    this.raw = this.coreCall('constructor', () =>
      new RawNode({
        id: this.id,
        storage: this.disk,
        electionTick: core.electionTick,
        heartbeatTick: core.heartbeatTick,
        applied: this.kv.applied,
        maxSizePerMsg: core.maxSizePerMsg,
        maxInflightMsgs: core.maxInflightMsgs,
        maxUncommittedEntriesSize: core.maxUncommittedEntriesSize,
        maxCommittedSizePerReady: core.maxCommittedSizePerReady,
        preVote: true,
        checkQuorum: true,
        randomInt: (n) => rng.int(n),
      }),
    );
    const st = this.raw.status();
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
  }

  private startReady(): void {
    const raw = this.raw!;
    const rd = this.coreCall('ready', () => raw.ready());
    this.checkReadyShape(rd);
    this.view.setOverlay(rd.entries, rd.snapshot?.metadata);
    this.busy = { rd, phase: 'persist' };
    this.observe();
    this.host.send(this, rd.messages);
    for (const rs of rd.readStates) {
      const r = this.reads.get(textDecoder.decode(rs.context));
      if (r && r.index === undefined) r.index = rs.index;
    }
    this.serveReads();
    const incarnation = this.incarnation;
    // Only a Ready that must be fsynced waits for the disk; one with only messages or a commit
    // index does not (otherwise a slow disk would also delay every heartbeat response).
    const delay = rd.mustSync || rd.snapshot ? this.host.diskDelay(this) : 0;
    if (delay === 0) this.finishPersist();
    else this.host.schedule(delay, () => this.incarnation === incarnation && this.busy?.rd === rd && this.finishPersist());
  }

  /** Log Matching bookkeeping for every entry handed out, and shape checks the disk relies on. */
  private checkReadyShape(rd: Ready): void {
    const checker = this.host.checker;
    let prevIndex = rd.snapshot ? rd.snapshot.metadata.index : undefined;
    let prevTerm = rd.snapshot ? rd.snapshot.metadata.term : undefined;
    const bootstrapSnapshot = rd.snapshot?.metadata.index === 0 && this.kv.applied === 0;
    if (rd.snapshot && rd.snapshot.metadata.index <= this.kv.applied && !bootstrapSnapshot) {
      throw new InvariantViolation('CoreContract', `${this.id} was handed snapshot ${rd.snapshot.metadata.index}, not newer than applied ${this.kv.applied}`);
    }
    const first = rd.entries[0];
    if (first) {
      const last = rd.snapshot ? rd.snapshot.metadata.index : this.storage.lastIndex();
      if (first.index > last + 1) {
        throw new InvariantViolation('CoreContract', `${this.id} Ready entries start at ${first.index}, leaving a gap after ${last}`);
      }
      if (prevIndex === undefined || first.index !== prevIndex + 1) {
        prevIndex = first.index - 1;
        prevTerm = undefined;
        const t = durableTerm(this.storage, prevIndex);
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

  /** Writes one Ready's hardState, entries and snapshot: the whole batch or nothing. */
  private writeBatch(rd: Ready): void {
    if (rd.snapshot) {
      // The bootstrap snapshot (index 0) carries only the membership, no state-machine data.
      const kv = rd.snapshot.metadata.index === 0 ? new KvMachine(rd.snapshot.metadata.confState) : KvMachine.deserialize(rd.snapshot.data);
      if (kv.applied !== rd.snapshot.metadata.index) {
        throw new InvariantViolation('CoreContract', `${this.id} snapshot metadata index ${rd.snapshot.metadata.index} does not match its data (${kv.applied})`);
      }
      this.storage.applySnapshot(rd.snapshot);
      kv.confState = { voters: [...rd.snapshot.metadata.confState.voters], learners: [...rd.snapshot.metadata.confState.learners] };
      this.kv = kv;
      this.host.checker.observeSnapshotInstall(this.id, kv.applied, kv.digest);
      this.host.onSnapshotInstalled();
    }
    this.coreCall('storage.append', () => this.storage.append(rd.entries));
    if (rd.hardState) this.storage.setHardState(rd.hardState);
  }

  private finishPersist(): void {
    const b = this.busy!;
    this.writeBatch(b.rd);
    this.view.clearOverlay();
    this.host.send(this, b.rd.messagesAfterPersist);
    b.phase = 'apply';
    const delay = b.rd.committedEntries.length > 0 ? this.host.diskDelay(this) : 0;
    const incarnation = this.incarnation;
    if (delay === 0) this.finishApply();
    else this.host.schedule(delay, () => this.incarnation === incarnation && this.busy === b && this.finishApply());
  }

  private finishApply(): void {
    const raw = this.raw!;
    const rd = this.busy!.rd;
    for (const e of rd.committedEntries) this.applyEntry(raw, e);
    this.serveReads();
    this.coreCall('advance', () => raw.advance(rd));
    this.busy = undefined;
    this.maybeSnapshot();
    this.observe();
    this.pump();
  }

  private applyEntry(raw: RawNode, e: Entry): void {
    if (e.index !== this.kv.applied + 1) {
      throw new InvariantViolation('CoreContract', `${this.id} handed committed entry ${e.index} after applying ${this.kv.applied}`);
    }
    let cc: ConfChange | undefined;
    let put: PutCommand | undefined;
    if (e.type === 'confChange' && e.data.length > 0) {
      const decoded = this.coreCall('decodeConfChange', () => decodeConfChange(e.data));
      cc = decoded;
      this.kv.confState = this.coreCall('applyConfChange', () => raw.applyConfChange(decoded));
      this.host.trace(`${this.id} applied ${decoded.type} ${decoded.nodeId} at ${e.index} -> voters [${this.kv.confState.voters.join(',')}] learners [${this.kv.confState.learners.join(',')}]`);
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

  private maybeSnapshot(): void {
    const core = this.host.core;
    if (this.kv.applied - this.storage.snapshot().metadata.index < core.snapshotEvery) return;
    this.storage.createSnapshot(this.kv.applied, this.kv.confState, this.kv.serialize());
    const compactTo = this.kv.applied - core.keepEntries;
    if (compactTo > this.storage.firstIndex() - 1) this.storage.compact(compactTo);
  }

  /** Stops the node for good (its pod and volume are deleted after its removal). */
  retire(): void {
    this.crash();
    this.retired = true;
  }

  /** Whether the node has something in flight (used by scenario tests to crash mid-write). */
  get writing(): 'persist' | 'apply' | undefined {
    return this.busy?.phase;
  }
}
