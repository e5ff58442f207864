import { slabBytes } from '../byte-slab.js';
import { utf8Length, varintSize, writeUtf8, writeVarint } from './bytes.js';
import { InvalidCommandError } from './errors.js';

/**
 * A client command carried in a normal Raft entry. `requestId` lets the proposing node find
 * its waiter when the entry is applied; it must be unique across the cluster (e.g.
 * "<memberId>:<sequence>"), since every member applies every entry.
 */
export type Command = PutCommand | DeleteCommand | NoopCommand;

export interface PutCommand {
  op: 'put';
  requestId: string;
  key: string;
  value: Uint8Array;
  /** Apply only if the key's modRevision equals this (If-Match). */
  ifMatch?: number | undefined;
  /** Apply only if the key does not exist (If-None-Match: *). */
  ifNoneMatch?: boolean | undefined;
}

export interface DeleteCommand {
  op: 'delete';
  requestId: string;
  key: string;
  ifMatch?: number | undefined;
}

export interface NoopCommand {
  op: 'noop';
  requestId: string;
}

// Layout: magic+version byte, op byte, flags byte, requestId (length-prefixed UTF-8), then
//   put:    key (length-prefixed), [ifMatch varint], value = every remaining byte
//   delete: key (length-prefixed), [ifMatch varint]
//   noop:   nothing
// Lengths and revisions are unsigned LEB128 varints. The value takes the tail so it needs no
// length and decoding can return a view of it without copying. Written straight into one
// exactly sized Uint8Array: this is the per-request hot path (plain typed arrays and short
// ASCII strings handled in JS are markedly cheaper here than Buffer and native UTF-8 calls).
const MAGIC_V1 = 0xc1;
const OP_PUT = 1;
const OP_DELETE = 2;
const OP_NOOP = 3;
const FLAG_IF_MATCH = 1;
const FLAG_IF_NONE_MATCH = 2;

function checkKey(key: string): void {
  if (key.length === 0) throw new InvalidCommandError('cannot encode command: the key is empty');
  if (!(key as unknown as { isWellFormed(): boolean }).isWellFormed()) throw new InvalidCommandError('cannot encode command: the key is not well-formed Unicode');
}

function checkRevision(rev: number | undefined): void {
  if (rev !== undefined && (!Number.isSafeInteger(rev) || rev < 1)) throw new InvalidCommandError(`cannot encode command: ifMatch must be a revision ≥ 1, got ${rev}`);
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

function writeString(buf: Uint8Array, pos: number, s: string, len: number): number {
  return writeUtf8(buf, writeVarint(buf, pos, len), s, len);
}

export function encodeCommand(cmd: Command): Uint8Array {
  const requestIdLen = utf8Length(cmd.requestId);
  if (cmd.op === 'noop') {
    const buf = slabBytes(3 + varintSize(requestIdLen) + requestIdLen);
    buf[0] = MAGIC_V1;
    buf[1] = OP_NOOP;
    buf[2] = 0;
    writeString(buf, 3, cmd.requestId, requestIdLen);
    return buf;
  }
  if (cmd.op !== 'put' && cmd.op !== 'delete') throw new InvalidCommandError(`cannot encode command: unknown op ${JSON.stringify((cmd as { op: unknown }).op)}`);
  checkKey(cmd.key);
  checkRevision(cmd.ifMatch);
  const isPut = cmd.op === 'put';
  const ifNoneMatch = isPut && cmd.ifNoneMatch === true;
  if (cmd.ifMatch !== undefined && ifNoneMatch) throw new InvalidCommandError('cannot encode command: ifMatch and ifNoneMatch exclude each other');
  const keyLen = utf8Length(cmd.key);
  const valueLen = isPut ? cmd.value.length : 0;
  const size =
    3 + varintSize(requestIdLen) + requestIdLen + varintSize(keyLen) + keyLen + (cmd.ifMatch !== undefined ? varintSize(cmd.ifMatch) : 0) + valueLen;
  const buf = slabBytes(size);
  buf[0] = MAGIC_V1;
  buf[1] = isPut ? OP_PUT : OP_DELETE;
  buf[2] = (cmd.ifMatch !== undefined ? FLAG_IF_MATCH : 0) | (ifNoneMatch ? FLAG_IF_NONE_MATCH : 0);
  let pos = writeString(buf, 3, cmd.requestId, requestIdLen);
  pos = writeString(buf, pos, cmd.key, keyLen);
  if (cmd.ifMatch !== undefined) pos = writeVarint(buf, pos, cmd.ifMatch);
  if (isPut) buf.set(cmd.value, pos);
  return buf;
}

class Reader {
  pos = 0;
  readonly buf: Uint8Array;

  constructor(data: Uint8Array) {
    this.buf = data;
  }

  u8(): number {
    if (this.pos >= this.buf.length) throw new InvalidCommandError(`unexpected end of input at byte ${this.pos}`);
    return this.buf[this.pos++]!;
  }

  varint(): number {
    let n = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.u8();
      n += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (i > 0 && b === 0) throw new InvalidCommandError(`varint ending at byte ${this.pos} is not minimally encoded`);
        if (!Number.isSafeInteger(n)) throw new InvalidCommandError(`varint ending at byte ${this.pos} exceeds the safe integer range`);
        return n;
      }
      scale *= 0x80;
    }
    throw new InvalidCommandError(`varint ending at byte ${this.pos} is too long`);
  }

  string(): string {
    const len = this.varint();
    const end = this.pos + len;
    if (end > this.buf.length) throw new InvalidCommandError(`length ${len} at byte ${this.pos} runs past the end (${this.buf.length - this.pos} bytes left)`);
    const buf = this.buf;
    if (len <= 64) {
      // Short ASCII strings: decoding in JS beats two native calls.
      let out = '';
      let i = this.pos;
      for (; i < end && buf[i]! < 0x80; i++) out += String.fromCharCode(buf[i]!);
      if (i === end) {
        this.pos = end;
        return out;
      }
    }
    let text: string;
    try {
      text = utf8Decoder.decode(buf.subarray(this.pos, end));
    } catch {
      throw new InvalidCommandError(`invalid UTF-8 at byte ${this.pos}`);
    }
    this.pos = end;
    return text;
  }

  end(what: string): void {
    const left = this.buf.length - this.pos;
    if (left !== 0) throw new InvalidCommandError(`${left} unexpected trailing bytes after the ${what}`);
  }
}

