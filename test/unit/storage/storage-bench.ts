// Quick measurement of the durable paths (not a test: run by hand):
//   node --import ./test/unit/storage/fixtures/ts-resolve.mjs --no-warnings test/unit/storage/storage-bench.ts
// One synced LevelDB batch per Ready: the cost of a Ready is one fsync, whatever its size.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KvStore, encodeCommand, type CommittedEntry } from '../../../node/src/kv/index.js';
import type { Entry } from '../../../node/src/raft/types.js';
import { RaftLogStore } from '../../../node/src/storage/index.js';

const dir = await mkdtemp(join(tmpdir(), 'kuorum-bench-'));
try {
  const log = await RaftLogStore.open(dir);
  let index = 0;
  const value = new Uint8Array(256).fill(1);
  for (const perReady of [1, 16, 256]) {
    const readys = perReady === 1 ? 200 : 100;
    const t0 = performance.now();
    for (let r = 0; r < readys; r++) {
      const entries: Entry[] = [];
      for (let i = 0; i < perReady; i++) entries.push({ index: ++index, term: 1, type: 'normal', data: value });
      await log.save({ hardState: { term: 1, vote: '', commit: index - 1 }, entries });
    }
    const ms = performance.now() - t0;
    console.log(`RaftLogStore.save, ${perReady} x 256 B entries per Ready (synced): ${(ms / readys).toFixed(2)} ms/Ready, ${Math.round((readys * perReady * 1000) / ms).toLocaleString('en')} entries/s`);
  }
  await log.close();

  const kv = await KvStore.open(dir);
  let applied = 0;
  const batches = 200;
  const perBatch = 100;
  const t0 = performance.now();
  for (let b = 0; b < batches; b++) {
    const entries: CommittedEntry[] = [];
    for (let i = 0; i < perBatch; i++) {
      applied++;
      entries.push({ index: applied, term: 1, type: 'normal', data: encodeCommand({ op: 'put', requestId: `r${applied}`, key: `key/${applied % 5000}`, value }) });
    }
    await kv.apply(entries);
  }
  const ms = performance.now() - t0;
  console.log(`KvStore.apply, batches of ${perBatch} puts of 256 B over 5,000 keys: ${Math.round((batches * perBatch * 1000) / ms).toLocaleString('en')} puts/s`);
  const s0 = performance.now();
  const snap = await kv.snapshotData();
  console.log(`KvStore.snapshotData, 5,000 keys: ${snap.length.toLocaleString('en')} bytes in ${(performance.now() - s0).toFixed(1)} ms`);
  await kv.close();
} finally {
  await rm(dir, { recursive: true, force: true });
}
