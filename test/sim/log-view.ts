import type { Entry, MemoryStorage, SnapshotMetadata } from '../../node/src/raft/index.js';

/** `compacted`: the index lies inside a snapshot, so its term is no longer known entry by entry. */
export type TermAt = number | 'compacted' | undefined;

/**
 * A node's log as the checkers see it: the durable MemoryStorage, then the writes in flight in
 * order (each one's entries replace any conflicting suffix), then a Ready with a snapshot being
 * written (it replaces the log). The harness takes each Ready as soon as an input produced it, so
 * this is the node's whole log.
 */
export class LogView {
  /** Entries of the writes in flight, oldest first (writes without entries are left out). */
  private writes: Entry[][] = [];
  private snapshotEntries: Entry[] = [];
  private overlaySnapshot: SnapshotMetadata | undefined;

  constructor(private readonly storage: MemoryStorage) {}

  /** A write of these entries is in flight (after the ones before it). */
  pushWrite(entries: Entry[]): void {
    if (entries.length > 0) this.writes.push(entries);
  }

  /** The oldest write in flight reached the storage. */
  writeDone(entries: Entry[]): void {
    if (entries.length > 0 && this.writes.shift() !== entries) throw new Error('writes must complete in order');
  }

  setSnapshotOverlay(entries: Entry[], snapshot: SnapshotMetadata): void {
    this.snapshotEntries = entries;
    this.overlaySnapshot = snapshot;
  }

  clearSnapshotOverlay(): void {
    this.snapshotEntries = [];
    this.overlaySnapshot = undefined;
  }

  clearAll(): void {
    this.writes = [];
    this.clearSnapshotOverlay();
  }

  snapshotIndex(): number {
    return this.overlaySnapshot?.index ?? this.storage.firstIndex() - 1;
  }

  lastIndex(): number {
    const n = this.snapshotEntries.length;
    if (n > 0) return this.snapshotEntries[n - 1]!.index;
    if (this.overlaySnapshot) return this.overlaySnapshot.index;
    const newest = this.writes.at(-1);
    if (newest) return newest[newest.length - 1]!.index;
    return this.storage.lastIndex();
  }

  term(i: number): TermAt {
    if (i < 0) return undefined;
    if (this.overlaySnapshot) {
      const first = this.snapshotEntries[0]?.index;
      if (first !== undefined && i >= first) return this.snapshotEntries[i - first]?.term;
      if (i === this.overlaySnapshot.index) return this.overlaySnapshot.term;
      return i < this.overlaySnapshot.index ? 'compacted' : undefined;
    }
    const w = this.writeHolding(i);
    if (w) return w[i - w[0]!.index]?.term;
    return durableTerm(this.storage, i);
  }

  entry(i: number): Entry | undefined {
    if (this.overlaySnapshot) {
      const first = this.snapshotEntries[0]?.index;
      return first !== undefined && i >= first ? this.snapshotEntries[i - first] : undefined;
    }
    const w = this.writeHolding(i);
    if (w) return w[i - w[0]!.index];
    if (i < this.storage.firstIndex() || i > this.storage.lastIndex()) return undefined;
    return this.storage.entries(i, i + 1, 0)[0];
  }

  /** The newest write that starts at or before i: it decides index i (it replaced what followed its start). */
  private writeHolding(i: number): Entry[] | undefined {
    for (let k = this.writes.length - 1; k >= 0; k--) {
      if (this.writes[k]![0]!.index <= i) return this.writes[k];
    }
    return undefined;
  }
}

/** The term of index i on disk, `compacted` if a snapshot covers it, undefined if absent. */
export function durableTerm(storage: MemoryStorage, i: number): TermAt {
  const snapIndex = storage.firstIndex() - 1;
  if (i < snapIndex) return 'compacted';
  if (i > storage.lastIndex()) return undefined;
  return storage.term(i);
}