/** Decodes an entry's data. Anything that is not exactly a valid command throws InvalidCommandError. */
export function decodeCommand(data: Uint8Array): Command {
  try {
    return decodeUnchecked(new Reader(data));
  } catch (err) {
    if (err instanceof InvalidCommandError) throw new InvalidCommandError(`cannot decode command (${data.length} bytes): ${err.message}`);
    throw err;
  }
}

function decodeUnchecked(r: Reader): Command {
  const magic = r.u8();
  if (magic !== MAGIC_V1) throw new InvalidCommandError(`unknown format byte 0x${magic.toString(16)}`);
  const op = r.u8();
  const flags = r.u8();
  const requestId = r.string();
  const allowed = op === OP_PUT ? FLAG_IF_MATCH | FLAG_IF_NONE_MATCH : op === OP_DELETE ? FLAG_IF_MATCH : 0;
  if ((flags & ~allowed) !== 0) throw new InvalidCommandError(`flags 0x${flags.toString(16)} are not valid for op ${op}`);
  if (flags === (FLAG_IF_MATCH | FLAG_IF_NONE_MATCH)) throw new InvalidCommandError('ifMatch and ifNoneMatch exclude each other');
  if (op === OP_NOOP) {
    r.end('noop command');
    return { op: 'noop', requestId };
  }
  if (op !== OP_PUT && op !== OP_DELETE) throw new InvalidCommandError(`unknown op ${op}`);
  const key = r.string();
  if (key.length === 0) throw new InvalidCommandError('the key is empty');
  let ifMatch: number | undefined;
  if (flags & FLAG_IF_MATCH) {
    ifMatch = r.varint();
    if (ifMatch < 1) throw new InvalidCommandError('ifMatch revision 0 is not valid');
  }
  if (op === OP_DELETE) {
    r.end('delete command');
    return ifMatch === undefined ? { op: 'delete', requestId, key } : { op: 'delete', requestId, key, ifMatch };
  }
  const put: PutCommand = { op: 'put', requestId, key, value: r.buf.subarray(r.pos) };
  if (ifMatch !== undefined) put.ifMatch = ifMatch;
  if (flags & FLAG_IF_NONE_MATCH) put.ifNoneMatch = true;
  return put;
}
