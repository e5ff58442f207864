/**
 * When this node takes a snapshot of its state, and taking it: in the background, at most one
 * at a time, while the Ready loop goes on ticking, stepping messages and applying.
 */
import type { CapturedState } from './node-ports.js';
import type { NodeParts, NodeSettings } from './node-settings.js';

export interface SnapshotSchedulerDeps extends Pick<NodeParts, 'kv' | 'store' | 'log'> {
  settings: Pick<NodeSettings, 'snapshotThreshold' | 'snapshotCatchupEntries'>;
  /** This node is in its cluster's configuration. */
  isMember(): boolean;
}

export class SnapshotScheduler {
  /** The index of the last snapshot taken or installed (at start: the one the log holds). */
  lastIndex: number;
  /** The size of that snapshot's data. */
  private lastBytes = 0;
  /** Entry data handed to the state machine since that snapshot, in bytes. */
  private appliedBytesSince = 0;
  private snapshotting: Promise<void> | null = null;

  constructor(private readonly deps: SnapshotSchedulerDeps) {
    this.lastIndex = deps.store.storage.snapshot().metadata.index;
  }

  /** A snapshot from the leader replaced the state. */
  installed(index: number, bytes: number): void {
    this.lastIndex = index;
    this.lastBytes = bytes;
    this.appliedBytesSince = 0;
  }

  /** Entry data handed to the state machine. */
  countApplied(bytes: number): void {
    this.appliedBytesSince += bytes;
  }

  /** Resolves when no snapshot is being taken (a failed one was logged). */
  async idle(): Promise<void> {
    await this.snapshotting;
  }

  /**
   * Starts a snapshot when one is due: `snapshotThreshold` entries applied since the last one,
   * and, so that a large state is not rewritten every few thousand small writes, at least half
   * the last snapshot's size in applied entry bytes.
   */
  maybeStart(): void {
    if (this.snapshotting) return;
    const { kv, store, settings } = this.deps;
    const applied = kv.appliedIndex();
    // The bootstrap configuration lives only in the index-0 snapshot: snapshot and compact right
    // away, so that every member that joins later starts from a snapshot holding it.
    const afterBootstrap = this.lastIndex === 0 && applied > 0 && store.storage.firstIndex() === 1 && this.deps.isMember();
    if (!afterBootstrap) {
      if (applied - this.lastIndex < settings.snapshotThreshold) return;
      if (this.appliedBytesSince < this.lastBytes / 2) return;
    }
    if (applied > store.storage.lastIndex()) return;
    // Applies may be in flight: the state machine says which index (and config) it captured.
    this.snapshotting = kv
      .captureSnapshot((state) => this.record(state, afterBootstrap))
      .catch((err: unknown) => this.deps.log.warn('taking a snapshot failed; will retry later', { index: applied, err: String(err) }))
      .finally(() => {
        this.snapshotting = null;
      });
  }

  private async record({ index: applied, confState, parts }: CapturedState, afterBootstrap: boolean): Promise<void> {
    const { store, settings } = this.deps;
    let bytes = 0;
    const counted = async function* (): AsyncGenerator<Uint8Array> {
      for await (const p of parts) {
        bytes += p.length;
        yield p;
        // The store has written the part (it asks for the next one only then): free its ~1 MiB
        // now rather than at the next full GC, which after a 200,000-key snapshot found ~18 MiB
        // of written parts still allocated.
        releaseBuffer(p);
      }
    };
    await store.createSnapshot(applied, confState, counted());
    this.lastIndex = applied;
    this.lastBytes = bytes;
    this.appliedBytesSince = 0;
    const compactTo = afterBootstrap ? applied : applied - settings.snapshotCatchupEntries;
    if (compactTo >= store.storage.firstIndex()) await store.compact(compactTo);
    this.deps.log.info('created a snapshot', { index: applied, bytes, compactedTo: Math.max(compactTo, 0) });
  }
}

/** Detaches the ArrayBuffer behind `bytes`, which frees its memory at once; its views read as empty afterwards. */
function releaseBuffer(bytes: Uint8Array): void {
  const buffer = bytes.buffer as ArrayBuffer & { transfer?: (length: number) => ArrayBuffer };
  buffer.transfer?.(0);
}
