import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SLAB_SIZE } from '../../../node/src/byte-slab.js';
import type { Entry, Message, MessageType } from '../../../node/src/raft/types.js';
import { CodecError, decodeMessage, encodeMessage, ENTRY_TYPE_NUMBERS, MESSAGE_TYPE_NUMBERS } from '../../../node/src/transport/codec.js';
import { METHOD, peerMethod, protoEnumValues } from '../../../node/src/transport/peer-service.js';
import type { WireMessage, WireMessageBatch } from '../../../node/src/transport/wire-types.js';

const MESSAGE_TYPES = MESSAGE_TYPE_NUMBERS.filter((t): t is MessageType => t !== undefined);

const u64 = fc.oneof(fc.constantFrom(0, 1, 2 ** 32, 2 ** 53 - 1), fc.nat(), fc.maxSafeNat());
const bytes = fc.uint8Array({ maxLength: 64 });
const id = fc.oneof(fc.constant(''), fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 16, maxLength: 16 }), fc.string({ unit: 'grapheme' }));

const entryArb: fc.Arbitrary<Entry> = fc.record({ term: u64, index: u64, type: fc.constantFrom(...ENTRY_TYPE_NUMBERS), data: bytes });

const messageArb: fc.Arbitrary<Message> = fc.record(
  {
    type: fc.constantFrom(...MESSAGE_TYPES),
    from: id,
    to: id,
    term: u64,
    logTerm: u64,
    index: u64,
    entries: fc.array(entryArb, { maxLength: 5 }),
    commit: u64,
    reject: fc.boolean(),
    rejectHint: u64,
    logTermHint: u64,
    snapshot: fc.record({
      metadata: fc.record({ index: u64, term: u64, confState: fc.record({ voters: fc.array(id, { maxLength: 5 }), learners: fc.array(id, { maxLength: 3 }) }) }),
      data: bytes,
    }),
    context: bytes,
    noAck: fc.constant(true), // false is the wire default: absent
  },
  { requiredKeys: ['type', 'from', 'to', 'term', 'logTerm', 'index', 'entries', 'commit', 'reject', 'rejectHint'] },
);

/** Through the real protobuf serializer of the MessageStream call. */
function overTheWire(messages: Message[]): Message[] {
  const m = peerMethod(METHOD.messageStream);
  const buffer = m.requestSerialize({ messages: messages.map(encodeMessage) });
  return (m.requestDeserialize(buffer) as WireMessageBatch).messages.map(decodeMessage);
}

describe('message codec', () => {
  it('round-trips arbitrary messages exactly through protobuf', () => {
    fc.assert(
      fc.property(fc.array(messageArb, { minLength: 1, maxLength: 4 }), (messages) => {
        expect(overTheWire(messages)).toEqual(messages);
      }),
      { numRuns: 300 },
    );
  });

  it('copies received entry data out of the message into shared slabs (a small entry neither keeps the batch alive nor costs an ArrayBuffer of its own)', () => {
    const entries: Entry[] = Array.from({ length: 50 }, (_, i) => ({ term: 1, index: i + 1, type: 'normal', data: new Uint8Array(300).fill(i) }));
    const [app] = overTheWire([{ ...base(), type: 'app', entries }]);
    expect(app!.entries).toEqual(entries);
    const buffers = new Set(app!.entries.map((e) => e.data.buffer));
    for (const b of buffers) expect(b.byteLength).toBe(SLAB_SIZE); // slabs, not the received message's buffer
    expect(buffers.size).toBeLessThanOrEqual(Math.ceil((50 * 304) / SLAB_SIZE) + 1);
  });

  it('gives a large entry its data in a buffer of its own, exactly its size', () => {
    const entries: Entry[] = [{ term: 1, index: 1, type: 'normal', data: new Uint8Array(100_000).fill(7) }];
    const [app] = overTheWire([{ ...base(), type: 'app', entries }]);
    expect(app!.entries).toEqual(entries);
    expect(app!.entries[0]!.data.buffer.byteLength).toBe(100_000);
  });

  it('keeps an empty context and a zero logTermHint distinct from absent ones', () => {
    const [withEmpty] = overTheWire([{ ...base(), context: new Uint8Array(), logTermHint: 0 }]);
    expect(withEmpty!.context).toEqual(new Uint8Array());
    expect(withEmpty!.logTermHint).toBe(0);
    const [absent] = overTheWire([base()]);
    expect('context' in absent!).toBe(false);
    expect('logTermHint' in absent!).toBe(false);
    expect('snapshot' in absent!).toBe(false);
  });

  it('refuses to encode values that uint64 cannot carry exactly', () => {
    for (const bad of [-1, 1.5, 2 ** 53, Number.NaN, Infinity]) {
      expect(() => encodeMessage({ ...base(), term: bad })).toThrow(CodecError);
      expect(() => encodeMessage({ ...base(), entries: [{ term: 1, index: bad, type: 'normal', data: new Uint8Array() }] })).toThrow(/entry.index/);
    }
    expect(() => encodeMessage({ ...base(), type: 'bogus' as MessageType })).toThrow(/unknown message type/);
  });

  it('refuses to decode an index above Number.MAX_SAFE_INTEGER instead of rounding it', () => {
    const wire = encodeMessage(base());
    const m = peerMethod(METHOD.messageStream);
    for (const index of ['9007199254740992', '9007199254740993', '18446744073709551615']) {
      const buffer = m.requestSerialize({ messages: [{ ...wire, index }] });
      const decoded = (m.requestDeserialize(buffer) as WireMessageBatch).messages[0]!;
      // Decoded as a number, rounded: never below 2^53, so never taken for a safe integer.
      expect(Number(decoded.index)).toBeGreaterThan(Number.MAX_SAFE_INTEGER);
      expect(() => decodeMessage(decoded)).toThrow(/index is out of range/);
    }
  });

  it('refuses unknown enum numbers', () => {
    const wire: WireMessage = { ...encodeMessage(base()), type: 99 };
    expect(() => decodeMessage(wire)).toThrow(/unknown message type number 99/);
    const withEntry: WireMessage = { ...encodeMessage(base()), entries: [{ term: 1, index: 1, type: 7, data: new Uint8Array() }] };
    expect(() => decodeMessage(withEntry)).toThrow(/unknown entry type number 7/);
  });

  it('maps every proto enum value to the type of the same meaning', () => {
    const protoNames = protoEnumValues('MessageType');
    expect(protoNames.size).toBe(MESSAGE_TYPE_NUMBERS.length);
    for (const [n, name] of protoNames) {
      const t = MESSAGE_TYPE_NUMBERS[n];
      if (n === 0) expect(t).toBeUndefined();
      else expect(name).toBe(`MSG_${t!.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`);
    }
    expect([...protoEnumValues('EntryType')]).toEqual([
      [0, 'ENTRY_NORMAL'],
      [1, 'ENTRY_CONF_CHANGE'],
    ]);
  });
});

function base(): Message {
  return { type: 'heartbeat', from: 'a', to: 'b', term: 3, logTerm: 0, index: 0, entries: [], commit: 2, reject: false, rejectHint: 0 };
}
