import { expect } from 'vitest';
import { runSeed, type SeedResult } from './run-seed.js';
import { seedsForShard } from './seeds.js';
import type { SimStats } from './simulation.js';

/** Below this many seeds the workload-coverage assertions are skipped (a replay of one seed). */
const COVERAGE_MIN_SEEDS = 50;
const MAX_REPORTED = 5;

/** Runs this shard's seeds; fails with one replay line (and a trace) per failing seed. */
export function runShard(shard: number, shards: number): void {
  const seeds = seedsForShard(shard, shards);
  const failures: SeedResult[] = [];
  const total: Partial<Record<keyof SimStats, number>> = {};
  for (const seed of seeds) {
    const res = runSeed(seed);
    for (const [k, v] of Object.entries(res.stats) as [keyof SimStats, number][]) total[k] = (total[k] ?? 0) + v;
    if (!res.ok) failures.push(res);
  }
  if (failures.length > 0) {
    const shown = failures.slice(0, MAX_REPORTED).map((f) => f.report).join('\n\n');
    const seedsList = failures.map((f) => `${f.seed}(${f.rule})`).join(' ');
    expect.fail(`${failures.length} of ${seeds.length} schedules failed: ${seedsList}\n\n${shown}`);
  }
  if (seeds.length >= COVERAGE_MIN_SEEDS) {
    // The chaos must actually exercise the core, or a green run proves nothing.
    for (const k of ['acked', 'readsServed', 'confChangesApplied', 'snapshotsInstalled', 'snapshotsAhead', 'entriesSkipped', 'confChangesSkipped', 'crashes', 'partitions', 'transfers', 'dropped', 'leaderSuspicions'] as const) {
      expect(total[k] ?? 0, `total ${k} over ${seeds.length} schedules`).toBeGreaterThan(seeds.length / 10);
    }
  }
}
