import { describe, expect, it } from 'vitest';
import { ReadOnly, contextKey } from '../../../node/src/raft/read-only.js';
import type { Message } from '../../../node/src/raft/types.js';

const req = { from: 'n2' } as Message;

describe('ReadOnly contexts', () => {
  it('keys contexts by their bytes: equal bytes match, any differing byte or length does not', () => {
    const a = Uint8Array.from([0, 1, 255, 16, 0]);
    expect(contextKey(Uint8Array.from(a))).toBe(contextKey(a));
    const keys = new Set([contextKey(a), contextKey(a.subarray(0, 4)), contextKey(Uint8Array.from([0, 1, 255, 16, 1])), contextKey(new Uint8Array(0))]);
    expect(keys.size).toBe(4);
  });

  it('handles contexts of any length', () => {
    const long = Uint8Array.from({ length: 200_000 }, (_, i) => i % 251);
    const other = Uint8Array.from(long);
    other[150_000] = 7;
    expect(contextKey(Uint8Array.from(long))).toBe(contextKey(long));
    expect(contextKey(other)).not.toBe(contextKey(long));
  });

  it('finds a pending request from a copy of its context (acks carry their own copy)', () => {
    const ro = new ReadOnly();
    const ctx = Uint8Array.from([9, 8, 7]);
    expect(ro.addRequest(5, req, ctx)).toBe(true);
    expect(ro.addRequest(6, req, Uint8Array.from(ctx))).toBe(false);
    expect([...ro.recvAck('n3', Uint8Array.from(ctx))!]).toEqual(['n3']);
    expect(ro.recvAck('n3', Uint8Array.from([9, 8]))).toBeUndefined();
    expect(ro.advance(Uint8Array.from(ctx)).map((s) => s.index)).toEqual([5]);
  });
});
