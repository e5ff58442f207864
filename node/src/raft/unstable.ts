import type { Entry, Logger, Snapshot } from './types.js';

/**
 * The part of the log not yet known to be durable: an optional incoming snapshot and the
 * entries after it (or after the stable log). entries[i] has index offset+i. Entries before
 * offsetInProgress were handed to storage and are being written; they stay here until stableTo.
 */
export class Unstable {
  snapshot: Snapshot | undefined;
  entries: Entry[] = [];
  offset: number;
  offsetInProgress: number;

  constructor(
    offset: number,
    private readonly logger: Logger,
  ) {
    this.offset = offset;
    this.offsetInProgress = offset;
  }

  /** Entries not yet handed to storage. */
  entriesToPersist(): Entry[] {
    const from = this.offsetInProgress - this.offset;
    return from >= this.entries.length ? [] : this.entries.slice(from);
  }

  hasEntriesToPersist(): boolean {
    return this.offsetInProgress - this.offset < this.entries.length;
  }

  /** Entries up to (i, t) were handed to storage (a snapshot never is before it is durable). */
  acceptInProgress(i: number, t: number): void {
    if (i >= this.offsetInProgress && this.maybeTerm(i) === t) this.offsetInProgress = i + 1;
  }

  /** The first index if the unstable part starts with a snapshot. */
  maybeFirstIndex(): number | undefined {
    return this.snapshot ? this.snapshot.metadata.index + 1 : undefined;
  }

  maybeLastIndex(): number | undefined {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    return this.snapshot ? this.snapshot.metadata.index : undefined;
  }

  maybeTerm(i: number): number | undefined {
    if (i < this.offset) {
      if (this.snapshot && this.snapshot.metadata.index === i) return this.snapshot.metadata.term;
      return undefined;
    }
    const last = this.maybeLastIndex();
    if (last === undefined || i > last) return undefined;
    return this.entries[i - this.offset]!.term;
  }

  /** Entries up to (i, t) were persisted; drop them unless they were overwritten meanwhile. */
  stableTo(i: number, t: number): void {
    const gt = this.maybeTerm(i);
    if (gt === undefined || gt !== t || i < this.offset) return;
    this.entries = this.entries.slice(i + 1 - this.offset);
    this.offset = i + 1;
    if (this.offsetInProgress < this.offset) this.offsetInProgress = this.offset;
  }

  stableSnapTo(i: number): void {
    if (this.snapshot && this.snapshot.metadata.index === i) this.snapshot = undefined;
  }

  restore(snap: Snapshot): void {
    this.offset = snap.metadata.index + 1;
    this.offsetInProgress = this.offset;
    this.entries = [];
    this.snapshot = snap;
  }

  truncateAndAppend(ents: Entry[]): void {
    if (ents.length === 0) return;
    const first = ents[0]!.index;
    if (first === this.offset + this.entries.length) {
      for (const e of ents) this.entries.push(e);
    } else if (first <= this.offset) {
      // Replaces everything unstable (and, for the caller's storage, the suffix from `first`).
      this.logger.debug('unstable: replacing entries', { from: first });
      this.offset = first;
      this.offsetInProgress = first;
      this.entries = [...ents];
    } else {
      this.logger.debug('unstable: truncating entries', { from: first });
      this.entries = this.entries.slice(0, first - this.offset);
      for (const e of ents) this.entries.push(e);
    }
    // Replaced entries that were being written must be written again (a write in flight that
    // completes later no longer matches their terms, see stableTo).
    if (this.offsetInProgress > first) this.offsetInProgress = first;
  }

  /** Entries in [lo, hi); the caller guarantees the range lies in the unstable part. */
  slice(lo: number, hi: number): Entry[] {
    if (lo > hi || lo < this.offset || hi > this.offset + this.entries.length) {
      throw new Error(`unstable.slice(${lo}, ${hi}) out of bounds [${this.offset}, ${this.offset + this.entries.length}]`);
    }
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}
