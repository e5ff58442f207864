/**
 * When this node takes a snapshot, and taking it: in the background, at most one at a time,
 * while the Ready loop goes on ticking, stepping messages and applying.
 *
 * The state machine's LevelDB is the snapshot. Taking one makes the applied state durable (one
 * synced write), records its index, term and ConfState in the Raft log and compacts the log:
 * nothing is encoded or copied. A follower that needs a snapshot gets the state as of sending,
 * streamed from the state machine (state-snapshot-source.ts).
 */
import type { NodeParts, NodeSettings } from './node-settings.js';

export interface SnapshotSchedulerDeps extends Pick<NodeParts, 'kv' | 'store' | 'log'> {
  settings: Pick<NodeSettings, 'snapshotThreshold' | 'snapshotCatchupEntries'>;
  /** This node is in its cluster's configuration. */
  isMember(): boolean;
  /** The last committed entry the core handed out (see KuorumNode.coreHandedOut). */
  coreHandedOut(): number;
}

/** The data of a snapshot recorded in the Raft log: none, the state machine holds it. */
const IN_STATE_MACHINE = new Uint8Array();

export class SnapshotScheduler {
  /** The index of the last snapshot taken or installed (at start: the one the log holds). */
  lastIndex: number;
  private snapshotting: Promise<void> | null = null;

  constructor(private readonly deps: SnapshotSchedulerDeps) {
    this.lastIndex = deps.store.storage.snapshot().metadata.index;
  }

  /** A snapshot from the leader replaced the state. */
  installed(index: number): void {
    this.lastIndex = index;
  }

  /** Resolves when no snapshot is being taken (a failed one was logged). */
  async idle(): Promise<void> {
    await this.snapshotting;
  }

  /** Starts a snapshot when one is due: `snapshotThreshold` entries applied since the last one. */
  maybeStart(): void {
    if (this.snapshotting) return;
    const { kv, store, settings } = this.deps;
    const applied = kv.appliedIndex();
    // The bootstrap configuration lives only in the index-0 snapshot: snapshot and compact right
    // away, so that every member that joins later starts from a snapshot holding it.
    const afterBootstrap = this.lastIndex === 0 && applied > 0 && store.storage.firstIndex() === 1 && this.deps.isMember();
    if (!afterBootstrap && applied - this.lastIndex < settings.snapshotThreshold) return;
    if (applied > store.storage.lastIndex() || applied > this.deps.coreHandedOut()) return;
    this.snapshotting = this.take(afterBootstrap)
      .catch((err: unknown) => this.deps.log.warn('taking a snapshot failed; will retry later', { index: applied, err: String(err) }))
      .finally(() => {
        this.snapshotting = null;
      });
  }

  private async take(afterBootstrap: boolean): Promise<void> {
    const { kv, store, settings } = this.deps;
    // Applies may be in flight: the state machine says which index (and config) is now durable.
    const { index, confState } = await kv.syncState();
    // The state machine ahead of what the core handed out (after installing a leader's state as
    // of sending, or a restart): the core has yet to go through the entries in between, and the
    // conf changes among them. Compacting them away now would lose them; wait until it has.
    if (index <= this.lastIndex || index > store.storage.lastIndex() || index > this.deps.coreHandedOut()) return;
    await store.createSnapshot(index, confState, IN_STATE_MACHINE);
    this.lastIndex = index;
    const compactTo = afterBootstrap ? index : index - settings.snapshotCatchupEntries;
    if (compactTo >= store.storage.firstIndex()) await store.compact(compactTo);
    this.deps.log.info('created a snapshot', { index, compactedTo: Math.max(compactTo, 0) });
  }
}
