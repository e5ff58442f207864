import type { ConfState, Entry, NodeId } from '../../node/src/raft/index.js';
import { mixDigest } from './kv-machine.js';
import type { TermAt } from './log-view.js';

export type Rule =
  | 'ElectionSafety'
  | 'LogMatching'
  | 'StateMachineSafety'
  | 'LeaderCompleteness'
  | 'CommitQuorum'
  | 'CommitRule'
  | 'LinearizableRead'
  | 'ConfChangeSafety'
  | 'LearnerCampaign'
  | 'CoreContract'
  | 'Liveness';

export class InvariantViolation extends Error {
  constructor(
    readonly rule: Rule,
    detail: string,
  ) {
    super(`${rule}: ${detail}`);
    this.name = 'InvariantViolation';
  }
}

interface EntryRecord {
  fingerprint: number;
  prevTerm: number | undefined;
  node: NodeId;
}

interface ReadRecord {
  node: NodeId;
  key: string;
  /** Apply index of the newest write to `key` acknowledged before the read began. */
  minIndex: number;
}

/**
 * The global history of a simulation and the Raft safety rules over it. Each observe* call is
 * one event; a broken rule throws InvariantViolation at once. Pure bookkeeping: the unit tests
 * drive it with hand-made histories to prove every rule can fire.
 */
export class SafetyChecker {
  private readonly leaderOfTerm = new Map<number, NodeId>();
  private readonly entries = new Map<string, EntryRecord>();
  private readonly committedTerm = new Map<number, number>();
  private readonly appliedDigest = new Map<number, number>();
  private readonly writes = new Map<string, { key: string; value: string }>();
  private readonly writeIndex = new Map<string, number>();
  private readonly ackedIndex = new Map<string, number>();
  private readonly reads = new Map<string, ReadRecord>();
  private readonly ackedWrites = new Set<string>();
  /** The cluster's configuration as of each index where it was set (bootstrap, conf changes). */
  private readonly configAt = new Map<number, string>();
  private configIndexes: number[] = [];
  private maxCommitted = 0;

  /** Election Safety: at most one leader per term. */
  observeLeader(node: NodeId, term: number): void {
    const known = this.leaderOfTerm.get(term);
    if (known === undefined) this.leaderOfTerm.set(term, node);
    else if (known !== node) throw new InvariantViolation('ElectionSafety', `term ${term} has two leaders: ${known} and ${node}`);
  }

  /** Learners are never counted, so they never stand for election. */
  observeRole(node: NodeId, role: string, learners: readonly NodeId[]): void {
    if (role !== 'follower' && learners.includes(node)) {
      throw new InvariantViolation('LearnerCampaign', `learner ${node} became ${role}`);
    }
  }

  /**
   * Log Matching: one (index, term) names one entry, and its predecessor's term is fixed too, so
   * by induction two logs agreeing on (index, term) agree on the whole prefix. Also, a node never
   * rewrites an index it already knows to be committed (`nodeCommit`). A stale node may still
   * append a different entry at an index committed elsewhere; that is legal until it commits it.
   */
  observeLogEntry(node: NodeId, index: number, term: number, prevTerm: TermAt, fingerprint: number, nodeCommit: number): void {
    const committed = this.committedTerm.get(index);
    if (index <= nodeCommit && committed !== undefined && committed !== term) {
      throw new InvariantViolation('StateMachineSafety', `${node} overwrote its committed index ${index} (term ${committed}) with term ${term}`);
    }
    const key = `${index}/${term}`;
    const prev = typeof prevTerm === 'number' ? prevTerm : undefined;
    const known = this.entries.get(key);
    if (known === undefined) {
      this.entries.set(key, { fingerprint, prevTerm: prev, node });
      return;
    }
    if (known.fingerprint !== fingerprint) {
      throw new InvariantViolation('LogMatching', `entry ${key} differs between ${known.node} and ${node}`);
    }
    if (prev !== undefined && known.prevTerm !== undefined && prev !== known.prevTerm) {
      throw new InvariantViolation(
        'LogMatching',
        `entry ${key} follows term ${known.prevTerm} on ${known.node} but term ${prev} on ${node}`,
      );
    }
    if (known.prevTerm === undefined && prev !== undefined) known.prevTerm = prev;
  }

