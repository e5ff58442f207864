/** Binds node.ts's StateMachine port to the KV state machine (node/src/kv). */
import { GoneError } from './errors.js';
import { CompactedRevisionError, KvStore, encodeCommand, type ApplyResult, type KvStoreOptions } from './kv/index.js';
import { SnapshotEncoder } from './kv/snapshot-codec.js';
import type { AppliedResult, ApplyItem, CapturedState, MemberRecord, StateMachine, WriteOutcome } from './node-ports.js';
import type { ConfState } from './raft/index.js';
import type { KvList, KvRecord, WatchEvent, WatchHandle, WriteCondition } from './server/node-api.js';

export async function openStateMachine(dataDir: string, opts: KvStoreOptions): Promise<StateMachine> {
  return new KvStoreAdapter(await KvStore.open(dataDir, opts));
}

export class KvStoreAdapter implements StateMachine {
  constructor(readonly store: KvStore) {}

  appliedIndex(): number {
    return this.store.appliedIndex;
  }

  revision(): number {
    return this.store.revision;
  }

  members(): MemberRecord[] {
    return this.store.members();
  }

  encodePut(requestId: string, key: string, value: Uint8Array, cond: WriteCondition): Uint8Array {
    return encodeCommand({ op: 'put', requestId, key, value, ifMatch: cond.ifMatch, ifNoneMatch: cond.ifNoneMatch });
  }

  encodeDelete(requestId: string, key: string, cond: WriteCondition): Uint8Array {
    return encodeCommand({ op: 'delete', requestId, key, ifMatch: cond.ifMatch });
  }

  async apply(items: ApplyItem[]): Promise<{ results: AppliedResult[]; landed: Promise<void> }> {
    // The entries as they are (the store only reads them); a conf change carries its decoded change and ConfState.
    const planned = await this.store.applyPlanned(items.map((i) => (i.confChange || i.confState ? { ...i.entry, confChange: i.confChange, confState: i.confState } : i.entry)));
    return { results: planned.results.map(toApplied), landed: planned.landed };
  }

  settled(): Promise<void> | undefined {
    return this.store.settled();
  }

  get(key: string): KvRecord | undefined {
    return this.store.get(key);
  }

  async list(prefix: string, limit: number): Promise<KvList> {
    return this.store.list(prefix, limit);
  }

  watch(prefix: string, fromRevision: number, onEvent: (e: WatchEvent) => void, onEnd?: (err: Error) => void): WatchHandle {
    try {
      const w = this.store.watch(
        prefix,
        fromRevision,
        (e) => onEvent(e.type === 'put' ? { type: 'put', key: e.key, value: e.value, revision: e.revision } : { type: 'delete', key: e.key, revision: e.revision }),
        { onError: (err) => onEnd?.(err) },
      );
      return { cancel: () => w.cancel() };
    } catch (err) {
      if (err instanceof CompactedRevisionError) throw new GoneError(`${err.message}; list the keys again and watch from the current revision`);
      throw err;
    }
  }

  captureSnapshot<T>(write: (state: CapturedState) => Promise<T>): Promise<T> {
    return this.store.streamSnapshot(write);
  }

  syncState(): Promise<{ index: number; confState: ConfState }> {
    return this.store.syncState();
  }

  restore(data: Uint8Array, index: number): Promise<void> {
    return this.store.restore(data, index);
  }

  async bootstrapData(self: MemberRecord): Promise<Uint8Array> {
    return new SnapshotEncoder({ applied: 0, revision: 0, confState: { voters: [self.id], learners: [] }, members: [self] }).finish();
  }

  close(): Promise<void> {
    return this.store.close();
  }
}

function toApplied(r: ApplyResult): AppliedResult {
  let outcome: WriteOutcome | undefined;
  let requestId: string | undefined;
  switch (r.kind) {
    case 'ok':
      outcome = { ok: true, revision: r.revision };
      requestId = r.requestId;
      break;
    case 'precondition':
      outcome = { ok: false, code: 'precondition', currentModRevision: r.currentModRevision };
      requestId = r.requestId;
      break;
    case 'notFound':
      outcome = { ok: false, code: 'not_found' };
      requestId = r.requestId;
      break;
    default:
      break;
  }
  return { index: r.index, requestId, outcome };
}
