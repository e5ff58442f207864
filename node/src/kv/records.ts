import { ByteReader, ByteWriter, fromUtf8, utf8Length, varintSize, writeUtf8, writeVarint } from './bytes.js';

// Layout of the state LevelDB (one prefix byte per kind of record):
//   'k' + key (UTF-8)          → KeyRecord: createRevision, modRevision, version (varints), value (tail)
//   'h' + revision (u64 BE)    → none since the history moved to history-log.ts (older stores' records are cleared)
//   'a'                        → progress: applied index, revision, compact revision (varints)
//   'c'                        → ConfState (JSON; written on conf changes only)
//   'm'                        → members registry (JSON; written on conf changes only)
export const KEY_PREFIX = 0x6b; // 'k'
export const HISTORY_PREFIX = 0x68; // 'h'
export const PROGRESS_KEY = Buffer.from('a');
export const CONF_STATE_KEY = Buffer.from('c');
export const MEMBERS_KEY = Buffer.from('m');

/** What apply needs to know of a key besides its value. */
export interface KeyMeta {
  createRevision: number;
  modRevision: number;
  version: number;
}

export interface KeyRecord extends KeyMeta {
  value: Uint8Array;
}

export type ChangeType = 'put' | 'delete';

/** One change, as kept in the watch history and delivered to watchers. */
export interface HistoryRecord {
  type: ChangeType;
  key: string;
  /** The revision of this change (the key's modRevision for a put). */
  revision: number;
  /** For a put: the key's createRevision and version after it; 0 for a delete. */
  createRevision: number;
  version: number;
  /** For a put: the new value; empty for a delete. */
  value: Uint8Array;
}

export interface Progress {
  applied: number;
  revision: number;
  compactRevision: number;
}


// The encoders below run for every applied change: each computes its exact size and fills one
// Buffer.allocUnsafe (pooled) allocation.

export function stateKey(key: string): Buffer {
  const len = utf8Length(key);
  const buf = Buffer.allocUnsafe(1 + len);
  buf[0] = KEY_PREFIX;
  writeUtf8(buf, 1, key, len);
  return buf;
}

export function keyOfStateKey(buf: Uint8Array): string {
  return fromUtf8(buf.subarray(1));
}

/** The [gte, lt) range of state keys that start with `prefix` (and, with startAfter, come after it). */
export function keyRange(prefix: string, startAfter?: string): { gte?: Buffer; gt?: Buffer; lt: Buffer } {
  const start = stateKey(prefix);
  let end: Buffer | null = null;
  for (let i = start.length - 1; i >= 1; i--) {
    if (start[i]! < 0xff) {
      end = Buffer.from(start.subarray(0, i + 1));
      end[i]!++;
      break;
    }
  }
  const lt = end ?? Buffer.from([KEY_PREFIX + 1]);
  if (startAfter !== undefined && startAfter >= prefix) return { gt: stateKey(startAfter), lt };
  return { gte: start, lt };
}

/** Where versions before the history log (history-log.ts) kept the watch history; cleared at open. */
export const HISTORY_RANGE = { gte: Buffer.from([HISTORY_PREFIX]), lt: Buffer.from([HISTORY_PREFIX + 1]) };
export const KEY_RANGE = { gte: Buffer.from([KEY_PREFIX]), lt: Buffer.from([KEY_PREFIX + 1]) };

export function encodeKeyRecord(meta: KeyMeta, value: Uint8Array): Buffer {
  const { createRevision, modRevision, version } = meta;
  const head = varintSize(createRevision) + varintSize(modRevision) + varintSize(version);
  const buf = Buffer.allocUnsafe(head + value.length);
  writeVarint(buf, writeVarint(buf, writeVarint(buf, 0, createRevision), modRevision), version);
  buf.set(value, head);
  return buf;
}

export function decodeKeyRecord(buf: Uint8Array): KeyRecord {
  const r = new ByteReader(buf);
  return { createRevision: r.varint(), modRevision: r.varint(), version: r.varint(), value: r.rest() };
}

/** A key record's revisions and version, without its value. */
export function decodeKeyMeta(buf: Uint8Array): KeyMeta {
  const r = new ByteReader(buf);
  return { createRevision: r.varint(), modRevision: r.varint(), version: r.varint() };
}

/** Type (1: put, 2: delete), key (length-prefixed UTF-8), createRevision, version (varints), value (tail). */
export function encodeHistoryRecord(h: HistoryRecord): Buffer {
  const keyLen = utf8Length(h.key);
  const head = 1 + varintSize(keyLen) + keyLen + varintSize(h.createRevision) + varintSize(h.version);
  const buf = Buffer.allocUnsafe(head + h.value.length);
  buf[0] = h.type === 'put' ? 1 : 2;
  const pos = writeUtf8(buf, writeVarint(buf, 1, keyLen), h.key, keyLen);
  writeVarint(buf, writeVarint(buf, pos, h.createRevision), h.version);
  buf.set(h.value, head);
  return buf;
}

export function decodeHistoryRecord(revision: number, buf: Uint8Array): HistoryRecord {
  const r = new ByteReader(buf);
  const t = r.u8();
  if (t !== 1 && t !== 2) throw new Error(`history record ${revision} has an unknown type ${t}`);
  const key = fromUtf8(r.bytes());
  return { type: t === 1 ? 'put' : 'delete', key, revision, createRevision: r.varint(), version: r.varint(), value: r.rest() };
}

export function encodeProgress(p: Progress): Buffer {
  const out = new ByteWriter(24).varint(p.applied).varint(p.revision).varint(p.compactRevision).finish();
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

export function decodeProgress(buf: Uint8Array): Progress {
  const r = new ByteReader(buf);
  const p = { applied: r.varint(), revision: r.varint(), compactRevision: r.varint() };
  r.end('progress record');
  return p;
}
