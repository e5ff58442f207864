import { CompactedError, UnavailableError } from './errors.js';
import { entrySize, limitSize } from './memory-storage.js';
import type { Entry, Logger, LogStorage, Snapshot } from './types.js';
import { Unstable } from './unstable.js';

/** The Raft log as the core sees it: the durable storage followed by the unstable tail. */
export class RaftLog {
  readonly unstable: Unstable;
  /** Highest index known to be committed. */
  committed: number;
  /** Highest index handed out for application (in a Ready not yet advanced). */
  applying: number;
  /** Highest index the application has applied. */
  applied: number;

  constructor(
    readonly storage: LogStorage,
    private readonly logger: Logger,
    private readonly maxCommittedSize: number,
  ) {
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    this.unstable = new Unstable(last + 1, logger);
    this.committed = first - 1;
    this.applying = first - 1;
    this.applied = first - 1;
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  lastTerm(): number {
    return this.term(this.lastIndex()) ?? 0;
  }

  /**
   * Term of the entry at i: undefined when i is compacted or beyond the log.
   * Index firstIndex()-1 is answered from the snapshot.
   */
  term(i: number): number | undefined {
    const u = this.unstable.maybeTerm(i);
    if (u !== undefined) return u;
    if (i < this.firstIndex() - 1 || i > this.lastIndex()) return undefined;
    try {
      return this.storage.term(i);
    } catch (err) {
      if (err instanceof CompactedError || err instanceof UnavailableError) return undefined;
      throw err;
    }
  }

  matchTerm(i: number, t: number): boolean {
    return this.term(i) === t;
  }

  /** The Raft election restriction: is (lasti, term) at least as up to date as our log? */
  isUpToDate(lasti: number, term: number): boolean {
    const ourTerm = this.lastTerm();
    return term > ourTerm || (term === ourTerm && lasti >= this.lastIndex());
  }

  /** Index of the first entry whose term differs from ours (0 if all match and none are new). */
  findConflict(ents: Entry[]): number {
    for (const e of ents) {
      if (!this.matchTerm(e.index, e.term)) {
        if (e.index <= this.lastIndex()) {
          this.logger.debug('found conflict', { index: e.index, term: e.term, existing: this.term(e.index) });
        }
        return e.index;
      }
    }
    return 0;
  }

  /**
   * The largest index <= `index` whose term is <= `term` (and that term), used for fast
   * backtracking; stops at the first index whose term is unknown (compacted).
   */
  findConflictByTerm(index: number, term: number): [number, number] {
    for (; index > 0; index--) {
      const t = this.term(index);
      if (t === undefined) return [index, 0];
      if (t <= term) return [index, t];
    }
    return [0, 0];
  }

  /**
   * The follower side of AppendEntries: returns the index of the last new entry, or undefined
   * if (index, logTerm) does not match our log.
   */
  maybeAppend(index: number, logTerm: number, committed: number, ents: Entry[]): number | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNew = index + ents.length;
    const ci = this.findConflict(ents);
    if (ci !== 0) {
      if (ci <= this.committed) {
        // Never truncate committed entries: this would mean a leader with a diverging committed log.
        this.logger.error('entry conflicts with a committed entry; ignoring append', { conflict: ci, committed: this.committed });
        return undefined;
      }
      this.append(ents.slice(ci - (index + 1)));
    }
    this.commitTo(Math.min(committed, lastNew));
    return lastNew;
  }

