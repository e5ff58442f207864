import { ClassicLevel } from 'classic-level';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { startBatch, writeBatch, type BytesDb } from '../level-batch.js';
import type { ConfState, NodeId } from '../raft/index.js';
import { decodeBatch, planApply, type ApplyResult, type CommittedEntry } from './apply-plan.js';
import { CompactedRevisionError, StateStoreError } from './errors.js';
import { HistoryLog, type RecoveredHistory } from './history-log.js';
import { DEFAULT_KEY_CACHE_BYTES, KeyMetaCache } from './key-cache.js';
import { decodeConfState, decodeMembers, encodeConfState, encodeMembers, type Member } from './members.js';
import {
  CONF_STATE_KEY,
  HISTORY_RANGE,
  KEY_RANGE,
  MEMBERS_KEY,
  PROGRESS_KEY,
  decodeKeyMeta,
  decodeKeyRecord,
  decodeProgress,
  encodeKeyRecord,
  encodeProgress,
  keyOfStateKey,
  keyRange,
  stateKey,
  type KeyMeta,
  type KeyRecord,
  type Progress,
} from './records.js';
import { SnapshotEncoder, decodeSnapshot, joinParts } from './snapshot-codec.js';
import { WatchHub, type WatchEvent, type WatchOptions, type Watcher } from './watch.js';

type Db = BytesDb;

export const DEFAULT_HISTORY_WINDOW = 10_000;
/** The history log's directory in the data dir (history-log.ts). */
export const HISTORY_DIR = 'state-history';

export interface KvStoreOptions {
  /** How many revisions of change history to keep for watches (default 10,000). */
  historyWindow?: number;
  /** The memory, in bytes, the metadata of recently written keys may take, so a put of such a key need not read LevelDB (default DEFAULT_KEY_CACHE_BYTES, 4 MiB; about 170 bytes a short key; 0: none). */
  keyCacheBytes?: number;
}

/** An apply whose batch is planned and handed to LevelDB (see KvStore.applyPlanned). */
export interface PlannedApply {
  results: ApplyResult[];
  /** Settles when the batch has landed in LevelDB; rejects if the write failed. Must be awaited. */
  landed: Promise<void>;
}

const NOTHING_TO_LAND: Promise<void> = Promise.resolve();

export interface KeyValue extends KeyRecord {
  key: string;
}

export interface ListResult {
  items: KeyValue[];
  /** True when more keys match beyond `limit`. */
  more: boolean;
  /** The store's revision when the list was read. */
  revision: number;
}

/**
 * The replicated state machine of one member, in `<dataDir>/state` (LevelDB): keys with their
 * revisions, the members registry, the ConfState and the applied index. Each apply() batch
 * writes all its effects and the new applied index in one LevelDB batch, so a restart neither
 * loses nor re-applies an entry. Not fsynced: the Raft log is, and the node replays it from
 * appliedIndex + 1. The change history for watches is appended to `<dataDir>/state-history`
 * (history-log.ts), and watch replays read it from there.
 *
 * apply(), restore() and the capture of a snapshot run one at a time in call order, each after
 * the previous apply's write has landed; reads do not wait (a reader that must see an apply
 * already answered from applyPlanned() awaits settled() first).
 */
export class KvStore {
  readonly path: string;
  private readonly db: Db;
  private readonly historyWindow: number;
  private progress: Progress;
  private confStateNow: ConfState;
  private memberMap: Map<NodeId, Member>;
  private readonly hub: WatchHub;
  private readonly keyCache: KeyMetaCache;
  private readonly historyLog: HistoryLog;
  private queue: Promise<unknown> = Promise.resolve();
  /** The write of the last planned apply while it is in flight; stays rejected once one failed. */
  private landing: Promise<void> | undefined;
  private writeFailure: Error | undefined;
  /** progress.revision, or ahead of it by the apply whose write is in flight (answered already). */
  private answeredRevision: number;
  private closed = false;

  private constructor(db: Db, path: string, historyWindow: number, keyCache: KeyMetaCache, history: RecoveredHistory, progress: Progress, confState: ConfState, members: Map<NodeId, Member>) {
    this.db = db;
    this.historyLog = history.log;
    this.keyCache = keyCache;
    this.path = path;
    this.historyWindow = historyWindow;
    this.progress = progress;
    this.answeredRevision = progress.revision;
    this.confStateNow = confState;
    this.memberMap = members;
    this.hub = new WatchHub({
      revision: () => this.progress.revision,
      answeredRevision: () => this.answeredRevision,
      compactRevision: () => this.progress.compactRevision,
      readHistory: (from, to) => this.historyLog.read(from, to),
    });
  }

