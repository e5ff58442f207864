import type { Entry, MemoryStorage, SnapshotMetadata } from '../../node/src/raft/index.js';

/** `compacted`: the index lies inside a snapshot, so its term is no longer known entry by entry. */
export type TermAt = number | 'compacted' | undefined;

/**
 * A node's log as the checkers see it: the durable MemoryStorage plus the Ready that is being
 * written right now (its entries replace any conflicting suffix; its snapshot replaces the log).
 * The harness takes each Ready as soon as an input produced it, so this is the node's whole log.
 */
export class LogView {
  private overlayEntries: Entry[] = [];
  private overlaySnapshot: SnapshotMetadata | undefined;

  constructor(private readonly storage: MemoryStorage) {}

  setOverlay(entries: Entry[], snapshot: SnapshotMetadata | undefined): void {
    this.overlayEntries = entries;
    this.overlaySnapshot = snapshot;
  }

  clearOverlay(): void {
    this.overlayEntries = [];
    this.overlaySnapshot = undefined;
  }

  snapshotIndex(): number {
    return this.overlaySnapshot?.index ?? this.storage.firstIndex() - 1;
  }

  lastIndex(): number {
    const n = this.overlayEntries.length;
    if (n > 0) return this.overlayEntries[n - 1]!.index;
    if (this.overlaySnapshot) return this.overlaySnapshot.index;
    return this.storage.lastIndex();
  }

  term(i: number): TermAt {
    if (i < 0) return undefined;
    const first = this.overlayEntries[0]?.index;
    if (first !== undefined && i >= first) return this.overlayEntries[i - first]?.term;
    const snap = this.overlaySnapshot;
    if (snap) {
      if (i === snap.index) return snap.term;
      return i < snap.index ? 'compacted' : undefined;
    }
    return durableTerm(this.storage, i);
  }

  entry(i: number): Entry | undefined {
    const first = this.overlayEntries[0]?.index;
    if (first !== undefined && i >= first) return this.overlayEntries[i - first];
    if (this.overlaySnapshot) return undefined;
    if (i < this.storage.firstIndex() || i > this.storage.lastIndex()) return undefined;
    return this.storage.entries(i, i + 1, 0)[0];
  }
}

/** The term of index i on disk, `compacted` if a snapshot covers it, undefined if absent. */
export function durableTerm(storage: MemoryStorage, i: number): TermAt {
  const snapIndex = storage.firstIndex() - 1;
  if (i < snapIndex) return 'compacted';
  if (i > storage.lastIndex()) return undefined;
  return storage.term(i);
}
