import { describe, expect, it } from 'vitest';
import { RaftLogStore } from '../../../node/src/storage/index.js';
import { CRASH_SEGMENT_BYTES } from './fixtures/crash-segment-bytes.js';
import type { Acked } from './fixtures/log-writer.js';
import { forkTs, killHard, nextMessage } from './fixtures/fork-ts.js';
import { useTempDirs } from './temp-dir.js';

const tempDir = useTempDirs('crash');
const writer = new URL('./fixtures/log-writer.ts', import.meta.url);
const decoder = new TextDecoder();

/** Reopens the store after a SIGKILL and checks every invariant against the last durable ack. */
async function checkRecovered(dir: string, acked: Acked | null): Promise<void> {
  const store = await RaftLogStore.open(dir, { segmentBytes: CRASH_SEGMENT_BYTES }); // open itself refuses a non-contiguous log
  try {
    const s = store.storage;
    const hs = s.hardStateNow();
    const first = s.firstIndex();
    const last = s.lastIndex();
    const snap = s.snapshot();
    if (acked) {
      expect(hs.term).toBeGreaterThanOrEqual(acked.term);
      expect(hs.commit).toBeGreaterThanOrEqual(acked.commit);
      expect(last).toBeGreaterThanOrEqual(acked.lastIndex);
      // Unacknowledged but durable progress may have compacted past the last ack we received.
      if (acked.lastIndex >= first - 1) expect(s.term(acked.lastIndex)).toBeGreaterThanOrEqual(acked.lastTerm);
    }
    expect(hs.commit).toBeLessThanOrEqual(last);
    expect(first - 1).toBeLessThanOrEqual(snap.metadata.index);
    if (snap.metadata.index > 0) expect(decoder.decode(await store.readSnapshotData())).toBe(String(snap.metadata.index));
    let prevTerm = s.term(first - 1);
    if (last >= first) {
      const entries = s.entries(first, last + 1, 0);
      expect(entries.map((e) => e.index)).toEqual(Array.from({ length: last - first + 1 }, (_, i) => first + i));
      for (const e of entries) {
        expect(decoder.decode(e.data)).toBe(`${e.index}:${e.term}`);
        expect(e.term).toBeGreaterThanOrEqual(prevTerm);
        prevTerm = e.term;
      }
    }
  } finally {
    await store.close();
  }
}

describe('RaftLogStore crash consistency', () => {
  it('restarts consistent after SIGKILL at random moments of a write loop', async () => {
    const dir = await tempDir();
    let acked: Acked | null = null;
    for (let cycle = 0; cycle < 10; cycle++) {
      const child = forkTs(writer, [dir, 'write']);
      await nextMessage(child);
      child.on('message', (m: { acked?: Acked }) => {
        if (m.acked) acked = m.acked;
      });
      await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 200));
      await killHard(child);
      await checkRecovered(dir, acked);
    }
    expect(acked).not.toBeNull(); // the writer made progress, so the checks above had something to check
  }, 60_000);
});
