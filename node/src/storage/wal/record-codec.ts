import { crc32 } from 'node:zlib';
import type { ConfState, Entry, EntryType, HardState } from '../../raft/types.js';

// One WAL record on disk: body length (u32 LE), CRC-32 of the body (u32 LE), then the body,
// whose first byte is the record kind. A body length of 0 never occurs in a record: segments
// are zero-filled ahead of the writer, so a zero length marks where the records end.

export const FRAME_HEADER_BYTES = 8;
/** Larger records are refused on write and treated as damage on read. */
export const MAX_RECORD_BYTES = 1 << 30;

const KIND_ENTRIES = 1;
const KIND_HARD_STATE = 2;
const KIND_SNAPSHOT = 3;
const KIND_COMPACTED = 4;

const TWO_32 = 2 ** 32;
const ENTRY_HEADER_BYTES = 8 + 1 + 4; // term, type, data length
const TYPE_CODES: Record<EntryType, number> = { normal: 0, confChange: 1 };

/** The snapshot a log refers to: its data file in the snap dir and its configuration. */
export interface SnapshotRecord {
  file: string;
  index: number;
  term: number;
  crc: number;
  confState: ConfState;
}

export interface LogPosition {
  index: number;
  term: number;
}

export type WalRecord =
  /** Entries from `entries[0].index` on; any entries after them on disk are replaced. */
  | { kind: 'entries'; entries: Entry[] }
  | { kind: 'hardState'; hardState: HardState }
  /** `replacesLog`: a snapshot received from the leader, which discards every entry; else one taken locally. */
  | { kind: 'snapshot'; snapshot: SnapshotRecord; replacesLog: boolean }
  /** Entries up to and including `position.index` were dropped. */
  | { kind: 'compacted'; position: LogPosition };

function putU64(buf: Buffer, offset: number, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`not a u64 in the safe integer range: ${n}`);
  buf.writeUInt32LE(n >>> 0, offset);
  buf.writeUInt32LE(Math.floor(n / TWO_32), offset + 4);
}

function getU64(buf: Buffer, offset: number): number {
  const high = buf.readUInt32LE(offset + 4);
  if (high >= 2 ** 21) throw new RangeError('a u64 beyond the safe integer range');
  return high * TWO_32 + buf.readUInt32LE(offset);
}

/** Frames a body whose first FRAME_HEADER_BYTES were left free for the header. */
function frame(buf: Buffer): Buffer {
  const bodyLength = buf.length - FRAME_HEADER_BYTES;
  if (bodyLength > MAX_RECORD_BYTES) throw new RangeError(`a WAL record of ${bodyLength} bytes exceeds the limit of ${MAX_RECORD_BYTES}`);
  buf.writeUInt32LE(bodyLength, 0);
  buf.writeUInt32LE(crc32(buf.subarray(FRAME_HEADER_BYTES)), 4);
  return buf;
}

