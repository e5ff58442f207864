import { access, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
// Only the log's own modules: the storage needs no part of the consensus engine.
import { writeBatch, type BatchWriter } from '../level-batch.js';
import { SnapshotOutOfDateError, UnavailableError } from '../raft/errors.js';
import { MemoryStorage } from '../raft/memory-storage.js';
import type { ConfState, Entry, HardState, Snapshot, SnapshotMetadata } from '../raft/types.js';
import { DataDirError } from './errors.js';
import { openBytesLevel, type BytesLevel } from './level.js';
import {
  COMPACTED_KEY,
  ENTRY_RANGE,
  HARD_STATE_KEY,
  SNAPSHOT_META_KEY,
  decodeEntry,
  decodeHardState,
  decodePosition,
  encodeEntry,
  encodeHardState,
  encodePosition,
  entryIndexOfKey,
  entryKey,
  type LogPosition,
} from './log-codec.js';
import { openSnapshotFile, pruneSnapshotFiles, readSnapshotFile, verifySnapshotFile, writeSnapshotFile, type SnapshotData, type SnapshotFileReader, type SnapshotFileRef } from './snapshot-files.js';

/**
 * The Raft log's LevelDB memtable: 1 MiB instead of LevelDB's 4 MiB. The log is read back only
 * when the node starts (the mirror serves every read after that), so a large memtable buys no
 * reads, and it and the one being written out are held in memory. The smaller one changed no
 * put ×64 server CPU µs/op in the bench; after its 200,000-key load, the leader's state LevelDB
 * had 52-54 MiB of tables resident instead of 59-63 (both databases share LevelDB's one
 * background thread; the log's shorter flushes likely let the state's compactions keep up).
 */
export const RAFT_LOG_WRITE_BUFFER_BYTES = 1024 * 1024;

/** The mirror's snapshots carry metadata only: their data stays in the file. */
const NO_DATA = new Uint8Array();

/** What one Ready asks to persist. */
export interface LogUpdate {
  hardState?: HardState | undefined;
  entries?: Entry[] | undefined;
  /** A snapshot received from the leader: it replaces the whole log. */
  snapshot?: Snapshot | undefined;
}

export interface SaveOptions {
  /** fsync before resolving (default true). Only a Ready with mustSync=false may pass false. */
  sync?: boolean;
}

interface SnapshotRecord extends SnapshotFileRef {
  confState: ConfState;
}

/**
 * The durable Raft log of one member: hard state, entries, snapshot metadata in
 * `<dataDir>/raft` (LevelDB) and the snapshot data in `<dataDir>/snap`.
 *
 * `storage` is an in-memory mirror the core reads synchronously; every method here writes
 * LevelDB first and updates the mirror only once the write succeeded, so the mirror never
 * shows what a crash could take back. Calls are serialized in the order they are made.
 * After a failed write the store refuses further writes (the disk state is unknown): the
 * node must stop and restart from what is on disk.
 *
 * The mirror's snapshot holds metadata only (its `data` is empty), so a large state is not kept
 * in memory twice: readSnapshotData() and openSnapshotData() read it from the file.
 */
export class RaftLogStore {
  readonly storage: MemoryStorage;
  readonly raftDir: string;
  readonly snapDir: string;
  private readonly db: BytesLevel;
  private snap: SnapshotRecord | null;
  private queue: Promise<unknown> = Promise.resolve();
  private failure: Error | null = null;
  private closed = false;

  private constructor(db: BytesLevel, raftDir: string, snapDir: string, storage: MemoryStorage, snap: SnapshotRecord | null) {
    this.db = db;
    this.raftDir = raftDir;
    this.snapDir = snapDir;
    this.storage = storage;
    this.snap = snap;
  }

  /** Opens the log in `dataDir`, creating it if empty, and loads the mirror. Refuses damaged data with a DataDirError. */
  static async open(dataDir: string): Promise<RaftLogStore> {
    const raftDir = join(dataDir, 'raft');
    const snapDir = join(dataDir, 'snap');
    await mkdir(dataDir, { recursive: true });
    const db = await openBytesLevel(raftDir, 'Raft log', { writeBufferSize: RAFT_LOG_WRITE_BUFFER_BYTES });
    try {
      const { storage, snap } = await loadMirror(db, raftDir, snapDir);
      await pruneSnapshotFiles(snapDir, snap?.file ?? null);
      return new RaftLogStore(db, raftDir, snapDir, storage, snap);
    } catch (err) {
      await db.close();
      throw err;
    }
  }

  /** True when nothing was ever persisted: no term, no entries, no snapshot, not even one at index 0 (a fresh, unjoined member). */
  isEmpty(): boolean {
    const s = this.storage;
    return this.snap === null && s.hardStateNow().term === 0 && s.lastIndex() === 0;
  }

  /**
   * Persists one Ready in ONE LevelDB batch (fsynced unless opts.sync is false), then updates
   * the mirror. Order of effects: the snapshot replaces the log, then entries are appended
   * (a conflicting suffix is deleted), then the hard state is set.
   */
  save(update: LogUpdate, opts: SaveOptions = {}): Promise<void> {
    return this.serialize(() => this.doSave(update, opts.sync ?? true));
  }

  /**
   * Records a snapshot of the applied state at `index` (the data goes to a checksummed file,
   * the metadata to LevelDB, fsynced). Does not drop entries: call compact() for that.
   * The file is written before the call joins the write queue, so saves are not held up while a
   * large snapshot goes to disk; only recording it runs in order with them. Each part of `data`
   * is written before the next is asked for (the caller may free it then).
   */
  async createSnapshot(index: number, confState: ConfState, data: SnapshotData): Promise<Snapshot> {
    this.checkSnapshotIndex(index);
    const term = this.storage.term(index); // throws CompactedError below the log
    // A failure here leaves at most an unreferenced file (pruned later); the log is untouched.
    const ref = await writeSnapshotFile(this.snapDir, index, term, data);
    const record: SnapshotRecord = { ...ref, confState: { voters: [...confState.voters], learners: [...confState.learners] } };
    return this.serialize(() => this.doCreateSnapshot(record));
  }

  /** The current snapshot's data, read from its file and verified (empty when there is none). */
  async readSnapshotData(): Promise<Uint8Array> {
    return this.snap ? readSnapshotFile(this.snapDir, this.snap) : new Uint8Array();
  }

  /**
   * A reader of the data of the snapshot with this index and term, which must be the current one
   * (a newer snapshot replaced it: throws, and the caller retries with the newer one). The file
   * is opened now: pruned later, it stays readable through the reader until closed.
   */
  async openSnapshotData(meta: { index: number; term: number }): Promise<SnapshotFileReader> {
    const snap = this.snap;
    if (!snap || snap.index !== meta.index || snap.term !== meta.term) {
      throw new Error(`no snapshot at index ${meta.index} term ${meta.term} on disk (the current one is at ${snap ? `index ${snap.index} term ${snap.term}` : 'none'})`);
    }
    return openSnapshotFile(this.snapDir, snap);
  }

  /** Drops log entries up to and including `upTo`, which must be covered by the snapshot. Already compacted: no-op. */
  compact(upTo: number): Promise<void> {
    return this.serialize(() => this.doCompact(upTo));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.catch(() => undefined);
    await this.db.close();
  }

  private serialize<T>(op: () => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      if (this.closed) throw new Error('the Raft log store is closed');
      if (this.failure) throw new Error(`the Raft log store failed earlier and refuses further writes: ${this.failure.message}`);
      try {
        return await op();
      } catch (err) {
        if (err instanceof WriteFailure) {
          this.failure = err.cause as Error;
          throw err.cause;
        }
        throw err;
      }
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** One atomic batch; a failure of `fill` writes nothing, a failure of the write marks the store failed. */
  private write<T>(sync: boolean, fill: (batch: BatchWriter) => T | Promise<T>): Promise<T> {
    return writeBatch(this.db, fill, { sync, onWriteError: (err) => new WriteFailure(err) });
  }

  private async doSave(update: LogUpdate, sync: boolean): Promise<void> {
    // A received snapshot replaces the log: always fsynced.
    const saved = await this.write(sync || update.snapshot !== undefined, (batch) => this.fillSave(batch, update));
    await this.afterSave(update, saved);
  }

  /** Puts one Ready's changes into `batch`; returns what the mirror needs once it is written. */
  private async fillSave(batch: BatchWriter, update: LogUpdate): Promise<{ entries: Entry[]; newSnap: SnapshotRecord | null }> {
    const mirror = this.storage;
    let compacted = mirror.firstIndex() - 1;
    let last = mirror.lastIndex();
    let newSnap: SnapshotRecord | null = null;

    if (update.snapshot) {
      const meta = update.snapshot.metadata;
      const current = mirror.snapshot().metadata.index;
      if (meta.index <= current && current !== 0) throw new SnapshotOutOfDateError(meta.index, current);
      for (let i = compacted + 1; i <= last; i++) batch.del(entryKey(i));
      compacted = meta.index;
      last = meta.index;
    }

    let entries = update.entries ?? [];
    checkContiguous(entries);
    if (entries.length > 0 && entries[0]!.index <= compacted) entries = entries.filter((e) => e.index > compacted);
    if (entries.length > 0) {
      const first = entries[0]!.index;
      if (first > last + 1) throw new UnavailableError(first); // a gap would break log matching
      const newLast = entries[entries.length - 1]!.index;
      for (const e of entries) batch.put(entryKey(e.index), encodeEntry(e));
      for (let i = newLast + 1; i <= last; i++) batch.del(entryKey(i));
    }
    if (update.hardState) batch.put(HARD_STATE_KEY, encodeHardState(update.hardState));
    if (update.snapshot) {
      // Written only once the update is known valid; a crash before the batch leaves an unreferenced file that open() prunes.
      const meta = update.snapshot.metadata;
      newSnap = await this.writeSnapshot(meta, update.snapshot.data);
      batch.put(SNAPSHOT_META_KEY, encodeSnapshotRecord(newSnap));
      batch.put(COMPACTED_KEY, encodePosition({ index: meta.index, term: meta.term }));
    }
    return { entries, newSnap };
  }

  private async afterSave(update: LogUpdate, { entries, newSnap }: { entries: Entry[]; newSnap: SnapshotRecord | null }): Promise<void> {
    const mirror = this.storage;
    if (update.snapshot && newSnap) {
      mirror.applySnapshot({ metadata: update.snapshot.metadata, data: NO_DATA });
      this.snap = newSnap;
    }
    if (entries.length > 0) mirror.append(entries);
    if (update.hardState) mirror.setHardState(update.hardState);
    if (newSnap) await pruneSnapshotFiles(this.snapDir, newSnap.file);
  }

  private checkSnapshotIndex(index: number): void {
    const mirror = this.storage;
    const current = mirror.snapshot().metadata.index;
    if (index <= current) throw new SnapshotOutOfDateError(index, current);
    if (index > mirror.lastIndex()) throw new UnavailableError(index);
  }

  private async doCreateSnapshot(record: SnapshotRecord): Promise<Snapshot> {
    const mirror = this.storage;
    // Saves ran while the file was written: a snapshot received meanwhile may supersede this one
    // (and its save pruned this file), or the log may have been truncated below its index.
    this.checkSnapshotIndex(record.index);
    if (mirror.term(record.index) !== record.term) throw new Error(`the log changed under the snapshot at index ${record.index}; not recorded`);
    await access(join(this.snapDir, record.file));
    await this.write(true, (batch) => batch.put(SNAPSHOT_META_KEY, encodeSnapshotRecord(record)));
    const snap = mirror.createSnapshot(record.index, record.confState, NO_DATA);
    this.snap = record;
    await pruneSnapshotFiles(this.snapDir, record.file);
    return snap;
  }

  private async doCompact(upTo: number): Promise<void> {
    const mirror = this.storage;
    const compacted = mirror.firstIndex() - 1;
    if (upTo <= compacted) return;
    const snapIndex = mirror.snapshot().metadata.index;
    if (upTo > snapIndex) throw new Error(`cannot compact the log up to ${upTo}: the latest snapshot is at ${snapIndex}`);
    const position = encodePosition({ index: upTo, term: mirror.term(upTo) });
    // Not fsynced: losing a compaction in a crash only brings back entries the snapshot covers.
    await this.write(false, (batch) => {
      for (let i = compacted + 1; i <= upTo; i++) batch.del(entryKey(i));
      batch.put(COMPACTED_KEY, position);
    });
    mirror.compact(upTo);
  }

  private async writeSnapshot(meta: SnapshotMetadata, data: Uint8Array): Promise<SnapshotRecord> {
    try {
      const ref = await writeSnapshotFile(this.snapDir, meta.index, meta.term, data);
      return { ...ref, confState: { voters: [...meta.confState.voters], learners: [...meta.confState.learners] } };
    } catch (err) {
      throw new WriteFailure(err);
    }
  }
}

/** Marks an I/O failure after which the on-disk state is unknown. */
class WriteFailure extends Error {
  constructor(cause: unknown) {
    super('write failed', { cause });
  }
}

function checkContiguous(entries: Entry[]): void {
  for (let i = 1; i < entries.length; i++) {
    if (entries[i]!.index !== entries[0]!.index + i) {
      throw new Error(`entries to save are not contiguous: index ${entries[i]!.index} follows ${entries[i - 1]!.index}`);
    }
  }
}

function encodeSnapshotRecord(r: SnapshotRecord): Buffer {
  return Buffer.from(JSON.stringify(r), 'utf8');
}

function decodeSnapshotRecord(buf: Buffer): SnapshotRecord {
  const r = JSON.parse(buf.toString('utf8')) as Partial<SnapshotRecord>;
  const ok =
    typeof r.file === 'string' &&
    Number.isSafeInteger(r.index) &&
    Number.isSafeInteger(r.term) &&
    Number.isSafeInteger(r.crc) &&
    Array.isArray(r.confState?.voters) &&
    Array.isArray(r.confState?.learners);
  if (!ok) throw new Error('snapshot metadata misses fields');
  return r as SnapshotRecord;
}

async function loadMirror(db: BytesLevel, raftDir: string, snapDir: string): Promise<{ storage: MemoryStorage; snap: SnapshotRecord | null }> {
  const corrupt = (what: string, cause?: unknown): DataDirError =>
    new DataDirError('log_corrupt', raftDir, `the Raft log is inconsistent: ${what}; restore this member from a backup or replace it with an empty one`, { cause });

  let hardState: HardState | undefined;
  let compacted: LogPosition = { index: 0, term: 0 };
  let snap: SnapshotRecord | null = null;
  try {
    const hs = await db.get(HARD_STATE_KEY);
    if (hs) hardState = decodeHardState(hs);
    const c = await db.get(COMPACTED_KEY);
    if (c) compacted = decodePosition(c);
    const s = await db.get(SNAPSHOT_META_KEY);
    if (s) snap = decodeSnapshotRecord(s);
  } catch (err) {
    if (err instanceof DataDirError) throw err;
    throw corrupt(`cannot read its metadata (${(err as Error).message})`, err);
  }

  const snapIndex = snap?.index ?? 0;
  if (compacted.index > snapIndex) throw corrupt(`entries up to ${compacted.index} were dropped but the snapshot is only at ${snapIndex}`);
  if (snap) await verifySnapshotFile(snapDir, snap);
  const data = NO_DATA;

  const storage = new MemoryStorage();
  if (snap && compacted.index === snap.index) {
    if (compacted.term !== snap.term) throw corrupt(`the snapshot term ${snap.term} differs from the compacted term ${compacted.term}`);
    storage.applySnapshot({ metadata: { index: snap.index, term: snap.term, confState: snap.confState }, data });
  } else if (compacted.index > 0) {
    // The log keeps a tail before the snapshot: start the mirror at the compaction point.
    storage.applySnapshot({ metadata: { index: compacted.index, term: compacted.term, confState: snap!.confState }, data: new Uint8Array() });
  }

  const entries: Entry[] = [];
  try {
    for await (const [key, value] of db.iterator(ENTRY_RANGE)) {
      const index = entryIndexOfKey(key);
      const expected = compacted.index + 1 + entries.length;
      if (index !== expected) throw corrupt(`expected entry ${expected}, found entry ${index}`);
      entries.push(decodeEntry(index, value));
    }
  } catch (err) {
    if (err instanceof DataDirError) throw err;
    throw corrupt(`cannot read its entries (${(err as Error).message})`, err);
  }
  storage.append(entries);

  if (snap && compacted.index < snap.index) {
    if (snap.index > storage.lastIndex()) throw corrupt(`the snapshot at ${snap.index} is past the last entry ${storage.lastIndex()}`);
    if (storage.term(snap.index) !== snap.term) throw corrupt(`the snapshot term ${snap.term} differs from the entry term ${storage.term(snap.index)}`);
    storage.createSnapshot(snap.index, snap.confState, data);
  }
  if (hardState) storage.setHardState(hardState);
  return { storage, snap };
}
