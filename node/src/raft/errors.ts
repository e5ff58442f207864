/** The requested index is older than the first index in the log (it was compacted into a snapshot). */
export class CompactedError extends Error {
  constructor(index: number) {
    super(`requested index ${index} is unavailable due to compaction`);
    this.name = 'CompactedError';
  }
}

/** The requested index is newer than the last index in the log. */
export class UnavailableError extends Error {
  constructor(index: number) {
    super(`requested entry at index ${index} is unavailable`);
    this.name = 'UnavailableError';
  }
}

/** A snapshot older than the one already held was offered. */
export class SnapshotOutOfDateError extends Error {
  constructor(index: number, current: number) {
    super(`snapshot at index ${index} is older than the current snapshot at ${current}`);
    this.name = 'SnapshotOutOfDateError';
  }
}

/**
 * A proposal was not accepted: no leader is known, this node is a learner or transferring
 * leadership, a conf change is already pending, or the uncommitted-size cap is reached.
 */
export class ProposalDroppedError extends Error {
  constructor(reason: string) {
    super(`proposal dropped: ${reason}`);
    this.name = 'ProposalDroppedError';
  }
}
