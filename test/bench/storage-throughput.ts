// Microbenchmark of the storage layer alone (not a test): the KV state machine's apply path
// (KvStoreAdapter.apply → KvStore, as node.ts calls it) and the Raft log's save path
// (RaftLogStore.save, fsynced, with a snapshot + compaction every 10,000 entries as the node
// does), each on real LevelDB in a temp dir, no network, no Raft core.
//
//   tsc -p . && node dist/test/bench/storage-throughput.js [rounds] [entriesPerRound] [batch]
//
// The figure to compare is main-thread CPU µs per entry (process.threadCpuUsage): the cluster
// is CPU-bound, and LevelDB's own threads (writes, fsync, compaction) are reported apart in the
// process total. Each round is measured on its own; the best and the median are printed. Wall
// time (entries/s) is shown for orientation only; it depends on the disk and on the machine's load.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KvStoreAdapter } from '../../node/src/kv-adapter.js';
import { KvStore, encodeCommand } from '../../node/src/kv/index.js';
import type { ApplyItem } from '../../node/src/node-ports.js';
import type { Entry } from '../../node/src/raft/types.js';
import { RaftLogStore } from '../../node/src/storage/index.js';

const ROUNDS = Number(process.argv[2] ?? 7);
const PER_ROUND = Number(process.argv[3] ?? 20_000);
const BATCH = Number(process.argv[4] ?? 64);
const KEYS = 10_000; // as make bench: uniform over k0000000…k0009999, 256-byte values
const VALUE = new Uint8Array(256).fill(0x61);
const SNAPSHOT_EVERY = 10_000; // --snapshot-threshold
const CATCHUP = 5_000; // --snapshot-catchup-entries

let seed = 12345;
function randomKey(): string {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return `k${String(seed % KEYS).padStart(7, '0')}`;
}

let requestSeq = 0;
function putData(key: string): Uint8Array {
  return encodeCommand({ op: 'put', requestId: `0123456789abcdef:${++requestSeq}`, key, value: VALUE });
}

const mainCpu = (): number => {
  const u = typeof process.threadCpuUsage === 'function' ? process.threadCpuUsage() : process.cpuUsage();
  return u.user + u.system;
};
const processCpu = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

interface Round {
  mainUs: number;
  processUs: number;
  perSec: number;
}

/** Runs `body` (which handles `n` entries) and measures it. */
async function measure(n: number, body: () => Promise<void>): Promise<Round> {
  const m0 = mainCpu();
  const p0 = processCpu();
  const t0 = performance.now();
  await body();
  const ms = performance.now() - t0;
  return { mainUs: (mainCpu() - m0) / n, processUs: (processCpu() - p0) / n, perSec: (n * 1000) / ms };
}

function report(label: string, rounds: Round[]): void {
  const by = (f: (r: Round) => number): { best: number; median: number } => {
    const v = rounds.map(f).sort((a, b) => a - b);
    return { best: v[0]!, median: v[Math.floor(v.length / 2)]! };
  };
  const main = by((r) => r.mainUs);
  const proc = by((r) => r.processUs);
  const rate = by((r) => -r.perSec);
  console.log(
    `${label}: main-thread CPU ${main.median.toFixed(2)} µs/entry (best ${main.best.toFixed(2)}), ` +
      `process CPU ${proc.median.toFixed(2)} µs/entry, ${Math.round(-rate.median).toLocaleString('en')} entries/s`,
  );
}

async function benchKvApply(dir: string): Promise<void> {
  const kv = new KvStoreAdapter(await KvStore.open(dir));
  let index = 0;
  const batchOf = (keys: string[]): ApplyItem[] => keys.map((k) => ({ entry: { index: ++index, term: 1, type: 'normal', data: putData(k) } }));
  // Every key exists and the history window (10,000 revisions) is full: the steady state of a long run.
  for (let k = 0; k < KEYS; k += 500) {
    await kv.apply(batchOf(Array.from({ length: Math.min(500, KEYS - k) }, (_, i) => `k${String(k + i).padStart(7, '0')}`)));
  }
  const rounds: Round[] = [];
  for (let r = 0; r <= ROUNDS; r++) {
    const batches: ApplyItem[][] = [];
    for (let n = 0; n < PER_ROUND; n += BATCH) batches.push(batchOf(Array.from({ length: Math.min(BATCH, PER_ROUND - n) }, randomKey)));
    const round = await measure(PER_ROUND, async () => {
      for (const b of batches) await kv.apply(b);
    });
    if (r > 0) rounds.push(round); // the first round warms up
  }
  await kv.close();
  report(`kv apply   (${BATCH} puts of 256 B per batch, ${KEYS.toLocaleString('en')} keys)`, rounds);
}

async function benchLogSave(dir: string): Promise<void> {
  const log = await RaftLogStore.open(dir);
  const confState = { voters: ['n1', 'n2', 'n3'], learners: [] };
  let index = 0;
  let lastSnapshot = 0;
  const rounds: Round[] = [];
  for (let r = 0; r <= ROUNDS; r++) {
    const batches: Entry[][] = [];
    for (let n = 0; n < PER_ROUND; n += BATCH) {
      batches.push(Array.from({ length: Math.min(BATCH, PER_ROUND - n) }, () => ({ index: ++index, term: 2, type: 'normal' as const, data: putData(randomKey()) })));
    }
    const round = await measure(PER_ROUND, async () => {
      for (const entries of batches) {
        const last = entries[entries.length - 1]!.index;
        await log.save({ hardState: { term: 2, vote: 'n1', commit: entries[0]!.index - 1 }, entries }, { sync: true });
        if (last - lastSnapshot >= SNAPSHOT_EVERY) {
          await log.createSnapshot(last, confState, VALUE);
          await log.compact(last - CATCHUP);
          lastSnapshot = last;
        }
      }
    });
    if (r > 0) rounds.push(round);
  }
  await log.close();
  report(`log save   (${BATCH} entries per synced save, compaction every ${SNAPSHOT_EVERY.toLocaleString('en')})`, rounds);
}

const root = await mkdtemp(join(tmpdir(), 'kuorum-storage-bench-'));
try {
  console.log(`storage-throughput: ${ROUNDS} rounds of ${PER_ROUND.toLocaleString('en')} entries, batches of ${BATCH}`);
  await benchKvApply(join(root, 'kv'));
  await benchLogSave(join(root, 'log'));
} finally {
  await rm(root, { recursive: true, force: true });
}
