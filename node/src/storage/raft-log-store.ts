import { open as openFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
// Only the log's own modules: the storage needs no part of the consensus engine.
import { SnapshotOutOfDateError, UnavailableError } from '../raft/errors.js';
import { MemoryStorage } from '../raft/memory-storage.js';
import type { ConfState, Entry, HardState, Snapshot, SnapshotMetadata } from '../raft/types.js';
import { DataDirError } from './errors.js';
import { makeDirDurable } from './fs-atomic.js';
import { openSnapshotFile, pruneSnapshotFiles, readSnapshotFile, verifySnapshotFile, writeSnapshotFile, type SnapshotData, type SnapshotFileReader } from './snapshot-files.js';
import { encodeRecords, type SnapshotRecord, type WalRecord } from './wal/record-codec.js';
import { InconsistentLogError, LogReplay, type ReplayedLog } from './wal/replay.js';
import { listSegments, readSegment, removeLeftovers } from './wal/segment-files.js';
import { WalWriter, type SegmentInfo } from './wal/wal-writer.js';

/**
 * Bytes of one WAL segment (each is zero-filled before use). Small enough that opening a store
 * (which starts a segment) stays cheap; at the bench's write rate a segment lasts seconds, and a
 * rollover costs one fdatasync, a rename and a directory fsync.
 */
export const WAL_SEGMENT_BYTES = 4 * 1024 * 1024;

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

export interface RaftLogStoreOptions {
  /** Default WAL_SEGMENT_BYTES; tests use small segments to exercise rollover and deletion. */
  segmentBytes?: number;
}

/**
 * The durable Raft log of one member: hard state, entries and snapshot metadata in a
 * write-ahead log (`<dataDir>/wal`), the snapshot data in `<dataDir>/snap`.
 *
 * `storage` is an in-memory mirror the core reads synchronously; every method here writes the
 * WAL first and updates the mirror only once the write succeeded, so the mirror never shows what
 * a crash could take back. Calls are serialized in the order they are made. After a failed write
 * the store refuses further writes (the disk state is unknown): the node must stop and restart
 * from what is on disk.
 *
 * The WAL has no lock of its own: the caller must hold the data dir (the node opens the state
 * machine's LevelDB, whose lock refuses a second process, before it opens the log).
 *
 * The mirror's snapshot holds metadata only (its `data` is empty), so a large state is not kept
 * in memory twice: readSnapshotData() and openSnapshotData() read it from the file.
 */
export class RaftLogStore {
  readonly storage: MemoryStorage;
  readonly walDir: string;
  readonly snapDir: string;
  private readonly writer: WalWriter;
  private snap: SnapshotRecord | null;
  private queue: Promise<unknown> = Promise.resolve();
  private failure: Error | null = null;
  private closed = false;

  private constructor(writer: WalWriter, walDir: string, snapDir: string, storage: MemoryStorage, snap: SnapshotRecord | null) {
    this.writer = writer;
    this.walDir = walDir;
    this.snapDir = snapDir;
    this.storage = storage;
    this.snap = snap;
  }

  /** Opens the log in `dataDir`, creating it if empty, and loads the mirror. Refuses damaged data with a DataDirError. */
  static async open(dataDir: string, opts: RaftLogStoreOptions = {}): Promise<RaftLogStore> {
    const walDir = join(dataDir, 'wal');
    const snapDir = join(dataDir, 'snap');
    await refuseLevelDbLog(dataDir);
    try {
      await makeDirDurable(walDir);
      await removeLeftovers(walDir);
    } catch (err) {
      throw new DataDirError('io', walDir, `cannot open the Raft log: ${(err as Error).message}`, { cause: err });
    }
    const { replayed, segments } = await replaySegments(walDir);
    const { storage, snap } = await buildMirror(replayed, walDir, snapDir);
    let writer: WalWriter;
    try {
      writer = await WalWriter.start(walDir, opts.segmentBytes ?? WAL_SEGMENT_BYTES, segments, headerRecords(storage, snap));
    } catch (err) {
      throw new DataDirError('io', walDir, `cannot start a Raft log segment: ${(err as Error).message}`, { cause: err });
    }
    try {
      await pruneSnapshotFiles(snapDir, snap?.file ?? null);
    } catch (err) {
      await writer.close().catch(() => undefined);
      throw new DataDirError('io', snapDir, `cannot remove old snapshot files: ${(err as Error).message}`, { cause: err });
    }
    return new RaftLogStore(writer, walDir, snapDir, storage, snap);
  }

  /** True when nothing was ever persisted: no term, no entries, no snapshot, not even one at index 0 (a fresh, unjoined member). */
  isEmpty(): boolean {
    const s = this.storage;
    return this.snap === null && s.hardStateNow().term === 0 && s.lastIndex() === 0;
  }

  /** The WAL's segments, oldest first (for tests and diagnostics). */
  segments(): readonly SegmentInfo[] {
    return this.writer.liveSegments;
  }

  /**
   * Persists one Ready as one append to the WAL (fdatasynced unless opts.sync is false), then
   * updates the mirror. Order of effects: the snapshot replaces the log, then entries are
   * appended (a conflicting suffix is replaced), then the hard state is set.
   */
  save(update: LogUpdate, opts: SaveOptions = {}): Promise<void> {
    return this.serialize(() => this.doSave(update, opts.sync ?? true));
  }

  /**
   * Records a snapshot of the applied state at `index` (the data goes to a checksummed file,
   * the metadata to the WAL, fsynced). Does not drop entries: call compact() for that.
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
    await this.writer.close();
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

  /**
   * Appends records; a failure to write marks the store failed (what reached the disk is unknown).
   * Records that cannot be encoded (bad input) are refused before anything is written.
   */
  private async append(records: WalRecord[], maxIndex: number, sync: boolean): Promise<void> {
    const bytes = records.length > 0 ? encodeRecords(records) : null;
    try {
      if (!bytes) {
        if (sync) await this.writer.sync();
        return;
      }
      await this.writer.append(bytes, maxIndex, sync, () => headerRecords(this.storage, this.snap));
    } catch (err) {
      throw new WriteFailure(err);
    }
  }

  private async doSave(update: LogUpdate, sync: boolean): Promise<void> {
    const mirror = this.storage;
    let compacted = mirror.firstIndex() - 1;
    let last = mirror.lastIndex();
    const records: WalRecord[] = [];

    if (update.snapshot) {
      const meta = update.snapshot.metadata;
      const current = mirror.snapshot().metadata.index;
      if (meta.index <= current && current !== 0) throw new SnapshotOutOfDateError(meta.index, current);
      compacted = meta.index;
      last = meta.index;
    }
    let entries = update.entries ?? [];
    checkContiguous(entries);
    if (entries.length > 0 && entries[0]!.index <= compacted) entries = entries.filter((e) => e.index > compacted);
    if (entries.length > 0 && entries[0]!.index > last + 1) throw new UnavailableError(entries[0]!.index); // a gap would break log matching

    let newSnap: SnapshotRecord | null = null;
    if (update.snapshot) {
      // Written only once the update is known valid; a crash before the append leaves an unreferenced file that open() prunes.
      newSnap = await this.writeReceivedSnapshot(update.snapshot.metadata, update.snapshot.data);
      records.push({ kind: 'snapshot', snapshot: newSnap, replacesLog: true });
    }
    if (entries.length > 0) records.push({ kind: 'entries', entries });
    if (update.hardState) records.push({ kind: 'hardState', hardState: update.hardState });
    // A received snapshot replaces the log: always fsynced.
    await this.append(records, entries.at(-1)?.index ?? 0, sync || update.snapshot !== undefined);

    if (update.snapshot && newSnap) {
      mirror.applySnapshot({ metadata: update.snapshot.metadata, data: NO_DATA });
      this.snap = newSnap;
    }
    if (entries.length > 0) mirror.append(entries);
    if (update.hardState) mirror.setHardState(update.hardState);
    if (newSnap) {
      await pruneSnapshotFiles(this.snapDir, newSnap.file);
      // The snapshot replaced the log: segments holding only entries it covers are not needed
      // (a follower catching up by snapshots would otherwise keep them until it compacts itself).
      try {
        await this.writer.deleteThrough(newSnap.index);
      } catch (err) {
        throw new WriteFailure(err);
      }
    }
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
    await stat(join(this.snapDir, record.file));
    await this.append([{ kind: 'snapshot', snapshot: record, replacesLog: false }], 0, true);
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
    // Not fsynced: losing a compaction in a crash only brings back entries the snapshot covers
    // (deleting segments below it syncs first).
    await this.append([{ kind: 'compacted', position: { index: upTo, term: mirror.term(upTo) } }], 0, false);
    mirror.compact(upTo);
    try {
      await this.writer.deleteThrough(upTo);
    } catch (err) {
      throw new WriteFailure(err);
    }
  }

  private async writeReceivedSnapshot(meta: SnapshotMetadata, data: Uint8Array): Promise<SnapshotRecord> {
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

/** What a new segment starts with: the log's state, so that older segments can be deleted. */
function headerRecords(mirror: MemoryStorage, snap: SnapshotRecord | null): Buffer {
  const records: WalRecord[] = [];
  if (snap) records.push({ kind: 'snapshot', snapshot: snap, replacesLog: false });
  const compacted = mirror.firstIndex() - 1;
  records.push({ kind: 'compacted', position: { index: compacted, term: mirror.term(compacted) } });
  const hs = mirror.hardStateNow();
  if (hs.term !== 0 || hs.commit !== 0 || hs.vote !== '') records.push({ kind: 'hardState', hardState: hs });
  return encodeRecords(records);
}

function corrupt(walDir: string, what: string, cause?: unknown): DataDirError {
  return new DataDirError('log_corrupt', walDir, `the Raft log is inconsistent: ${what}; restore this member from a backup or replace it with an empty one`, { cause });
}

/** A data dir from before the WAL holds its log in `raft/` (LevelDB): refuse rather than start empty. */
async function refuseLevelDbLog(dataDir: string): Promise<void> {
  const old = join(dataDir, 'raft');
  const found = await stat(old).then(
    () => true,
    () => false,
  );
  if (found) {
    throw new DataDirError('log_format', old, 'the data dir holds a Raft log in the LevelDB format of an older kuorum, which this version cannot read; remove this member from its cluster, empty the data dir and add it again');
  }
}

/**
 * Reads every segment and replays its records. A damaged record ends the log only in the last
 * segment (a write torn by a crash; that segment is cut back to its last whole record). Anywhere
 * else it means the disk lost data that was acknowledged: refused.
 */
async function replaySegments(walDir: string): Promise<{ replayed: ReplayedLog; segments: SegmentInfo[] }> {
  const found = await listSegments(walDir);
  const replay = new LogReplay();
  const segments: SegmentInfo[] = [];
  for (const [i, { seq, path }] of found.entries()) {
    // Segments are deleted oldest first only: a missing number is a lost segment, whose records
    // (a replaced suffix, say) the entries that follow need not reveal.
    const prev = found[i - 1];
    if (prev && seq !== prev.seq + 1) throw corrupt(walDir, `segment ${path} follows ${prev.path}: the segments between them are missing`);
    let contents;
    try {
      contents = await readSegment(path);
    } catch (err) {
      throw new DataDirError('io', path, `cannot read a Raft log segment: ${(err as Error).message}`, { cause: err });
    }
    const isLast = i === found.length - 1;
    if (contents.damage && !isLast) throw corrupt(walDir, `segment ${path}: ${contents.damage}`);
    let maxIndex = 0;
    try {
      for (const record of contents.records) {
        replay.apply(record);
        if (record.kind === 'entries') maxIndex = Math.max(maxIndex, record.entries.at(-1)!.index);
      }
    } catch (err) {
      if (err instanceof InconsistentLogError) throw corrupt(walDir, `segment ${path}: ${err.message}`, err);
      throw err;
    }
    if (isLast) {
      await cutBack(path, contents.validBytes);
      if (contents.validBytes === 0) continue; // nothing was written to it: dropped above
    }
    segments.push({ seq, path, maxIndex });
  }
  try {
    return { replayed: replay.finish(), segments };
  } catch (err) {
    if (err instanceof InconsistentLogError) throw corrupt(walDir, err.message, err);
    throw err;
  }
}

/** Cuts the last segment back to its whole records (durably, before any newer segment exists), or removes it when it has none. */
async function cutBack(path: string, validBytes: number): Promise<void> {
  try {
    const handle = await openFile(path, 'r+');
    try {
      await handle.truncate(validBytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (validBytes === 0) await rm(path, { force: true });
  } catch (err) {
    throw new DataDirError('io', path, `cannot cut back the last Raft log segment: ${(err as Error).message}`, { cause: err });
  }
}

async function buildMirror({ hardState, compacted, snapshot: snap, entries }: ReplayedLog, walDir: string, snapDir: string): Promise<{ storage: MemoryStorage; snap: SnapshotRecord | null }> {
  if (snap) await verifySnapshotFile(snapDir, snap);
  const storage = new MemoryStorage();
  if (snap && compacted.index === snap.index) {
    if (compacted.term !== snap.term) throw corrupt(walDir, `the snapshot term ${snap.term} differs from the compacted term ${compacted.term}`);
    storage.applySnapshot({ metadata: { index: snap.index, term: snap.term, confState: snap.confState }, data: NO_DATA });
  } else if (compacted.index > 0) {
    // The log keeps a tail before the snapshot: start the mirror at the compaction point.
    storage.applySnapshot({ metadata: { index: compacted.index, term: compacted.term, confState: snap!.confState }, data: NO_DATA });
  }
  storage.append(entries);
  if (snap && compacted.index < snap.index) {
    if (snap.index > storage.lastIndex()) throw corrupt(walDir, `the snapshot at ${snap.index} is past the last entry ${storage.lastIndex()}`);
    if (storage.term(snap.index) !== snap.term) throw corrupt(walDir, `the snapshot term ${snap.term} differs from the entry term ${storage.term(snap.index)}`);
    storage.createSnapshot(snap.index, snap.confState, NO_DATA);
  }
  if (hardState) storage.setHardState(hardState);
  return { storage, snap };
}