  /** A node's commit index covers (index, term): every node must agree on committed terms. */
  observeCommitted(node: NodeId, index: number, term: number): void {
    const known = this.committedTerm.get(index);
    if (known === undefined) {
      this.committedTerm.set(index, term);
      if (index > this.maxCommitted) this.maxCommitted = index;
    } else if (known !== term) {
      throw new InvariantViolation('StateMachineSafety', `${node} committed index ${index} at term ${term}, but term ${known} was committed there`);
    }
  }

  /**
   * A leader advanced its commit index to `index`: the entry must be from the leader's own term
   * (§5.4.2) and durable on a majority of the voters (learners and unsynced copies do not count).
   */
  observeLeaderCommit(
    leader: NodeId,
    leaderTerm: number,
    index: number,
    termAtIndex: TermAt,
    voters: readonly NodeId[],
    durablyHolds: (voter: NodeId) => boolean,
  ): void {
    if (termAtIndex !== leaderTerm) {
      throw new InvariantViolation('CommitRule', `leader ${leader} (term ${leaderTerm}) committed index ${index} of term ${String(termAtIndex)} by counting`);
    }
    const holders = voters.filter(durablyHolds);
    if (holders.length * 2 <= voters.length) {
      throw new InvariantViolation(
        'CommitQuorum',
        `leader ${leader} committed index ${index} but only [${holders.join(',')}] of voters [${voters.join(',')}] hold it on disk`,
      );
    }
  }

  /** Leader Completeness: a new leader holds every entry committed so far. */
  observeNewLeader(node: NodeId, term: number, termAt: (i: number) => TermAt): void {
    for (const [index, committed] of this.committedTerm) {
      const t = termAt(index);
      if (t === 'compacted') continue;
      if (t !== committed) {
        throw new InvariantViolation(
          'LeaderCompleteness',
          `${node} became leader of term ${term} without committed index ${index} (term ${committed}; it has ${String(t)})`,
        );
      }
    }
  }

  /** State Machine Safety: every node applies the same entry (rolling digest) at each index. */
  observeApply(node: NodeId, index: number, digest: number): boolean {
    const known = this.appliedDigest.get(index);
    if (known === undefined) {
      this.appliedDigest.set(index, digest);
      return true;
    }
    if (known !== digest) {
      throw new InvariantViolation('StateMachineSafety', `${node} applied a different history up to index ${index}`);
    }
    return false;
  }

  /** A snapshot installed on `node` must describe the same applied history. */
  observeSnapshotInstall(node: NodeId, index: number, digest: number): void {
    const known = this.appliedDigest.get(index);
    if (known !== undefined && known !== digest) {
      throw new InvariantViolation('StateMachineSafety', `${node} installed a snapshot at ${index} that differs from the applied history`);
    }
    if (known === undefined) this.appliedDigest.set(index, digest);
  }

  /**
   * The state machine skipped a committed entry the core handed out again (it is <= the state
   * machine's applied index: it came with a snapshot's data, or before a restart). Skipping must
   * leave the state untouched, and the entry must be the one the cluster applied there.
   */
  observeSkip(node: NodeId, e: Entry, before: { applied: number; digest: number }, after: { applied: number; digest: number }): void {
    if (after.applied !== before.applied || after.digest !== before.digest) {
      throw new InvariantViolation(
        'StateMachineSafety',
        `${node} skipped entry ${e.index} (its state machine is at ${before.applied}) but the state changed to applied ${after.applied}, digest ${after.digest} (was ${before.digest})`,
      );
    }
    const prev = this.appliedDigest.get(e.index - 1);
    const known = this.appliedDigest.get(e.index);
    if (prev !== undefined && known !== undefined && mixDigest(prev, e) !== known) {
      throw new InvariantViolation('StateMachineSafety', `${node} was handed entry ${e.index} (term ${e.term}) to skip, but the cluster applied a different entry there`);
    }
  }

  /**
   * The cluster's configuration as of `index` became `cs` (the bootstrap, or a conf change
   * applied by a core at `index`): every core that applies the conf change at `index` must get
   * the same configuration.
   */
  observeConfigSet(node: NodeId, index: number, cs: ConfState): void {
    const text = confText(cs);
    const known = this.configAt.get(index);
    if (known === undefined) {
      this.configAt.set(index, text);
      this.configIndexes = [...this.configIndexes, index].sort((a, b) => a - b);
    } else if (known !== text) {
      throw new InvariantViolation('ConfChangeSafety', `${node}'s configuration after index ${index} is ${text}, but ${known} elsewhere`);
    }
  }

