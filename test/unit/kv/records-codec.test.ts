import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteWriter, utf8 } from '../../../node/src/kv/bytes.js';
import { decodeHistoryRecord, decodeKeyRecord, encodeHistoryRecord, encodeKeyRecord, stateKey, type HistoryRecord, type KeyRecord } from '../../../node/src/kv/records.js';

// The encoders as they were before they were made exact-size: the on-disk format must not change.
const before = {
  stateKey(key: string): Buffer {
    const k = utf8(key);
    const buf = Buffer.allocUnsafe(1 + k.length);
    buf[0] = 0x6b;
    buf.set(k, 1);
    return buf;
  },
  keyRecord(r: KeyRecord): Buffer {
    return Buffer.from(new ByteWriter(24 + r.value.length).varint(r.createRevision).varint(r.modRevision).varint(r.version).raw(r.value).finish());
  },
  historyRecord(h: HistoryRecord): Buffer {
    const w = new ByteWriter(32 + h.key.length * 3 + h.value.length);
    return Buffer.from(w.u8(h.type === 'put' ? 1 : 2).bytes(utf8(h.key)).varint(h.createRevision).varint(h.version).raw(h.value).finish());
  },
};

const plain = <T extends { value: Uint8Array }>(r: T): T => ({ ...r, value: Uint8Array.from(r.value) });
const revision = fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }));
const key = fc.oneof(fc.string({ minLength: 1, maxLength: 40 }), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }), fc.string({ minLength: 120, maxLength: 300 }));
const value = fc.uint8Array({ maxLength: 600 });

describe('state record encoders', () => {
  it('write exactly the bytes the previous encoders wrote, and decode back', () => {
    fc.assert(
      fc.property(key, revision, revision, revision, value, fc.boolean(), (k, a, b, c, v, put) => {
        expect(stateKey(k)).toEqual(before.stateKey(k));
        const rec: KeyRecord = { createRevision: a, modRevision: b, version: c, value: v };
        const encoded = encodeKeyRecord(rec, v);
        expect(encoded).toEqual(before.keyRecord(rec));
        expect(plain(decodeKeyRecord(encoded))).toEqual(rec);
        const h: HistoryRecord = put ? { type: 'put', key: k, revision: b, createRevision: a, version: c, value: v } : { type: 'delete', key: k, revision: b, createRevision: 0, version: 0, value: new Uint8Array() };
        const hEncoded = encodeHistoryRecord(h);
        expect(hEncoded).toEqual(before.historyRecord(h));
        expect(plain(decodeHistoryRecord(b, hEncoded))).toEqual(h);
      }),
      { numRuns: 500 },
    );
  });
});
