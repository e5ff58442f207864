import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidCommandError, decodeCommand, encodeCommand, type Command } from '../../../node/src/kv/index.js';

const requestId = fc.string({ maxLength: 40 });
const key = fc.string({ minLength: 1, maxLength: 60, unit: 'grapheme' });
const revision = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });
const value = fc.uint8Array({ maxLength: 300 });

const command: fc.Arbitrary<Command> = fc.oneof(
  fc.record({ op: fc.constant('put' as const), requestId, key, value }),
  fc.record({ op: fc.constant('put' as const), requestId, key, value, ifMatch: revision }),
  fc.record({ op: fc.constant('put' as const), requestId, key, value, ifNoneMatch: fc.constant(true) }),
  fc.record({ op: fc.constant('delete' as const), requestId, key }),
  fc.record({ op: fc.constant('delete' as const), requestId, key, ifMatch: revision }),
  fc.record({ op: fc.constant('noop' as const), requestId }),
);

// Mostly bytes behind a valid header, so that decoding gets past the first byte.
const garbage = fc.oneof(
  fc.uint8Array({ maxLength: 64 }),
  fc
    .tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 4 }), fc.uint8Array({ maxLength: 32 }))
    .map(([op, flags, tail]) => new Uint8Array([0xc1, op, flags, ...tail])),
);

function bytes(...b: number[]): Uint8Array {
  return new Uint8Array(b);
}

describe('command codec', () => {
  it('round-trips every command', () => {
    fc.assert(
      fc.property(command, (cmd) => {
        expect(decodeCommand(encodeCommand(cmd))).toEqual(cmd);
      }),
      { numRuns: 2000 },
    );
  });

  it('is compact: a small put costs a few bytes over its key and value', () => {
    const data = encodeCommand({ op: 'put', requestId: '0123456789abcdef:42', key: 'users/alice', value: new Uint8Array(100), ifMatch: 123456 });
    expect(data.length).toBe(3 + 1 + 19 + 1 + 11 + 3 + 100);
  });

  it('rejects random bytes with InvalidCommandError, or decodes them canonically', () => {
    fc.assert(
      fc.property(garbage, (data) => {
        let cmd: Command;
        try {
          cmd = decodeCommand(data);
        } catch (err) {
          expect(err).toBeInstanceOf(InvalidCommandError);
          return;
        }
        expect(encodeCommand(cmd)).toEqual(data); // strict decoding: only canonical encodings are accepted
      }),
      { numRuns: 5000 },
    );
  });

  it('rejects truncations of valid commands', () => {
    fc.assert(
      fc.property(command.filter((c) => c.op !== 'put'), (cmd) => {
        const data = encodeCommand(cmd);
        for (let n = 0; n < data.length; n++) expect(() => decodeCommand(data.subarray(0, n))).toThrow(InvalidCommandError);
      }),
    );
  });

  it('explains what is wrong', () => {
    expect(() => decodeCommand(new Uint8Array())).toThrow(/cannot decode command \(0 bytes\): unexpected end of input/);
    expect(() => decodeCommand(new TextEncoder().encode('{"op":"put"}'))).toThrow(/unknown format byte 0x7b/);
    expect(() => decodeCommand(bytes(0xc1, 9, 0, 0))).toThrow(/unknown op 9/);
    expect(() => decodeCommand(bytes(0xc1, 2, 2, 0, 1, 0x61))).toThrow(/flags 0x2 are not valid for op 2/);
    expect(() => decodeCommand(bytes(0xc1, 1, 3, 0, 1, 0x61, 1))).toThrow(/exclude each other/);
    expect(() => decodeCommand(bytes(0xc1, 2, 0, 0, 1, 0x61, 0))).toThrow(/1 unexpected trailing bytes after the delete command/);
    expect(() => decodeCommand(bytes(0xc1, 2, 0, 0, 5, 0x61))).toThrow(/runs past the end/);
    expect(() => decodeCommand(bytes(0xc1, 2, 0, 0, 1, 0xff))).toThrow(/invalid UTF-8/);
    expect(() => decodeCommand(bytes(0xc1, 2, 0, 0, 0))).toThrow(/the key is empty/);
  });

  it('refuses to encode invalid commands', () => {
    expect(() => encodeCommand({ op: 'put', requestId: 'r', key: '', value: new Uint8Array() })).toThrow(/key is empty/);
    expect(() => encodeCommand({ op: 'delete', requestId: 'r', key: 'k', ifMatch: 0 })).toThrow(/ifMatch must be a revision/);
    expect(() => encodeCommand({ op: 'put', requestId: 'r', key: 'k', value: new Uint8Array(), ifMatch: 1, ifNoneMatch: true })).toThrow(/exclude each other/);
    expect(() => encodeCommand({ op: 'put', requestId: 'r', key: '\ud800', value: new Uint8Array() })).toThrow(/well-formed/);
  });
});