  /**
   * A configuration that claims to be the cluster's as of `index` (a core that handed out every
   * entry up to `index`, a snapshot's metadata or state) must be the one the conf changes up to
   * `index` produced. Conf changes are recorded when a core first applies them, and a state
   * machine can only be past an index some core applied, so the history is complete here.
   */
  checkConfigAsOf(node: NodeId, index: number, cs: ConfState, what: string): void {
    let at: number | undefined;
    for (const i of this.configIndexes) {
      if (i > index) break;
      at = i;
    }
    if (at === undefined) return;
    const want = this.configAt.get(at)!;
    const got = confText(cs);
    if (got !== want) {
      throw new InvariantViolation('ConfChangeSafety', `${node}: ${what} as of index ${index} is ${got}, but the cluster's configuration there is ${want} (set at ${at})`);
    }
  }

  proposeWrite(id: string, key: string, value: string): void {
    this.writes.set(id, { key, value });
  }

  /** The first application of write `id` (later duplicates are ignored by the state machine). */
  observeWriteApplied(id: string, index: number): void {
    const known = this.writeIndex.get(id);
    if (known === undefined) this.writeIndex.set(id, index);
    else if (known !== index) {
      throw new InvariantViolation('StateMachineSafety', `write ${id} took effect at index ${known} on one node and ${index} on another`);
    }
  }

  /** The proposer saw its write applied: the client has its acknowledgement. */
  ackWrite(id: string): void {
    const w = this.writes.get(id);
    const index = this.writeIndex.get(id);
    if (w === undefined || index === undefined) throw new InvariantViolation('CoreContract', `acknowledged unknown write ${id}`);
    this.ackedIndex.set(w.key, Math.max(this.ackedIndex.get(w.key) ?? 0, index));
    this.ackedWrites.add(id);
  }

  isAcked(id: string): boolean {
    return this.ackedWrites.has(id);
  }

  /** The index at which write `id` took effect, if it has been applied anywhere. */
  indexOfWrite(id: string): number | undefined {
    return this.writeIndex.get(id);
  }

  get ackedCount(): number {
    return this.ackedWrites.size;
  }

  beginRead(readId: string, node: NodeId, key: string): void {
    this.reads.set(readId, { node, key, minIndex: this.ackedIndex.get(key) ?? 0 });
  }

  /** A linearizable read returns a written value at least as new as every write acknowledged before it began. */
  serveRead(readId: string, served: { value: string; id: string } | undefined): void {
    const r = this.reads.get(readId);
    if (r === undefined) throw new InvariantViolation('CoreContract', `read ${readId} served twice or never begun`);
    this.reads.delete(readId);
    let index = 0;
    if (served !== undefined) {
      const w = this.writes.get(served.id);
      if (w === undefined || w.key !== r.key || w.value !== served.value) {
        throw new InvariantViolation('LinearizableRead', `read ${readId} of ${r.key} on ${r.node} returned ${served.value}, which was never written there`);
      }
      index = this.writeIndex.get(served.id) ?? 0;
    }
    if (index < r.minIndex) {
      throw new InvariantViolation(
        'LinearizableRead',
        `read ${readId} of ${r.key} on ${r.node} returned the write at index ${index}, older than the acknowledged write at ${r.minIndex}`,
      );
    }
  }

  abandonRead(readId: string): void {
    this.reads.delete(readId);
  }

  /** At most one conf change may be uncommitted in a leader's log. */
  observePendingConfChanges(leader: NodeId, term: number, indexes: readonly number[]): void {
    if (indexes.length > 1) {
      throw new InvariantViolation('ConfChangeSafety', `leader ${leader} (term ${term}) has uncommitted conf changes at [${indexes.join(',')}]`);
    }
  }

  get committedIndex(): number {
    return this.maxCommitted;
  }

  get leaders(): number {
    return this.leaderOfTerm.size;
  }

  get readsPending(): number {
    return this.reads.size;
  }
}

function confText(cs: ConfState): string {
  return `voters [${[...cs.voters].sort().join(',')}] learners [${[...cs.learners].sort().join(',')}]`;
}
