import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ELECTION_TICK, runSeed, type Schedule } from './run-seed.js';

/**
 * The same simulation driven by fast-check: schedules are drawn from the whole parameter space
 * (not only from seeds), and a failing one is shrunk towards fewer nodes, shorter chaos, calmer
 * network and disks. The failure message then carries a KUORUM_SIM_SCHEDULE=... replay line.
 * KUORUM_SIM_FC_RUNS sets the number of runs (default 40).
 */
const scheduleArb: fc.Arbitrary<Schedule> = fc
  .record({
    seed: fc.integer({ min: 1, max: 0x7fffffff }),
    initialVoters: fc.constantFrom(3, 1, 4, 5),
    heartbeatTick: fc.integer({ min: 1, max: 3 }),
    maxSizePerMsg: fc.constantFrom(64 * 1024, 1024, 200),
    maxInflightMsgs: fc.integer({ min: 1, max: 8 }),
    maxUncommittedEntriesSize: fc.constantFrom(0, 4096),
    maxCommittedSizePerReady: fc.constantFrom(0, 300),
    snapshotEvery: fc.integer({ min: 5, max: 60 }),
    keepEntries: fc.integer({ min: 0, max: 5 }),
    drop: fc.double({ min: 0, max: 0.15, noNaN: true }),
    duplicate: fc.double({ min: 0, max: 0.05, noNaN: true }),
    maxLatency: fc.integer({ min: 2, max: 30 }),
    diskSlowChance: fc.double({ min: 0, max: 0.3, noNaN: true }),
    diskMaxDelay: fc.integer({ min: 1, max: 25 }),
    propose: fc.double({ min: 0.1, max: 0.8, noNaN: true }),
    read: fc.double({ min: 0, max: 0.4, noNaN: true }),
    confChange: fc.double({ min: 0, max: 0.05, noNaN: true }),
    transfer: fc.double({ min: 0, max: 0.02, noNaN: true }),
    crash: fc.double({ min: 0, max: 0.03, noNaN: true }),
    partition: fc.double({ min: 0, max: 0.03, noNaN: true }),
    maxDown: fc.integer({ min: 1, max: 2 }),
    keys: fc.integer({ min: 1, max: 5 }),
    chaosTicks: fc.integer({ min: 10, max: 300 }),
  })
  .map((r) => ({
    params: {
      seed: r.seed,
      initialVoters: r.initialVoters,
      core: {
        electionTick: ELECTION_TICK,
        heartbeatTick: r.heartbeatTick,
        maxSizePerMsg: r.maxSizePerMsg,
        maxInflightMsgs: r.maxInflightMsgs,
        maxUncommittedEntriesSize: r.maxUncommittedEntriesSize,
        maxCommittedSizePerReady: r.maxCommittedSizePerReady,
        snapshotEvery: r.snapshotEvery,
        keepEntries: r.keepEntries,
      },
      faults: { drop: r.drop, duplicate: r.duplicate, minLatency: 1, maxLatency: r.maxLatency },
      diskSlowChance: r.diskSlowChance,
      diskMaxDelay: r.diskMaxDelay,
    },
    rates: {
      propose: r.propose,
      read: r.read,
      confChange: r.confChange,
      transfer: r.transfer,
      crash: r.crash,
      partition: r.partition,
      maxDown: r.maxDown,
      keys: r.keys,
      maxMembers: 7,
      maxNodesCreated: r.initialVoters + 5,
    },
    chaosTicks: r.chaosTicks,
  }));

function runs(): number {
  const n = Number(process.env.KUORUM_SIM_FC_RUNS ?? '40');
  return Number.isSafeInteger(n) && n > 0 ? n : 40;
}

describe('fast-check schedules', () => {
  it.skipIf(Boolean(process.env.KUORUM_SIM_SEED || process.env.KUORUM_SIM_SCHEDULE))(
    'any schedule keeps the safety invariants and recovers (shrinks on failure)',
    () => {
      fc.assert(
        fc.property(scheduleArb, (schedule) => {
          const res = runSeed(schedule.params.seed, { schedule });
          if (!res.ok) throw new Error(res.report);
        }),
        { numRuns: runs(), seed: Number(process.env.KUORUM_SIM_FC_SEED ?? '424242'), endOnFailure: false },
      );
    },
  );

  it('a shrunk schedule replays from its JSON', () => {
    const schedule = fc.sample(scheduleArb, { numRuns: 1, seed: 7 })[0]!;
    const again = JSON.parse(JSON.stringify(schedule)) as Schedule;
    expect(runSeed(again.params.seed, { schedule: again }).stats).toEqual(runSeed(schedule.params.seed, { schedule }).stats);
  });
});
