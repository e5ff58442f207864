import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { forkTs, killHard, nextMessage } from '../storage/fixtures/fork-ts.js';
import { useTempDirs } from '../storage/temp-dir.js';
import { startRealNode } from './start-real-node.js';

const tempDir = useTempDirs('lock');
const holder = new URL('../storage/fixtures/log-writer.ts', import.meta.url);

describe('a data dir in use by another process', () => {
  it('is refused before the node touches its Raft log', async () => {
    const dir = await tempDir();
    const child = forkTs(holder, [dir, 'hold']);
    try {
      const { segments } = await nextMessage<{ segments: string[] }>(child);
      const err = await startRealNode('holder', dir, ['--bootstrap']).then(
        async (running) => {
          await running.shutdown();
          return null;
        },
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: 'locked', message: expect.stringMatching(/locked by another running process/) });
      expect(String((err as Error).message)).toContain(join(dir, 'state'));
      // The log (a WAL without a lock of its own) was not opened: no segment was started in it.
      const now = (await readdir(join(dir, 'wal'))).filter((n) => n.endsWith('.wal')).map((n) => join(dir, 'wal', n));
      expect(now).toEqual(segments);
    } finally {
      await killHard(child);
    }
  });
});
