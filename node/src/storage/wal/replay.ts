import type { Entry, HardState } from '../../raft/types.js';
import type { LogPosition, SnapshotRecord, WalRecord } from './record-codec.js';

/** The Raft log as the WAL's records describe it. */
export interface ReplayedLog {
  hardState: HardState | undefined;
  /** The last entry dropped from the log ({0, 0} when none was). */
  compacted: LogPosition;
  snapshot: SnapshotRecord | null;
  /** Entries compacted.index + 1, compacted.index + 2, ...: contiguous. */
  entries: Entry[];
}

/** The records contradict each other: the log cannot be trusted. */
export class InconsistentLogError extends Error {}

/**
 * Replays records in the order they were written. Entries records replace any suffix from their
 * first index on; a received snapshot discards every entry. Segments whose entries were all
 * compacted may have been deleted, so entries may start above the compaction point read so far;
 * by the end, a later compaction record must cover that gap, else entries are missing.
 */
export class LogReplay {
  private hardState: HardState | undefined;
  private compacted: LogPosition = { index: 0, term: 0 };
  private snapshot: SnapshotRecord | null = null;
  private entries: Entry[] = [];
  /** Index of the entry before entries[0]. */
  private base = 0;

  apply(record: WalRecord): void {
    switch (record.kind) {
      case 'hardState':
        this.hardState = record.hardState;
        return;
      case 'entries':
        return this.applyEntries(record.entries);
      case 'compacted':
        return this.applyCompaction(record.position);
      case 'snapshot':
        return this.applySnapshot(record.snapshot, record.replacesLog);
    }
  }

  finish(): ReplayedLog {
    if (this.base > this.compacted.index) {
      throw new InconsistentLogError(`expected entry ${this.compacted.index + 1}, found entry ${this.base + 1} (entries ${this.compacted.index + 1}..${this.base} are missing)`);
    }
    const snap = this.snapshot;
    const snapIndex = snap?.index ?? 0;
    if (this.compacted.index > snapIndex) throw new InconsistentLogError(`entries up to ${this.compacted.index} were dropped but the snapshot is only at ${snapIndex}`);
    return { hardState: this.hardState, compacted: this.compacted, snapshot: snap, entries: this.entries };
  }

  private lastIndex(): number {
    return this.base + this.entries.length;
  }

  private applyEntries(all: Entry[]): void {
    const entries = all[0]!.index <= this.compacted.index ? all.filter((e) => e.index > this.compacted.index) : all;
    if (entries.length === 0) return;
    const first = entries[0]!.index;
    if (first > this.lastIndex() + 1 || first <= this.base) {
      // Starts past a gap (checked in finish) or replaces everything kept so far.
      this.entries = entries.slice();
      this.base = first - 1;
      return;
    }
    this.entries.length = first - this.base - 1;
    for (const e of entries) this.entries.push(e);
  }

  private applyCompaction(position: LogPosition): void {
    if (position.index <= this.compacted.index) return; // a segment header repeating an older point
    if (position.index > this.base && position.index <= this.lastIndex()) {
      const term = this.entries[position.index - this.base - 1]!.term;
      if (term !== position.term) throw new InconsistentLogError(`entry ${position.index} has term ${term}, but it was compacted at term ${position.term}`);
    }
    this.compacted = position;
    if (position.index >= this.lastIndex()) {
      this.entries = [];
      this.base = position.index;
    } else if (position.index > this.base) {
      this.entries = this.entries.slice(position.index - this.base);
      this.base = position.index;
    }
  }

  private applySnapshot(snap: SnapshotRecord, replacesLog: boolean): void {
    const current = this.snapshot;
    if (current && snap.index < current.index) throw new InconsistentLogError(`a snapshot at ${snap.index} was recorded after the one at ${current.index}`);
    this.snapshot = snap;
    if (replacesLog) {
      this.entries = [];
      this.base = snap.index;
      this.compacted = { index: snap.index, term: snap.term };
    }
  }
}
