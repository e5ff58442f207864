import { describe, expect, it, vi } from 'vitest';
import { backoffDelay, WorkQueue } from '../../../operator/src/workqueue.js';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('work queue', () => {
  it('backs off exponentially up to a cap', () => {
    expect([0, 1, 2, 3, 4, 10, 100].map((n) => backoffDelay(n, 100, 5000))).toEqual([0, 100, 200, 400, 800, 5000, 5000]);
  });

  it('collapses duplicate keys and never runs one key twice at once', async () => {
    const running = new Set<string>();
    const runs: string[] = [];
    let overlap = false;
    const gates: (() => void)[] = [];
    const q = new WorkQueue(async (key) => {
      if (running.has(key)) overlap = true;
      running.add(key);
      runs.push(key);
      await new Promise<void>((r) => gates.push(r));
      running.delete(key);
    }, { workers: 4, baseDelayMs: 1, maxDelayMs: 1 });
    q.add('a');
    q.add('a');
    q.add('b');
    await tick();
    expect(runs).toEqual(['a', 'b']);
    q.add('a'); // arrives while 'a' runs: must run again afterwards, not concurrently
    q.add('a');
    await tick();
    expect(runs).toEqual(['a', 'b']);
    while (gates.length) {
      gates.shift()!();
      await tick();
      await tick();
    }
    await q.idle();
    expect(runs.sort()).toEqual(['a', 'a', 'b']);
    expect(overlap).toBe(false);
    q.stop();
  });

  it('keeps the sooner time when a waiting key is scheduled again', async () => {
    vi.useFakeTimers();
    try {
      const runs: number[] = [];
      const q = new WorkQueue(async () => {
        runs.push(Date.now());
      }, { workers: 1, baseDelayMs: 1, maxDelayMs: 1 });
      const start = Date.now();
      q.addAfter('a', 30_000); // the periodic refresh of a converged cluster
      q.addAfter('a', 3_000); // a re-check asked for later, e.g. after an event made it act
      q.addAfter('a', 10_000); // later than what is pending: ignored
      await vi.advanceTimersByTimeAsync(3_000);
      expect(runs.map((t) => t - start)).toEqual([3_000]);
      await vi.advanceTimersByTimeAsync(60_000);
      expect(runs).toHaveLength(1);
      q.stop();
    } finally {
      vi.useRealTimers();
    }
  });

  it('retries a failing key with a growing failure count and resets it on success', async () => {
    let calls = 0;
    const errors: string[] = [];
    const done = new Promise<void>((resolve) => {
      const q = new WorkQueue(async () => {
        calls++;
        if (calls < 3) throw new Error(`boom ${calls}`);
        expect(q.failureCount('k')).toBe(2);
        resolve();
      }, { workers: 1, baseDelayMs: 1, maxDelayMs: 4 }, (_k, err) => errors.push((err as Error).message));
      q.add('k');
    });
    await done;
    expect(errors).toEqual(['boom 1', 'boom 2']);
  });
});
