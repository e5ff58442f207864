import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TimeoutError } from '../../../node/src/errors.js';
import { Waiters } from '../../../node/src/waiters.js';

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

/** The waiter's state after the timers have run up to now. */
function track<T>(p: Promise<T>): { state: 'pending' | 'resolved' | 'rejected'; value?: T; error?: unknown } {
  const t: { state: 'pending' | 'resolved' | 'rejected'; value?: T; error?: unknown } = { state: 'pending' };
  p.then(
    (value) => Object.assign(t, { state: 'resolved', value }),
    (error: unknown) => Object.assign(t, { state: 'rejected', error }),
  );
  return t;
}

describe('Waiters (one timer for all deadlines)', () => {
  it('resolves a waiter by key; one not answered in time fails with a TimeoutError naming it', async () => {
    const timedOut: string[] = [];
    const w = new Waiters<string, number>((k) => timedOut.push(k));
    const a = track(w.wait('a', 100, 'the write'));
    const b = track(w.wait('b', 100, 'the write'));
    expect(w.resolve('a', 7)).toBe(true);
    await vi.advanceTimersByTimeAsync(99);
    expect(a).toEqual({ state: 'resolved', value: 7 });
    expect(b.state).toBe('pending');
    await vi.advanceTimersByTimeAsync(2);
    expect(b.state).toBe('rejected');
    expect(b.error).toBeInstanceOf(TimeoutError);
    expect((b.error as Error).message).toMatch(/^the write did not complete within 100 ms/);
    expect(timedOut).toEqual(['b']);
    expect(w.size).toBe(0);
    expect(w.resolve('b', 1)).toBe(false);
  });

  it('waiters added later get their own full timeout', async () => {
    const w = new Waiters<string, number>();
    const first = track(w.wait('first', 100, 'x'));
    await vi.advanceTimersByTimeAsync(60);
    const second = track(w.wait('second', 100, 'x'));
    await vi.advanceTimersByTimeAsync(41);
    expect(first.state).toBe('rejected');
    expect(second.state).toBe('pending');
    await vi.advanceTimersByTimeAsync(60);
    expect(second.state).toBe('rejected');
  });

  it('a shorter timeout after a longer one still expires on time (deadlines out of insertion order)', async () => {
    const w = new Waiters<string, number>();
    const long = track(w.wait('long', 1000, 'x'));
    const short = track(w.wait('short', 50, 'x'));
    await vi.advanceTimersByTimeAsync(51);
    expect(short.state).toBe('rejected');
    expect(long.state).toBe('pending');
    await vi.advanceTimersByTimeAsync(950);
    expect(long.state).toBe('rejected');
  });

  it('an early deadline behind a later one in the Map is not skipped by the sweep', async () => {
    const w = new Waiters<string, number>();
    const long = track(w.wait('long', 1000, 'x'));
    const mid = track(w.wait('mid', 200, 'x'));
    const short = track(w.wait('short', 100, 'x'));
    await vi.advanceTimersByTimeAsync(101);
    expect([short.state, mid.state, long.state]).toEqual(['rejected', 'pending', 'pending']);
    await vi.advanceTimersByTimeAsync(100);
    expect([mid.state, long.state]).toEqual(['rejected', 'pending']);
  });

  it('rejectAll fails every waiter with the given error', async () => {
    const w = new Waiters<string, number>();
    const a = track(w.wait('a', 100, 'x'));
    const err = new Error('shutting down');
    w.rejectAll(err);
    await vi.advanceTimersByTimeAsync(0);
    expect(a).toEqual({ state: 'rejected', error: err });
    expect(w.size).toBe(0);
  });
});
