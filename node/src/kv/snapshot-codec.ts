import { crc32 } from 'node:zlib';
import type { ConfState } from '../raft/index.js';
import { ByteReader, ByteWriter, MalformedBytesError, fromUtf8, utf8 } from './bytes.js';
import type { Member } from './members.js';
import type { KeyRecord } from './records.js';

// Snapshot layout: magic "KQKV", version byte, applied index, revision, confState (voters,
// learners), members, then one record per key (tag 1, key, createRevision, modRevision,
// version, value) and tag 0, then a CRC-32 (u32 BE) of everything before it.
const MAGIC = [0x4b, 0x51, 0x4b, 0x56];
const VERSION = 1;

export interface StateSnapshot {
  applied: number;
  revision: number;
  confState: ConfState;
  members: Member[];
  keys: Array<{ key: string; record: KeyRecord }>;
}

/** Size the encoding is cut at: a large state is written out in parts of about this size, never as one buffer. */
export const SNAPSHOT_PART_BYTES = 1024 * 1024;

/** The parts of an encoded snapshot joined into one buffer. */
export function joinParts(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export class SnapshotEncoder {
  private w = new ByteWriter(4096);
  private readonly parts: Uint8Array[] = [];
  private crc = 0;

  constructor(head: Omit<StateSnapshot, 'keys'>) {
    const w = this.w;
    for (const b of MAGIC) w.u8(b);
    w.u8(VERSION).varint(head.applied).varint(head.revision);
    for (const list of [head.confState.voters, head.confState.learners]) {
      w.varint(list.length);
      for (const id of list) w.bytes(utf8(id));
    }
    w.varint(head.members.length);
    for (const m of head.members) w.bytes(utf8(m.id)).bytes(utf8(m.name)).bytes(utf8(m.peerAddress)).u8(m.role === 'voter' ? 1 : 2);
  }

  /** Adds one key's record; `key` is the raw UTF-8 key. */
  key(key: Uint8Array, record: KeyRecord): void {
    this.w.u8(1).bytes(key).varint(record.createRevision).varint(record.modRevision).varint(record.version).bytes(record.value);
    if (this.w.length >= SNAPSHOT_PART_BYTES) this.cut();
  }

  /** The parts cut so far and not yet taken (for writing them out while the encoding goes on). */
  takeParts(): Uint8Array[] {
    return this.parts.splice(0);
  }

  /** The encoding in parts of about SNAPSHOT_PART_BYTES (the checksum runs over all of them); without those taken already. */
  finishParts(): Uint8Array[] {
    this.w.u8(0);
    const body = this.w.finish();
    const crc = crc32(body, this.crc);
    this.w.u8(crc >>> 24).u8((crc >>> 16) & 0xff).u8((crc >>> 8) & 0xff).u8(crc & 0xff);
    this.parts.push(this.w.finish());
    return this.parts;
  }

  finish(): Uint8Array {
    return joinParts(this.finishParts());
  }

  private cut(): void {
    const part = this.w.finish();
    this.crc = crc32(part, this.crc);
    this.parts.push(part);
    // Room for a part and its last record, so that a part rarely grows (and copies) its buffer.
    this.w = new ByteWriter(SNAPSHOT_PART_BYTES + 64 * 1024);
  }
}

/** Decodes and verifies a snapshot; throws with a clear message on any damage. */
export function decodeSnapshot(data: Uint8Array): StateSnapshot {
  try {
    if (data.length < 9) throw new MalformedBytesError(`too short (${data.length} bytes)`);
    const body = data.subarray(0, data.length - 4);
    const stored = ((data[data.length - 4]! << 24) | (data[data.length - 3]! << 16) | (data[data.length - 2]! << 8) | data[data.length - 1]!) >>> 0;
    if (crc32(body) !== stored) throw new MalformedBytesError('checksum mismatch');
    const r = new ByteReader(body);
    for (const b of MAGIC) if (r.u8() !== b) throw new MalformedBytesError('not a kuorum state snapshot');
    const version = r.u8();
    if (version !== VERSION) throw new MalformedBytesError(`unsupported version ${version}`);
    const applied = r.varint();
    const revision = r.varint();
    const ids = (): string[] => Array.from({ length: r.varint() }, () => fromUtf8(r.bytes()));
    const confState = { voters: ids(), learners: ids() };
    const members: Member[] = Array.from({ length: r.varint() }, () => {
      const id = fromUtf8(r.bytes());
      const name = fromUtf8(r.bytes());
      const peerAddress = fromUtf8(r.bytes());
      const role = r.u8();
      if (role !== 1 && role !== 2) throw new MalformedBytesError(`member ${id} has an unknown role ${role}`);
      return { id, name, peerAddress, role: role === 1 ? 'voter' : 'learner' } as const;
    });
    const keys: StateSnapshot['keys'] = [];
    for (;;) {
      const tag = r.u8();
      if (tag === 0) break;
      if (tag !== 1) throw new MalformedBytesError(`unknown record tag ${tag}`);
      const key = fromUtf8(r.bytes());
      const record = { createRevision: r.varint(), modRevision: r.varint(), version: r.varint(), value: r.bytes() };
      if (record.modRevision > revision) throw new MalformedBytesError(`key "${key}" has modRevision ${record.modRevision} above the snapshot revision ${revision}`);
      keys.push({ key, record });
    }
    r.end('snapshot');
    return { applied, revision, confState, members, keys };
  } catch (err) {
    if (err instanceof MalformedBytesError) throw new Error(`invalid state snapshot: ${err.message}`, { cause: err });
    throw err;
  }
}