  /** Opens (creating if needed) `<dataDir>/state`. Refuses a locked or damaged store with a StateStoreError. */
  static async open(dataDir: string, opts: KvStoreOptions = {}): Promise<KvStore> {
    const historyWindow = opts.historyWindow ?? DEFAULT_HISTORY_WINDOW;
    if (!Number.isSafeInteger(historyWindow) || historyWindow < 1) throw new RangeError(`historyWindow must be a positive integer, got ${historyWindow}`);
    const keyCache = new KeyMetaCache(opts.keyCacheBytes ?? DEFAULT_KEY_CACHE_BYTES);
    const path = join(dataDir, 'state');
    await mkdir(dataDir, { recursive: true });
    const db = new ClassicLevel<Buffer, Buffer>(path, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    try {
      await db.open({ createIfMissing: true });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      if (cause?.code === 'LEVEL_LOCKED') throw new StateStoreError('locked', path, 'locked by another running process (LevelDB LOCK is held)', { cause: err });
      if (cause?.code === 'LEVEL_CORRUPTION') throw new StateStoreError('state_corrupt', path, `the state LevelDB is corrupted (${cause.message})`, { cause: err });
      throw new StateStoreError('io', path, `cannot open: ${cause?.message ?? (err as Error).message}`, { cause: err });
    }
    let stored: Progress;
    let confState: ConfState;
    let members: Map<NodeId, Member>;
    try {
      const p = await db.get(PROGRESS_KEY);
      const c = await db.get(CONF_STATE_KEY);
      const m = await db.get(MEMBERS_KEY);
      stored = p ? decodeProgress(p) : { applied: 0, revision: 0, compactRevision: 0 };
      confState = c ? decodeConfState(c) : { voters: [], learners: [] };
      members = m ? decodeMembers(m) : new Map();
    } catch (err) {
      await db.close();
      throw new StateStoreError('state_corrupt', path, `cannot read the state metadata: ${(err as Error).message}`, { cause: err });
    }
    const historyDir = join(dataDir, HISTORY_DIR);
    let history: RecoveredHistory;
    try {
      await db.clear(HISTORY_RANGE); // history records of versions that kept them in LevelDB
      history = HistoryLog.open(historyDir, historyWindow, stored.revision, stored.compactRevision);
    } catch (err) {
      await db.close();
      throw new StateStoreError('io', historyDir, `cannot open the watch history: ${(err as Error).message}`, { cause: err });
    }
    const progress = { ...stored, compactRevision: history.compactRevision };
    return new KvStore(db, path, historyWindow, keyCache, history, progress, confState, members);
  }

  /** The index of the last applied entry (0 before any). */
  get appliedIndex(): number {
    return this.progress.applied;
  }

  /** The revision of the last change (0 before any). */
  get revision(): number {
    return this.progress.revision;
  }

  /** Watches may start from compactRevision + 1 at the earliest. */
  get compactRevision(): number {
    return this.progress.compactRevision;
  }

  get confState(): ConfState {
    return { voters: [...this.confStateNow.voters], learners: [...this.confStateNow.learners] };
  }

  /** The members registry, sorted by ID. */
  members(): Member[] {
    return [...this.memberMap.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map((m) => ({ ...m }));
  }

  /**
   * Read on the calling thread: a point read comes from LevelDB's memtable, block cache or the
   * OS page cache in microseconds, less than handing it to libuv's pool and back costs (a thread
   * wake-up, a completion callback and a promise per batch; the bench's get ×64 spent ~15% more
   * server CPU per read that way). Sees every apply that has completed.
   */
  get(key: string): KeyValue | undefined {
    const buf = this.db.getSync(stateKey(key));
    return buf ? { key, ...decodeKeyRecord(buf) } : undefined;
  }

  /** Keys starting with `prefix`, in key (UTF-8 byte) order, at most `limit`; startAfter pages on. */
  async list(prefix: string, limit: number, startAfter?: string): Promise<ListResult> {
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
    const revision = this.progress.revision;
    const items: KeyValue[] = [];
    let more = false;
    for await (const [k, v] of this.db.iterator({ ...keyRange(prefix, startAfter), limit: limit + 1 })) {
      if (items.length === limit) {
        more = true;
        break;
      }
      items.push({ key: keyOfStateKey(k), ...decodeKeyRecord(v) });
    }
    return { items, more, revision };
  }

  /**
   * Streams changes to keys starting with `prefix`: first the retained history from
   * `fromRevision` (undefined or 0: only changes after now), then live changes, in revision
   * order. Throws CompactedRevisionError if fromRevision is older than the retained window.
   */
  watch(prefix: string, fromRevision: number | undefined, listener: (e: WatchEvent) => void, opts?: WatchOptions): Watcher {
    return this.hub.watch(prefix, fromRevision, listener, opts);
  }

  /** Applies committed entries in order; returns one result per entry once written. See ApplyResult. */
  async apply(entries: CommittedEntry[]): Promise<ApplyResult[]> {
    const planned = await this.applyPlanned(entries);
    await planned.landed;
    return planned.results;
  }

  /**
   * Plans committed entries and hands their batch to LevelDB; resolves with the results as soon
   * as the batch is handed over, before the write lands (the results come from planning alone:
   * preconditions, revisions, not-found deletes). Until `landed` settles nothing of the batch is
   * visible through this store's state: appliedIndex, revision, members, ConfState advance and
   * watchers get the events only when the write has landed, and the next apply, restore or
   * snapshot capture starts only then (planning reads the keys' metadata). A read that must see
   * an answered write but does not wait for appliedIndex awaits settled() first. Once a write
   * fails, every later apply fails with the same error (the state on disk is unknown).
   */
  applyPlanned(entries: CommittedEntry[]): Promise<PlannedApply> {
    const run = (): Promise<PlannedApply> => (this.closed ? Promise.reject(new Error('the state store is closed')) : this.doApply(entries));
    const planned = this.queue.then(run, run);
    this.queue = planned.then((p) => p.landed).catch(() => undefined);
    return planned;
  }

  /**
   * Undefined when no apply's write is in flight (the fast path allocates nothing); otherwise a
   * promise that settles once it has landed and the store's state includes it, and rejects if
   * the write failed (then the store no longer matches the writes answered).
   */
  settled(): Promise<void> | undefined {
    return this.landing;
  }

  /**
   * Serializes the whole state at the applied index (for a Raft snapshot). Only the capture (a
   * LevelDB snapshot and the progress fields) runs in call order with apply(); the keys are read
   * from that LevelDB snapshot afterwards, so applies keep going while a large state is encoded.
   */
  async snapshotData(): Promise<Uint8Array> {
    return joinParts((await this.captureSnapshot()).parts);
  }

  /**
   * The state's snapshot together with the index and ConfState it was taken at, read at the
   * same point (later applies cannot slip in between): what RaftLogStore.createSnapshot needs.
   * The data comes in parts of about 1 MiB (joined, they are what restore() takes).
   */
  async captureSnapshot(): Promise<{ index: number; confState: ConfState; parts: Uint8Array[] }> {
    return this.streamSnapshot(async (s) => {
      const parts: Uint8Array[] = [];
      for await (const p of s.parts) parts.push(p);
      return { ...s, parts };
    });
  }

  /**
   * Like captureSnapshot, but `write` gets the parts as they are encoded, so that a large state
   * never sits in memory whole (each ~1 MiB part can go to the file and be dropped). The state
   * stays held (a LevelDB snapshot) until `write` returns, whether or not it read every part.
   */
  async streamSnapshot<T>(write: (state: { index: number; confState: ConfState; parts: AsyncIterable<Uint8Array> }) => Promise<T>): Promise<T> {
    const view = await this.serialize(() => Promise.resolve(this.takeView()));
    try {
      return await write({ index: view.header.applied, confState: view.header.confState, parts: encodeView(this.db, view) });
    } finally {
      await view.dbSnapshot.close();
    }
  }

  /**
   * Makes every landed apply durable (one synced LevelDB write: it flushes the write-ahead log
   * that holds the earlier, unsynced ones) and returns the index and ConfState it covers. What
   * the Raft log records as its snapshot: the state on disk is that snapshot, so the log can
   * drop the entries up to `index` without the state being encoded anywhere.
   */
  syncState(): Promise<{ index: number; confState: ConfState }> {
    return this.serialize(async () => {
      const { progress, confState } = this;
      await this.historyLog.sync();
      await this.db.put(PROGRESS_KEY, encodeProgress(progress), { sync: true });
      return { index: progress.applied, confState };
    });
  }

  /**
   * Replaces the whole state with a snapshot taken at Raft index `index` or later, atomically
   * and durably: a leader sends its state as of sending, which may be ahead of the snapshot the
   * Raft message names; the entries in between are then skipped as already applied. History
   * before the snapshot's revision counts as compacted; running watchers end with a
   * CompactedRevisionError (their clients must list again).
   */
  restore(data: Uint8Array, index: number): Promise<void> {
    return this.serialize(() => this.doRestore(data, index));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.catch(() => undefined);
    this.hub.failAll(new Error('the state store is closed'));
    this.historyLog.close();
    await this.db.close();
  }

  private serialize<T>(op: () => Promise<T>): Promise<T> {
    const run = (): Promise<T> => (this.closed ? Promise.reject(new Error('the state store is closed')) : op());
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async doApply(entries: CommittedEntry[]): Promise<PlannedApply> {
    if (this.writeFailure) throw this.writeFailure;
    if (entries.length === 0) return { results: [], landed: NOTHING_TO_LAND };
    const decoded = decodeBatch(entries, this.progress.applied);
    // Every key the batch touches: from the cache, the others read from LevelDB at once.
    const current = new Map<string, KeyMeta | null>();
    const missing: string[] = [];
    for (const k of decoded.keys) {
      const meta = this.keyCache.get(k);
      if (meta === undefined) missing.push(k);
      else current.set(k, meta);
    }
    if (missing.length > 0) {
      const found = await this.db.getMany(missing.map(stateKey));
      for (let i = 0; i < missing.length; i++) current.set(missing[i]!, found[i] ? decodeKeyMeta(found[i]!) : null);
    }
    const before = { progress: this.progress, members: this.memberMap, confState: this.confStateNow };
    const { result: plan, written } = await startBatch(
      this.db,
      (batch) => {
        const planned = planApply(entries, decoded.commands, current, before, this.historyWindow, batch);
        // Before the batch is handed over: after a crash the history log reaches at least as far as the state.
        this.historyLog.append(planned.events);
        return planned;
      },
      { sync: false },
    );
    const landed: Promise<void> = written.then(
      () => {
        // Only now that the batch is written: what the keys are after it, and the state.
        for (const [k, meta] of current) this.keyCache.set(k, meta);
        this.progress = plan.state.progress;
        this.memberMap = plan.state.members;
        this.confStateNow = plan.state.confState;
        if (this.landing === landed) this.landing = undefined;
        this.historyLog.trim(plan.state.progress.compactRevision);
        if (plan.events.length > 0) this.hub.publish(plan.events);
      },
      (err: unknown) => {
        this.writeFailure = err as Error;
        throw err;
      },
    );
    this.landing = landed;
    this.answeredRevision = plan.state.progress.revision;
    return { results: plan.results, landed };
  }

  /** The state as of now: the header fields and a LevelDB snapshot holding the keys at the same point. */
  private takeView(): StateView {
    const header = { applied: this.progress.applied, revision: this.progress.revision, confState: this.confState, members: this.members() };
    return { header, dbSnapshot: this.db.snapshot() };
  }

  private async doRestore(data: Uint8Array, index: number): Promise<void> {
    const snap = decodeSnapshot(data);
    if (snap.applied < index) throw new Error(`invalid state snapshot: it was taken at index ${snap.applied}, before ${index}`);
    if (snap.applied < this.progress.applied) throw new Error(`refusing to restore a snapshot at index ${snap.applied}: the state is already applied up to ${this.progress.applied}`);
    this.keyCache.clear(); // every key is replaced (also if the write below fails: then the disk decides)
    const members = new Map(snap.members.map((m) => [m.id, m]));
    const progress: Progress = { applied: snap.applied, revision: snap.revision, compactRevision: snap.revision };
    await writeBatch(
      this.db,
      async (batch) => {
        for await (const k of this.db.keys(KEY_RANGE)) batch.del(k);
        for (const { key, record } of snap.keys) batch.put(stateKey(key), encodeKeyRecord(record, record.value));
        batch.put(PROGRESS_KEY, encodeProgress(progress));
        batch.put(CONF_STATE_KEY, encodeConfState(snap.confState));
        batch.put(MEMBERS_KEY, encodeMembers(members));
      },
      { sync: true },
    );
    this.progress = progress;
    this.answeredRevision = progress.revision;
    this.memberMap = members;
    this.confStateNow = snap.confState;
    this.historyLog.dropAll();
    this.hub.failAll(new CompactedRevisionError(snap.revision, snap.revision));
  }

}

interface StateView {
  header: { applied: number; revision: number; confState: ConfState; members: Member[] };
  dbSnapshot: ReturnType<Db['snapshot']>;
}

async function* encodeView(db: Db, view: StateView): AsyncGenerator<Uint8Array> {
  const enc = new SnapshotEncoder(view.header);
  for await (const [k, v] of db.iterator({ ...KEY_RANGE, snapshot: view.dbSnapshot })) {
    enc.key(k.subarray(1), decodeKeyRecord(v));
    yield* enc.takeParts();
  }
  yield* enc.finishParts();
}
