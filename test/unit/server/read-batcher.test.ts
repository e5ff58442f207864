import { afterEach, describe, expect, it, vi } from 'vitest';
import { TimeoutError } from '../../../node/src/errors.js';
import { ReadBatcher } from '../../../node/src/read-batcher.js';

function batcher(timeoutMs = 1000): { rb: ReadBatcher; asked: Uint8Array[] } {
  const asked: Uint8Array[] = [];
  const rb = new ReadBatcher({ ask: (ctx) => asked.push(ctx), retryMs: 100, timeoutMs });
  return { rb, asked };
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

afterEach(() => {
  vi.useRealTimers();
});

describe('ReadBatcher', () => {
  it('serves every read that queued behind the outstanding request with one more request', async () => {
    const { rb, asked } = batcher();
    const first = rb.wait();
    const queued = Array.from({ length: 9 }, () => rb.wait());
    expect(asked).toHaveLength(1); // the nine wait: one request at a time
    rb.answer(asked[0]!, 5);
    expect(await first).toBe(5);
    expect(asked).toHaveLength(2); // one request for all nine
    expect(hex(asked[1]!)).not.toBe(hex(asked[0]!));
    rb.answer(asked[1]!, 7);
    expect(await Promise.all(queued)).toEqual(Array(9).fill(7));
    expect(rb.requestsSent).toBe(2);
  });

  it('never lets a read that arrived after a request was sent take that request\'s index', async () => {
    const { rb, asked } = batcher();
    const early = rb.wait();
    const late = rb.wait();
    let lateIndex: number | undefined;
    void late.then((i) => (lateIndex = i));
    rb.answer(asked[0]!, 3);
    expect(await early).toBe(3);
    await Promise.resolve();
    expect(lateIndex).toBeUndefined();
    rb.answer(asked[1]!, 4);
    expect(await late).toBe(4);
  });

  it('ignores answers to unknown or stale contexts and asks again with the same context until answered', async () => {
    vi.useFakeTimers();
    const { rb, asked } = batcher();
    const r = rb.wait();
    rb.answer(new Uint8Array([1, 2, 3]), 9);
    vi.advanceTimersByTime(250);
    expect(asked.map(hex)).toEqual(Array(3).fill(hex(asked[0]!)));
    rb.answer(asked[0]!, 2);
    expect(await r).toBe(2);
    rb.answer(asked[0]!, 8); // a late duplicate answer: nothing waits for it
    vi.advanceTimersByTime(1000);
    expect(asked).toHaveLength(3);
  });

  it('fails a read that waits too long, and moves on to the reads queued behind it', async () => {
    vi.useFakeTimers();
    const { rb, asked } = batcher(500);
    const stuck = rb.wait();
    const stuckErr = stuck.catch((e: unknown) => e);
    vi.advanceTimersByTime(300);
    const later = rb.wait();
    vi.advanceTimersByTime(250); // the first read expires; its request has no reader left
    expect(await stuckErr).toBeInstanceOf(TimeoutError);
    const ctx = asked[asked.length - 1]!;
    expect(hex(ctx)).not.toBe(hex(asked[0]!));
    rb.answer(ctx, 6);
    expect(await later).toBe(6);
  });

  it('gives every read its own full timeout, though they share one timer', async () => {
    vi.useFakeTimers();
    const { rb, asked } = batcher(500);
    const first = rb.wait();
    vi.advanceTimersByTime(50);
    let outcome: unknown;
    rb.wait().then(
      (i) => (outcome = i),
      (e: unknown) => (outcome = e),
    );
    rb.answer(asked[0]!, 1); // the second read's request goes out; the timer stays armed for the first's deadline
    expect(await first).toBe(1);
    vi.advanceTimersByTime(460); // 510 ms: past the first read's deadline, not the second's
    await Promise.resolve();
    expect(outcome).toBeUndefined();
    vi.advanceTimersByTime(50); // 560 ms: past the second's
    await Promise.resolve();
    expect(outcome).toBeInstanceOf(TimeoutError);
    expect(vi.getTimerCount()).toBe(0); // nothing waits: no expiry timer, no retry
  });

  it('leaves no timer behind once every read is answered', async () => {
    vi.useFakeTimers();
    const { rb, asked } = batcher();
    const reads = [rb.wait(), rb.wait(), rb.wait()];
    rb.answer(asked[0]!, 1);
    rb.answer(asked[1]!, 2);
    expect(await Promise.all(reads)).toEqual([1, 2, 2]);
    vi.advanceTimersByTime(1); // the pause after a request that served several reads
    expect(vi.getTimerCount()).toBe(0);
  });

  it('after serving several reads, holds the next request until as many queue again', async () => {
    vi.useFakeTimers();
    const { rb, asked } = batcher();
    const first = rb.wait();
    const three = [rb.wait(), rb.wait(), rb.wait()];
    rb.answer(asked[0]!, 1);
    await first;
    rb.answer(asked[1]!, 2);
    expect(await Promise.all(three)).toEqual([2, 2, 2]);
    const again = [rb.wait(), rb.wait()];
    expect(asked).toHaveLength(2); // two of three back: still gathering
    again.push(rb.wait());
    expect(asked).toHaveLength(3); // the third: the request goes out at once, for all three
    rb.answer(asked[2]!, 3);
    expect(await Promise.all(again)).toEqual([3, 3, 3]);
  });

  it('sends the held request after gatherMs even if fewer reads came back', async () => {
    vi.useFakeTimers();
    const asked: Uint8Array[] = [];
    const rb = new ReadBatcher({ ask: (ctx) => asked.push(ctx), retryMs: 100, timeoutMs: 1000, gatherMs: 5 });
    const first = rb.wait();
    const two = [rb.wait(), rb.wait()];
    rb.answer(asked[0]!, 1);
    await first;
    rb.answer(asked[1]!, 2);
    await Promise.all(two);
    const late = rb.wait();
    vi.advanceTimersByTime(4);
    expect(asked).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(asked).toHaveLength(3);
    rb.answer(asked[2]!, 4);
    expect(await late).toBe(4);
  });

  it('never holds back a lone read', () => {
    const { rb, asked } = batcher();
    for (let i = 0; i < 3; i++) {
      void rb.wait();
      expect(asked).toHaveLength(i + 1); // asked at once
      rb.answer(asked[i]!, i);
    }
  });

  it('rejects every waiting read on shutdown', async () => {
    const { rb } = batcher();
    const a = rb.wait().catch((e: unknown) => e);
    const b = rb.wait().catch((e: unknown) => e);
    rb.rejectAll(new Error('stopping'));
    expect(((await a) as Error).message).toBe('stopping');
    expect(((await b) as Error).message).toBe('stopping');
  });

  it('uses contexts unique across instances (members share one leader)', () => {
    const x = batcher();
    const y = batcher();
    void x.rb.wait().catch(() => undefined);
    void y.rb.wait().catch(() => undefined);
    expect(hex(x.asked[0]!)).not.toBe(hex(y.asked[0]!));
    x.rb.rejectAll(new Error('done'));
    y.rb.rejectAll(new Error('done'));
  });
});
