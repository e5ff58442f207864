import { describe, expect, it } from 'vitest';
import { KvStore } from '../../../node/src/kv/index.js';
import { forkTs, killHard, nextMessage } from '../storage/fixtures/fork-ts.js';
import { useTempDirs } from '../storage/temp-dir.js';
import { modelState } from './fixtures/apply-stream.js';

const tempDir = useTempDirs('kvcrash');
const applier = new URL('./fixtures/kv-applier.ts', import.meta.url);

describe('KvStore crash consistency', () => {
  it('keeps the applied index and the state together through SIGKILL at random moments', async () => {
    const dir = await tempDir();
    let acked = 0;
    for (let cycle = 0; cycle < 6; cycle++) {
      const child = forkTs(applier, [dir]);
      await nextMessage(child);
      child.on('message', (m: { applied?: number }) => {
        if (m.applied !== undefined) acked = Math.max(acked, m.applied);
      });
      await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 200));
      await killHard(child);

      const kv = await KvStore.open(dir, { historyWindow: 50 });
      try {
        expect(kv.appliedIndex).toBeGreaterThanOrEqual(acked); // a process crash loses no written batch
        const model = modelState(kv.appliedIndex);
        expect(kv.revision).toBe(model.revision);
        const listed = await kv.list('', 100);
        expect(listed.items.map((i) => ({ key: i.key, value: new TextDecoder().decode(i.value), createRevision: i.createRevision, modRevision: i.modRevision, version: i.version }))).toEqual(
          [...model.keys.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, m]) => ({ key, ...m })),
        );
        // The retained history is exactly the last changes, contiguous up to the revision.
        const from = Math.max(1, kv.revision - 49);
        const seen: number[] = [];
        const w = kv.watch('', kv.revision === 0 ? undefined : from, (e) => seen.push(e.revision));
        await w.ready;
        w.cancel();
        expect(seen).toEqual(kv.revision === 0 ? [] : Array.from({ length: kv.revision - from + 1 }, (_, i) => from + i));
      } finally {
        await kv.close();
      }
    }
    expect(acked).toBeGreaterThan(0);
  }, 60_000);
});