  append(ents: Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    const after = ents[0]!.index - 1;
    if (after < this.committed) {
      throw new Error(`append after ${after} is out of range [committed ${this.committed}]`);
    }
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  commitTo(tocommit: number): void {
    if (tocommit <= this.committed) return;
    if (tocommit > this.lastIndex()) {
      throw new Error(`commit ${tocommit} is out of range [last index ${this.lastIndex()}]`);
    }
    this.committed = tocommit;
  }

  /** The leader's commit rule: only an entry of the current term commits by counting. */
  maybeCommit(maxIndex: number, term: number): boolean {
    if (maxIndex > this.committed && this.term(maxIndex) === term) {
      this.commitTo(maxIndex);
      return true;
    }
    return false;
  }

  appliedTo(i: number): void {
    if (i === 0) return;
    if (i > this.committed || i < this.applied) {
      throw new Error(`applied ${i} is out of range [prev applied ${this.applied}, committed ${this.committed}]`);
    }
    this.applied = i;
    if (this.applying < i) this.applying = i;
  }

  /** The last index that is durable on this node (entries past it are in the unstable tail). */
  lastStableIndex(): number {
    if (this.unstable.snapshot) return 0;
    return this.unstable.offset - 1;
  }

  stableTo(i: number, t: number): void {
    this.unstable.stableTo(i, t);
  }

  stableSnapTo(i: number): void {
    this.unstable.stableSnapTo(i);
  }

  /** Unstable entries not yet handed to storage. */
  unstableEntries(): Entry[] {
    return this.unstable.entriesToPersist();
  }

  hasPendingSnapshot(): boolean {
    return this.unstable.snapshot !== undefined;
  }

  /** Highest index that may be handed out for application: committed and durable here. */
  private maxAppliableIndex(): number {
    return Math.min(this.committed, this.lastStableIndex());
  }

  hasNextCommittedEnts(): boolean {
    if (this.hasPendingSnapshot()) return false;
    return this.maxAppliableIndex() > this.applying;
  }

  nextCommittedEnts(): Entry[] {
    if (!this.hasNextCommittedEnts()) return [];
    const lo = Math.max(this.applying + 1, this.firstIndex());
    const hi = this.maxAppliableIndex() + 1;
    if (lo >= hi) return [];
    return this.slice(lo, hi, this.maxCommittedSize);
  }

  /** Marks entries up to i as handed out (they will not be returned again). */
  acceptApplying(i: number): void {
    if (i > this.applying) this.applying = i;
  }

  /** Entries from i to the end, at most maxSize bytes (always at least one). */
  entries(i: number, maxSize: number): Entry[] {
    if (i > this.lastIndex()) return [];
    return this.slice(i, this.lastIndex() + 1, maxSize);
  }

  /** Entries in [lo, hi) limited to maxSize bytes; throws CompactedError if lo is compacted. */
  slice(lo: number, hi: number, maxSize: number): Entry[] {
    if (lo < this.firstIndex()) throw new CompactedError(lo);
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1);
    if (lo === hi) return [];
    let ents: Entry[] = [];
    const uoff = this.unstable.offset;
    if (lo < uoff) {
      const stored = this.storage.entries(lo, Math.min(hi, uoff), maxSize);
      if (stored.length < Math.min(hi, uoff) - lo) return stored; // size-limited
      ents = stored;
    }
    if (hi > uoff) {
      const u = this.unstable.slice(Math.max(lo, uoff), hi);
      ents = ents.length > 0 ? [...ents, ...u] : u;
    }
    return limitSize(ents, maxSize);
  }

  /** Whether any entry in [lo, hi) satisfies `pred`, reading `pageBytes` at a time. Throws if unreadable. */
  someEntry(lo: number, hi: number, pageBytes: number, pred: (e: Entry) => boolean): boolean {
    while (lo < hi) {
      const ents = this.slice(lo, hi, pageBytes);
      if (ents.length === 0) return false;
      if (ents.some(pred)) return true;
      lo = ents[ents.length - 1]!.index + 1;
    }
    return false;
  }

  restore(snap: Snapshot): void {
    this.logger.info('log restored from snapshot', { index: snap.metadata.index, term: snap.metadata.term });
    this.committed = snap.metadata.index;
    this.unstable.restore(snap);
  }

  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  /** Sum of payload bytes, used for the uncommitted-size cap. */
  static payloadSize(ents: Entry[]): number {
    let s = 0;
    for (const e of ents) s += e.data.length;
    return s;
  }
}

export { entrySize };
