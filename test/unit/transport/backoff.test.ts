import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffDelay, DEFAULT_BACKOFF } from '../../../node/src/transport/backoff.js';

describe('reconnect backoff', () => {
  it('doubles from the initial delay and stops at the cap', () => {
    const noJitter = { ...DEFAULT_BACKOFF, jitter: 0 };
    expect([0, 1, 2, 3, 4, 5, 6, 10, 100].map((a) => backoffDelay(a, noJitter, Math.random))).toEqual([
      100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000,
    ]);
  });

  it('jitters within ±jitter and never exceeds the cap', () => {
    fc.assert(
      fc.property(fc.nat(200), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (attempt, r) => {
        const d = backoffDelay(attempt, DEFAULT_BACKOFF, () => r);
        const base = Math.min(5000, 100 * 2 ** attempt);
        expect(d).toBeGreaterThanOrEqual(Math.floor(base * 0.8));
        expect(d).toBeLessThanOrEqual(5000);
      }),
    );
    expect(backoffDelay(0, DEFAULT_BACKOFF, () => 0)).toBe(80);
    expect(backoffDelay(0, DEFAULT_BACKOFF, () => 0.9999)).toBe(120);
  });
});
