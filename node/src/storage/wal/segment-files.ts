import { open, readdir, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { syncDir } from '../fs-atomic.js';
import { readRecord, type WalRecord } from './record-codec.js';

// The WAL is a sequence of segment files `<seq as 16 hex digits>.wal` in one directory. A new
// segment is zero-filled (and fsynced) before it is used: appending then rewrites blocks the file
// already owns, so each fdatasync flushes data only, without a journal commit for a new size or
// new blocks. That is the point of this log over LevelDB's.

const SEGMENT_NAME = /^([0-9a-f]{16})\.wal$/;
const PREPARED_NAME = 'prepared.tmp';
const ZERO_CHUNK = Buffer.alloc(1 << 20);

export function segmentName(seq: number): string {
  return `${seq.toString(16).padStart(16, '0')}.wal`;
}

/** The segments in `dir`, oldest first. */
export async function listSegments(dir: string): Promise<{ seq: number; path: string }[]> {
  const found: { seq: number; path: string }[] = [];
  for (const name of await readdir(dir)) {
    const m = SEGMENT_NAME.exec(name);
    if (m) found.push({ seq: parseInt(m[1]!, 16), path: join(dir, name) });
  }
  return found.sort((a, b) => a.seq - b.seq);
}

export interface SegmentContents {
  records: WalRecord[];
  /** Where the last whole record ends. */
  validBytes: number;
  /** Why reading stopped before the end of the file, when a damaged record stopped it. */
  damage: string | null;
}

/**
 * Reads a segment's records up to the zero fill, the end of the file, or the first damaged record.
 * Data after the start of the zero fill is damage too: records were written one after another,
 * so zeros followed by data mean records went missing (or, at the end of the log, a torn write).
 */
export async function readSegment(path: string): Promise<SegmentContents> {
  const bytes = await readFile(path);
  const records: WalRecord[] = [];
  let offset = 0;
  for (;;) {
    const r = readRecord(bytes, offset);
    if (r.status === 'end') {
      const data = firstNonZero(bytes, offset);
      const damage = data < 0 ? null : `the records end at offset ${offset}, but data follows at offset ${data}`;
      return { records, validBytes: offset, damage };
    }
    if (r.status === 'damaged') return { records, validBytes: offset, damage: r.problem };
    records.push(r.record);
    offset = r.next;
  }
}

/** The offset of the first non-zero byte at or after `from`, or -1. */
function firstNonZero(bytes: Buffer, from: number): number {
  for (let at = from; at < bytes.length; at += ZERO_CHUNK.length) {
    const chunk = bytes.subarray(at, at + ZERO_CHUNK.length);
    if (chunk.equals(ZERO_CHUNK.subarray(0, chunk.length))) continue;
    return at + chunk.findIndex((b) => b !== 0);
  }
  return -1;
}

/** A zero-filled, fsynced file waiting to become the next segment. */
export interface PreparedSegment {
  path: string;
  handle: FileHandle;
}

export async function prepareSegment(dir: string, bytes: number): Promise<PreparedSegment> {
  const path = join(dir, PREPARED_NAME);
  const handle = await open(path, 'w', 0o600);
  try {
    for (let at = 0; at < bytes; ) {
      const { bytesWritten } = await handle.write(ZERO_CHUNK, 0, Math.min(ZERO_CHUNK.length, bytes - at), at);
      at += bytesWritten;
    }
    await handle.sync();
  } catch (err) {
    await handle.close();
    throw err;
  }
  return { path, handle };
}

/** Gives a prepared file its segment name, durably. */
export async function installSegment(dir: string, prepared: PreparedSegment, seq: number): Promise<string> {
  const path = join(dir, segmentName(seq));
  await rename(prepared.path, path);
  await syncDir(dir);
  return path;
}

/** Removes a prepared file left by an earlier run. */
export async function removeLeftovers(dir: string): Promise<void> {
  await rm(join(dir, PREPARED_NAME), { force: true });
}
