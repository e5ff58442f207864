import type { Entry, EntryType, HardState } from '../raft/types.js';

// Layout of the Raft log LevelDB. Keys are one prefix byte; entry keys add the index as a
// fixed-width big-endian u64 so that LevelDB's byte order is index order.
const ENTRY_PREFIX = 0x65; // 'e'
export const HARD_STATE_KEY = Buffer.from('h');
export const COMPACTED_KEY = Buffer.from('c'); // index and term of the last entry dropped from the log
export const SNAPSHOT_META_KEY = Buffer.from('s');

const TWO_32 = 2 ** 32;

function writeU64(buf: Buffer, offset: number, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`not a u64 in the safe integer range: ${n}`);
  buf.writeUInt32BE(Math.floor(n / TWO_32), offset);
  buf.writeUInt32BE(n >>> 0, offset + 4);
}

function readU64(buf: Buffer, offset: number): number {
  return buf.readUInt32BE(offset) * TWO_32 + buf.readUInt32BE(offset + 4);
}

export function entryKey(index: number): Buffer {
  const key = Buffer.allocUnsafe(9);
  key[0] = ENTRY_PREFIX;
  writeU64(key, 1, index);
  return key;
}

/** The [gte, lt) key range that holds every log entry. */
export const ENTRY_RANGE = { gte: Buffer.from([ENTRY_PREFIX]), lt: Buffer.from([ENTRY_PREFIX + 1]) };

export function entryIndexOfKey(key: Buffer): number {
  if (key.length !== 9 || key[0] !== ENTRY_PREFIX) throw new Error(`not an entry key: ${key.toString('hex')}`);
  return readU64(key, 1);
}

const TYPE_CODES: Record<EntryType, number> = { normal: 0, confChange: 1 };

/** Entry value: type (1 byte), term (u64), then the data bytes. The index is the key. */
export function encodeEntry(e: Entry): Buffer {
  const buf = Buffer.allocUnsafe(9 + e.data.length);
  buf[0] = TYPE_CODES[e.type];
  writeU64(buf, 1, e.term);
  buf.set(e.data, 9);
  return buf;
}

export function decodeEntry(index: number, buf: Buffer): Entry {
  if (buf.length < 9) throw new Error(`entry ${index} is truncated (${buf.length} bytes)`);
  const code = buf[0];
  if (code !== 0 && code !== 1) throw new Error(`entry ${index} has an unknown type byte ${code}`);
  // Copy so that the entry does not pin LevelDB's read buffer.
  return { index, term: readU64(buf, 1), type: code === 0 ? 'normal' : 'confChange', data: new Uint8Array(buf.subarray(9)) };
}

/** Hard state: term (u64), commit (u64), then the vote as UTF-8. */
export function encodeHardState(hs: HardState): Buffer {
  const vote = Buffer.from(hs.vote, 'utf8');
  const buf = Buffer.allocUnsafe(16 + vote.length);
  writeU64(buf, 0, hs.term);
  writeU64(buf, 8, hs.commit);
  vote.copy(buf, 16);
  return buf;
}

export function decodeHardState(buf: Buffer): HardState {
  if (buf.length < 16) throw new Error(`hard state is truncated (${buf.length} bytes)`);
  return { term: readU64(buf, 0), commit: readU64(buf, 8), vote: buf.subarray(16).toString('utf8') };
}

export interface LogPosition {
  index: number;
  term: number;
}

export function encodePosition(p: LogPosition): Buffer {
  const buf = Buffer.allocUnsafe(16);
  writeU64(buf, 0, p.index);
  writeU64(buf, 8, p.term);
  return buf;
}

export function decodePosition(buf: Buffer): LogPosition {
  if (buf.length !== 16) throw new Error(`log position has ${buf.length} bytes, expected 16`);
  return { index: readU64(buf, 0), term: readU64(buf, 8) };
}