/** Encodes records into one buffer, ready to be written at the end of a segment. */
export function encodeRecords(records: WalRecord[]): Buffer {
  const parts = records.map(encodeRecord);
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

export function encodeRecord(r: WalRecord): Buffer {
  switch (r.kind) {
    case 'entries':
      return encodeEntries(r.entries);
    case 'hardState': {
      const vote = Buffer.from(r.hardState.vote, 'utf8');
      const buf = Buffer.allocUnsafe(FRAME_HEADER_BYTES + 17 + vote.length);
      buf[FRAME_HEADER_BYTES] = KIND_HARD_STATE;
      putU64(buf, FRAME_HEADER_BYTES + 1, r.hardState.term);
      putU64(buf, FRAME_HEADER_BYTES + 9, r.hardState.commit);
      vote.copy(buf, FRAME_HEADER_BYTES + 17);
      return frame(buf);
    }
    case 'snapshot': {
      const json = Buffer.from(JSON.stringify(r.snapshot), 'utf8');
      const buf = Buffer.allocUnsafe(FRAME_HEADER_BYTES + 2 + json.length);
      buf[FRAME_HEADER_BYTES] = KIND_SNAPSHOT;
      buf[FRAME_HEADER_BYTES + 1] = r.replacesLog ? 1 : 0;
      json.copy(buf, FRAME_HEADER_BYTES + 2);
      return frame(buf);
    }
    case 'compacted': {
      const buf = Buffer.allocUnsafe(FRAME_HEADER_BYTES + 17);
      buf[FRAME_HEADER_BYTES] = KIND_COMPACTED;
      putU64(buf, FRAME_HEADER_BYTES + 1, r.position.index);
      putU64(buf, FRAME_HEADER_BYTES + 9, r.position.term);
      return frame(buf);
    }
  }
}

function encodeEntries(entries: Entry[]): Buffer {
  if (entries.length === 0) throw new Error('an entries record needs at least one entry');
  let size = FRAME_HEADER_BYTES + 1 + 8 + 4;
  for (const e of entries) size += ENTRY_HEADER_BYTES + e.data.length;
  const buf = Buffer.allocUnsafe(size);
  let at = FRAME_HEADER_BYTES;
  buf[at] = KIND_ENTRIES;
  putU64(buf, at + 1, entries[0]!.index);
  buf.writeUInt32LE(entries.length, at + 9);
  at += 13;
  for (const e of entries) {
    putU64(buf, at, e.term);
    buf[at + 8] = TYPE_CODES[e.type];
    buf.writeUInt32LE(e.data.length, at + 9);
    buf.set(e.data, at + ENTRY_HEADER_BYTES);
    at += ENTRY_HEADER_BYTES + e.data.length;
  }
  return frame(buf);
}

/** How reading one record at an offset ended. */
export type ReadResult =
  | { status: 'record'; record: WalRecord; next: number }
  /** Zero fill or the end of the file: no more records. */
  | { status: 'end' }
  /** A record that is cut short, fails its checksum or cannot be decoded: `problem` says which. */
  | { status: 'damaged'; problem: string };

/** Reads the record starting at `offset` of a segment's bytes. */
export function readRecord(bytes: Buffer, offset: number): ReadResult {
  if (offset + FRAME_HEADER_BYTES > bytes.length) {
    return bytes.subarray(offset).every((b) => b === 0) ? { status: 'end' } : { status: 'damaged', problem: `a record header at offset ${offset} is cut short` };
  }
  const length = bytes.readUInt32LE(offset);
  const crc = bytes.readUInt32LE(offset + 4);
  if (length === 0) return crc === 0 ? { status: 'end' } : { status: 'damaged', problem: `a record at offset ${offset} has an empty body but a checksum` };
  if (length > MAX_RECORD_BYTES) return { status: 'damaged', problem: `a record at offset ${offset} claims ${length} bytes` };
  const start = offset + FRAME_HEADER_BYTES;
  const end = start + length;
  if (end > bytes.length) return { status: 'damaged', problem: `the record at offset ${offset} is cut short (${length} bytes claimed, ${bytes.length - start} present)` };
  const body = bytes.subarray(start, end);
  if (crc32(body) !== crc) return { status: 'damaged', problem: `the record at offset ${offset} fails its checksum` };
  try {
    return { status: 'record', record: decodeBody(body), next: end };
  } catch (err) {
    return { status: 'damaged', problem: `the record at offset ${offset} cannot be decoded: ${(err as Error).message}` };
  }
}

function decodeBody(body: Buffer): WalRecord {
  switch (body[0]) {
    case KIND_ENTRIES:
      return { kind: 'entries', entries: decodeEntries(body) };
    case KIND_HARD_STATE:
      if (body.length < 17) throw new Error('hard state record is too short');
      return { kind: 'hardState', hardState: { term: getU64(body, 1), commit: getU64(body, 9), vote: body.subarray(17).toString('utf8') } };
    case KIND_SNAPSHOT:
      if (body.length < 2) throw new Error('snapshot record is too short');
      return { kind: 'snapshot', replacesLog: body[1] === 1, snapshot: parseSnapshotRecord(body.subarray(2).toString('utf8')) };
    case KIND_COMPACTED:
      if (body.length !== 17) throw new Error('compaction record has the wrong length');
      return { kind: 'compacted', position: { index: getU64(body, 1), term: getU64(body, 9) } };
    default:
      throw new Error(`unknown record kind ${body[0]}`);
  }
}

function decodeEntries(body: Buffer): Entry[] {
  if (body.length < 13) throw new Error('entries record is too short');
  const first = getU64(body, 1);
  const count = body.readUInt32LE(9);
  const entries: Entry[] = [];
  let at = 13;
  for (let i = 0; i < count; i++) {
    if (at + ENTRY_HEADER_BYTES > body.length) throw new Error(`entry ${first + i} is cut short`);
    const term = getU64(body, at);
    const code = body[at + 8];
    if (code !== 0 && code !== 1) throw new Error(`entry ${first + i} has an unknown type byte ${code}`);
    const length = body.readUInt32LE(at + 9);
    const dataStart = at + ENTRY_HEADER_BYTES;
    if (dataStart + length > body.length) throw new Error(`entry ${first + i} is cut short`);
    // A copy, so that entries kept in memory do not pin the whole segment read at start-up.
    entries.push({ index: first + i, term, type: code === 0 ? 'normal' : 'confChange', data: new Uint8Array(body.subarray(dataStart, dataStart + length)) });
    at = dataStart + length;
  }
  if (at !== body.length) throw new Error('entries record has trailing bytes');
  return entries;
}

function parseSnapshotRecord(text: string): SnapshotRecord {
  const r = JSON.parse(text) as Partial<SnapshotRecord>;
  const ok =
    typeof r.file === 'string' &&
    Number.isSafeInteger(r.index) &&
    Number.isSafeInteger(r.term) &&
    Number.isSafeInteger(r.crc) &&
    Array.isArray(r.confState?.voters) &&
    Array.isArray(r.confState?.learners);
  if (!ok) throw new Error('snapshot record misses fields');
  return r as SnapshotRecord;
}
