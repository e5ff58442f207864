// Minimal binary writer/reader for the state machine's encodings: unsigned LEB128 varints
// (safe integers only), length-prefixed byte strings, and raw tails.

const MAX_VARINT_BYTES = 8; // 7 * 8 = 56 bits ≥ 53

export class ByteWriter {
  private buf: Uint8Array;
  private len = 0;

  constructor(initialSize = 64) {
    this.buf = new Uint8Array(initialSize);
  }

  private ensure(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + extra) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  u8(n: number): this {
    this.ensure(1);
    this.buf[this.len++] = n;
    return this;
  }

  varint(n: number): this {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`varint must be a non-negative safe integer, got ${n}`);
    this.ensure(MAX_VARINT_BYTES);
    while (n >= 0x80) {
      this.buf[this.len++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.len++] = n;
    return this;
  }

  /** Length-prefixed bytes. */
  bytes(b: Uint8Array): this {
    this.varint(b.length);
    return this.raw(b);
  }

  /** Bytes without a length (only as the last field, or with a known length). */
  raw(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }

  get length(): number {
    return this.len;
  }

  finish(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }
}

/** Thrown by ByteReader on malformed input; callers wrap it into their own error. */
export class MalformedBytesError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedBytesError';
  }
}

export class ByteReader {
  private pos = 0;
  private readonly buf: Uint8Array;

  constructor(buf: Uint8Array) {
    this.buf = buf;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  u8(): number {
    if (this.pos >= this.buf.length) throw new MalformedBytesError(`unexpected end of input at byte ${this.pos}`);
    return this.buf[this.pos++]!;
  }

  varint(): number {
    let n = 0;
    let scale = 1;
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      const b = this.u8();
      n += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        if (!Number.isSafeInteger(n)) throw new MalformedBytesError(`varint at byte ${this.pos} exceeds the safe integer range`);
        if (i > 0 && b === 0) throw new MalformedBytesError(`varint at byte ${this.pos} is not minimally encoded`);
        return n;
      }
      scale *= 0x80;
    }
    throw new MalformedBytesError(`varint at byte ${this.pos} is too long`);
  }

  bytes(): Uint8Array {
    const len = this.varint();
    return this.take(len);
  }

  take(len: number): Uint8Array {
    if (len > this.remaining) throw new MalformedBytesError(`length ${len} at byte ${this.pos} runs past the end (${this.remaining} bytes left)`);
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  rest(): Uint8Array {
    return this.take(this.remaining);
  }

  end(what: string): void {
    if (this.remaining !== 0) throw new MalformedBytesError(`${this.remaining} unexpected trailing bytes after the ${what}`);
  }
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

export function utf8(s: string): Uint8Array {
  return utf8Encoder.encode(s);
}

/** Strict UTF-8 decoding: invalid sequences throw instead of turning into U+FFFD. */
export function fromUtf8(b: Uint8Array): string {
  try {
    return utf8Decoder.decode(b);
  } catch {
    throw new MalformedBytesError('invalid UTF-8');
  }
}

// Exact-size encoding on the hot paths: compute the size, allocate once, write. ASCII strings
// (request IDs, most keys) are measured and written in JS, cheaper than native UTF-8 calls.

/** Bytes of n as an unsigned LEB128 varint (n a non-negative safe integer). */
export function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
}

/** Writes n as an unsigned LEB128 varint at pos; returns the position after it. */
export function writeVarint(buf: Uint8Array, pos: number, n: number): number {
  while (n >= 0x80) {
    buf[pos++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  buf[pos++] = n;
  return pos;
}

/** UTF-8 byte length of s; an ASCII string is counted without encoding it. */
export function utf8Length(s: string): number {
  let i = 0;
  while (i < s.length && s.charCodeAt(i) < 0x80) i++;
  if (i === s.length) return s.length;
  return utf8Encoder.encode(s).length;
}

/** Writes s (whose UTF-8 length is len, from utf8Length) at pos; returns the position after it. */
export function writeUtf8(buf: Uint8Array, pos: number, s: string, len: number): number {
  if (len === s.length) {
    for (let i = 0; i < len; i++) buf[pos + i] = s.charCodeAt(i); // ASCII: one byte per char
  } else {
    utf8Encoder.encodeInto(s, buf.subarray(pos, pos + len));
  }
  return pos + len;
}

