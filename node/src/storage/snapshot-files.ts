import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { DataDirError } from './errors.js';
import { syncDir, writeFileAtomic } from './fs-atomic.js';

// A snapshot file: magic (8 bytes), CRC-32 of everything after it (4), index (u64), term (u64),
// data length (u64), data. The checksum catches a torn or bit-rotted file; the header fields
// are checked against the metadata LevelDB recorded for it.
const MAGIC = Buffer.from('KQSNAP1\n', 'latin1');
const HEADER = MAGIC.length + 4 + 24;
const TWO_32 = 2 ** 32;

export interface SnapshotFileRef {
  file: string; // name inside the snap dir
  index: number;
  term: number;
  crc: number;
}

export function snapshotFileName(index: number, term: number): string {
  return `${term.toString(16).padStart(16, '0')}-${index.toString(16).padStart(16, '0')}.snap`;
}

function putU64(buf: Buffer, offset: number, n: number): void {
  buf.writeUInt32BE(Math.floor(n / TWO_32), offset);
  buf.writeUInt32BE(n >>> 0, offset + 4);
}

function getU64(buf: Buffer, offset: number): number {
  return buf.readUInt32BE(offset) * TWO_32 + buf.readUInt32BE(offset + 4);
}

/** Writes the snapshot data durably (tmp + fsync + rename + dir fsync) and returns its reference. */
export async function writeSnapshotFile(snapDir: string, index: number, term: number, data: Uint8Array): Promise<SnapshotFileRef> {
  await mkdir(snapDir, { recursive: true });
  const buf = Buffer.allocUnsafe(HEADER + data.length);
  MAGIC.copy(buf, 0);
  putU64(buf, 12, index);
  putU64(buf, 20, term);
  putU64(buf, 28, data.length);
  buf.set(data, HEADER);
  const crc = crc32(buf.subarray(12));
  buf.writeUInt32BE(crc, 8);
  const file = snapshotFileName(index, term);
  await writeFileAtomic(join(snapDir, file), buf);
  return { file, index, term, crc };
}

/** Reads and verifies a snapshot file; any damage is a DataDirError naming the file. */
export async function readSnapshotFile(snapDir: string, ref: SnapshotFileRef): Promise<Uint8Array> {
  const path = join(snapDir, ref.file);
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (err) {
    throw new DataDirError('snapshot_corrupt', path, `the snapshot file recorded in the Raft log cannot be read: ${(err as Error).message}`, { cause: err });
  }
  const bad = (what: string): DataDirError => new DataDirError('snapshot_corrupt', path, `the snapshot file is corrupted: ${what}`);
  if (buf.length < HEADER || !buf.subarray(0, MAGIC.length).equals(MAGIC)) throw bad('bad header (truncated or not a kuorum snapshot)');
  const stored = buf.readUInt32BE(8);
  const actual = crc32(buf.subarray(12));
  if (stored !== actual || stored !== ref.crc) {
    throw bad(`checksum mismatch (recorded ${ref.crc.toString(16)}, header ${stored.toString(16)}, content ${actual.toString(16)})`);
  }
  const index = getU64(buf, 12);
  const term = getU64(buf, 20);
  const length = getU64(buf, 28);
  if (index !== ref.index || term !== ref.term) throw bad(`holds index ${index} term ${term}, expected index ${ref.index} term ${ref.term}`);
  if (length !== buf.length - HEADER) throw bad(`data length ${length} does not match the file size`);
  return new Uint8Array(buf.buffer, buf.byteOffset + HEADER, length);
}

/** Removes every snapshot file and leftover temp file except `keep` (null: remove all). */
export async function pruneSnapshotFiles(snapDir: string, keep: string | null): Promise<void> {
  let names: string[];
  try {
    names = await readdir(snapDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const stale = names.filter((n) => n !== keep && (n.endsWith('.snap') || n.includes('.snap.tmp-')));
  if (stale.length === 0) return;
  for (const name of stale) await rm(join(snapDir, name), { force: true });
  await syncDir(snapDir);
}
