import { open, readdir, readFile, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { DataDirError } from './errors.js';
import { makeDirDurable, syncDir, writeFileAtomicWith } from './fs-atomic.js';

// A snapshot file: magic (8 bytes), CRC-32 of everything after it (4), index (u64), term (u64),
// data length (u64), data. The checksum catches a torn or bit-rotted file; the header fields
// are checked against the metadata the Raft log recorded for it.
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

/** Snapshot data: whole, in parts, or in parts made while it is written (never joined). */
export type SnapshotData = Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

/**
 * Writes the snapshot data durably (tmp + fsync + rename + dir fsync) and returns its reference.
 * Parts (e.g. ~1 MiB each, as the state machine encodes them) are written as they come and not
 * kept: a part is done with before the next is asked for (the caller may free it then). The header's length and checksum come first in the file but are known only at the end:
 * it is written last, the checksum read back from the file (from the page cache).
 */
export async function writeSnapshotFile(snapDir: string, index: number, term: number, data: SnapshotData): Promise<SnapshotFileRef> {
  await makeDirDurable(snapDir);
  const file = snapshotFileName(index, term);
  const path = join(snapDir, file);
  const header = Buffer.alloc(HEADER);
  MAGIC.copy(header, 0);
  putU64(header, 12, index);
  putU64(header, 20, term);
  let crc = 0;
  await writeFileAtomicWith(path, async (handle) => {
    let length = 0;
    await writeAll(handle, header, 0);
    for await (const part of data instanceof Uint8Array ? [data] : data) {
      await writeAll(handle, part, HEADER + length);
      length += part.length;
    }
    putU64(header, 28, length);
    crc = crc32(header.subarray(12));
    const chunk = Buffer.allocUnsafeSlow(Math.min(length, 1 << 20));
    for (let at = 0; at < length; ) {
      const { bytesRead } = await handle.read(chunk, 0, Math.min(chunk.length, length - at), HEADER + at);
      if (bytesRead === 0) throw new Error(`the snapshot file ${path} is shorter than what was written`);
      crc = crc32(chunk.subarray(0, bytesRead), crc);
      at += bytesRead;
    }
    header.writeUInt32BE(crc, 8);
    await writeAll(handle, header, 0);
  });
  return { file, index, term, crc };
}

async function writeAll(handle: FileHandle, buf: Uint8Array, position: number): Promise<void> {
  for (let at = 0; at < buf.length; ) at += (await handle.write(buf, at, buf.length - at, position + at)).bytesWritten;
}

function snapshotCorrupt(path: string, what: string): DataDirError {
  return new DataDirError('snapshot_corrupt', path, `the snapshot file is corrupted: ${what}`);
}

function unreadable(path: string, err: unknown): DataDirError {
  return new DataDirError('snapshot_corrupt', path, `the snapshot file recorded in the Raft log cannot be read: ${(err as Error).message}`, { cause: err });
}

/** Checks a file's header against its reference; returns the data length. */
function checkHeader(path: string, ref: SnapshotFileRef, head: Buffer, fileSize: number): number {
  if (head.length < HEADER || !head.subarray(0, MAGIC.length).equals(MAGIC)) throw snapshotCorrupt(path, 'bad header (truncated or not a kuorum snapshot)');
  const stored = head.readUInt32BE(8);
  if (stored !== ref.crc) throw snapshotCorrupt(path, `checksum mismatch (recorded ${ref.crc.toString(16)}, header ${stored.toString(16)})`);
  const index = getU64(head, 12);
  const term = getU64(head, 20);
  const length = getU64(head, 28);
  if (index !== ref.index || term !== ref.term) throw snapshotCorrupt(path, `holds index ${index} term ${term}, expected index ${ref.index} term ${ref.term}`);
  if (length !== fileSize - HEADER) throw snapshotCorrupt(path, `data length ${length} does not match the file size`);
  return length;
}

/** Reads and verifies a snapshot file; any damage is a DataDirError naming the file. */
export async function readSnapshotFile(snapDir: string, ref: SnapshotFileRef): Promise<Uint8Array> {
  const path = join(snapDir, ref.file);
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (err) {
    throw unreadable(path, err);
  }
  const length = checkHeader(path, ref, buf.subarray(0, HEADER), buf.length);
  const actual = crc32(buf.subarray(12));
  if (actual !== ref.crc) throw snapshotCorrupt(path, `checksum mismatch (recorded ${ref.crc.toString(16)}, content ${actual.toString(16)})`);
  return new Uint8Array(buf.buffer, buf.byteOffset + HEADER, length);
}

/** The data of a snapshot file, read in chunks from a file opened once (it stays readable if pruned meanwhile). */
export interface SnapshotFileReader {
  /** Data length in bytes (without the file header). */
  readonly length: number;
  /**
   * The data in chunks of at most chunkBytes. The checksum is verified as it goes: on a mismatch
   * the last chunk is withheld and the iteration throws, so a damaged file is never handed out whole.
   */
  chunks(chunkBytes: number): AsyncGenerator<Uint8Array>;
  close(): Promise<void>;
}

export async function openSnapshotFile(snapDir: string, ref: SnapshotFileRef): Promise<SnapshotFileReader> {
  const path = join(snapDir, ref.file);
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    throw unreadable(path, err);
  }
  try {
    const size = (await handle.stat()).size;
    const head = Buffer.alloc(HEADER);
    const { bytesRead } = await handle.read(head, 0, HEADER, 0);
    const length = checkHeader(path, ref, head.subarray(0, bytesRead), size);
    let closed = false;
    const close = async (): Promise<void> => {
      if (closed) return;
      closed = true;
      await handle.close();
    };
    async function* chunks(chunkBytes: number): AsyncGenerator<Uint8Array> {
      let crc = crc32(head.subarray(12));
      let pos = 0;
      try {
        while (pos < length) {
          const want = Math.min(chunkBytes, length - pos);
          const chunk = Buffer.allocUnsafe(want);
          let got = 0;
          while (got < want) {
            const r = await handle.read(chunk, got, want - got, HEADER + pos + got);
            if (r.bytesRead === 0) throw snapshotCorrupt(path, `ends after ${pos + got} of ${length} data bytes`);
            got += r.bytesRead;
          }
          pos += want;
          crc = crc32(chunk, crc);
          if (pos === length && crc !== ref.crc) throw snapshotCorrupt(path, `checksum mismatch (recorded ${ref.crc.toString(16)}, content ${crc.toString(16)})`);
          yield chunk;
        }
      } finally {
        await close();
      }
    }
    return { length, chunks, close };
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/** Verifies a snapshot file's checksum reading it in chunks (nothing kept in memory). */
export async function verifySnapshotFile(snapDir: string, ref: SnapshotFileRef): Promise<void> {
  const reader = await openSnapshotFile(snapDir, ref);
  for await (const chunk of reader.chunks(1024 * 1024)) void chunk;
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
