/**
 * Atomic LevelDB batches in classic-level's chained form, for the state machine (node/src/kv;
 * the Raft log is a write-ahead log of its own, node/src/storage/wal): each put/del goes straight into
 * LevelDB's native WriteBatch as it is made, instead of building an array of op objects that
 * abstract-level copies and the binding then walks property by property — measurably less
 * main-thread CPU per entry on the write paths (test/bench/storage-throughput.ts).
 */
import type { ClassicLevel } from 'classic-level';

export type BytesDb = ClassicLevel<Buffer, Buffer>;

/** Where the operations of one batch go. */
export interface BatchWriter {
  put(key: Buffer, value: Buffer): void;
  del(key: Buffer): void;
}

export interface WriteBatchOptions {
  /** fsync before resolving. */
  sync: boolean;
  /** Turns a failure of the write itself (not of `fill`) into the error thrown. */
  onWriteError?: (err: unknown) => Error;
}

/**
 * Fills one batch and writes it atomically; returns what `fill` returned. If `fill` throws,
 * nothing is written and its error is rethrown as it is; an empty batch is not written.
 */
export async function writeBatch<T>(db: BytesDb, fill: (batch: BatchWriter) => T | Promise<T>, opts: WriteBatchOptions): Promise<T> {
  const { result, written } = await startBatch(db, fill, opts);
  await written;
  return result;
}

/**
 * Like writeBatch, but returns as soon as the filled batch is handed to LevelDB: `written`
 * settles when the write has landed (or failed). The caller must await `written`.
 */
export async function startBatch<T>(db: BytesDb, fill: (batch: BatchWriter) => T | Promise<T>, opts: WriteBatchOptions): Promise<{ result: T; written: Promise<void> }> {
  const batch = db.batch();
  let result: T;
  try {
    result = await fill(batch);
  } catch (err) {
    await batch.close();
    throw err;
  }
  if (batch.length === 0) return { result, written: batch.close() };
  const written = batch.write({ sync: opts.sync }).catch((err: unknown) => {
    throw opts.onWriteError ? opts.onWriteError(err) : err;
  });
  return { result, written };
}
