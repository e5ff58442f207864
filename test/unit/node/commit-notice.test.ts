import { describe, expect, it } from 'vitest';
import { CommitNoticeTimer, type NoticeClock } from '../../../node/src/commit-notice.js';

/** A clock the test moves by hand; timers fire in due order as it passes them. */
class ManualClock implements NoticeClock {
  private t = 0;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  get pending(): number {
    return this.timers.size;
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const next = [...this.timers.entries()].filter(([, x]) => x.at <= end).sort((p, q) => p[1].at - q[1].at)[0];
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
  }
}

function setup() {
  const clock = new ManualClock();
  let sent = 0;
  const timer = new CommitNoticeTimer(() => sent++, 2, clock);
  return { clock, timer, sent: () => sent };
}

describe('CommitNoticeTimer', () => {
  it('sends a notice that stayed due for the delay, once', () => {
    const { clock, timer, sent } = setup();
    timer.observe(true);
    clock.advance(1);
    timer.observe(true); // still due: the wait is not extended
    expect(sent()).toBe(0);
    clock.advance(1);
    expect(sent()).toBe(1);
    clock.advance(10);
    expect(sent()).toBe(1);
  });

  it('sends nothing when an append carried the commit before the delay', () => {
    const { clock, timer, sent } = setup();
    timer.observe(true);
    clock.advance(1);
    timer.observe(false);
    clock.advance(10);
    expect(sent()).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it('a notice due again after a break waits the whole delay from then', () => {
    const { clock, timer, sent } = setup();
    timer.observe(true);
    clock.advance(1);
    timer.observe(false);
    clock.advance(0.5);
    timer.observe(true); // due since t=1.5: the timer set at t=0 fires at 2 and waits on
    clock.advance(0.5);
    expect(sent()).toBe(0);
    clock.advance(1);
    expect(sent()).toBe(0);
    clock.advance(0.5);
    expect(sent()).toBe(1);
  });

  it('keeps at most one timer however often it is told', () => {
    const { clock, timer } = setup();
    for (let i = 0; i < 50; i++) timer.observe(i % 3 !== 0);
    expect(clock.pending).toBe(1);
  });

  it('sends nothing once stopped', () => {
    const { clock, timer, sent } = setup();
    timer.observe(true);
    timer.stop();
    clock.advance(10);
    timer.observe(true);
    clock.advance(10);
    expect(sent()).toBe(0);
    expect(clock.pending).toBe(0);
  });
});
