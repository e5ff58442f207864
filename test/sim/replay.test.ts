import { describe, expect, it } from 'vitest';
import { Prng } from './prng.js';
import { replayLine, runSeed, scheduleForSeed } from './run-seed.js';
import { seedsForShard } from './seeds.js';

describe('seeded replay', () => {
  it('one seed replays the same schedule, event for event', () => {
    const traces: string[][] = [];
    const a = runSeed(4242, { traceLines: 400, inspect: (sim) => traces.push(sim.events.tail()) });
    const b = runSeed(4242, { traceLines: 400, inspect: (sim) => traces.push(sim.events.tail()) });
    expect(b.stats).toEqual(a.stats);
    expect(traces[1]).toEqual(traces[0]);
    expect(a.stats.messages).toBeGreaterThan(100);
    const other = runSeed(4243, { traceLines: 400, inspect: (sim) => traces.push(sim.events.tail()) });
    expect(traces[2]).not.toEqual(traces[0]);
    expect(other.seed).toBe(4243);
  });

  it('schedules vary with the seed and stay within the documented ranges', () => {
    const sizes = new Set<number>();
    for (let seed = 1; seed <= 200; seed++) {
      const s = scheduleForSeed(seed);
      sizes.add(s.params.initialVoters);
      expect(s.params.initialVoters === 1 || (s.params.initialVoters >= 3 && s.params.initialVoters <= 5)).toBe(true);
      expect(s.rates.maxMembers).toBeLessThanOrEqual(7);
      expect(s.params.faults.drop).toBeLessThan(0.15);
    }
    expect([...sizes].sort()).toEqual([1, 3, 4, 5]);
  });

  it('the PRNG is deterministic and roughly uniform', () => {
    const a = new Prng(99);
    const b = new Prng(99);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 4000; i++) {
      const x = a.int(4);
      expect(b.int(4)).toBe(x);
      counts[x]!++;
    }
    for (const c of counts) expect(c).toBeGreaterThan(850);
    expect(() => a.int(0)).toThrow(RangeError);
  });

  it('KUORUM_SIM_SEED replays one seed; KUORUM_SIM_SEEDS splits N seeds across shards', () => {
    expect(seedsForShard(0, 2, { KUORUM_SIM_SEED: '77' })).toEqual([77]);
    expect(seedsForShard(1, 2, { KUORUM_SIM_SEED: '77' })).toEqual([]);
    expect(seedsForShard(0, 2, { KUORUM_SIM_SEEDS: '5' })).toEqual([1, 3, 5]);
    expect(seedsForShard(1, 2, { KUORUM_SIM_SEEDS: '5' })).toEqual([2, 4]);
    expect(seedsForShard(0, 2, { KUORUM_SIM_SEEDS: '4', KUORUM_SIM_BASE_SEED: '100' })).toEqual([100, 102]);
    expect(seedsForShard(0, 1, {}).length).toBe(500);
    expect(() => seedsForShard(0, 1, { KUORUM_SIM_SEEDS: 'many' })).toThrow(/KUORUM_SIM_SEEDS/);
    expect(replayLine(12345)).toBe('KUORUM_SIM_SEED=12345 npx vitest run --project sim test/sim/simulation.test.ts');
  });
});
