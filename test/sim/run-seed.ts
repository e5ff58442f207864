import { Prng } from './prng.js';
import { InvariantViolation } from './safety-checker.js';
import { Simulation, type SimParams, type SimStats } from './simulation.js';
import { Workload, type WorkloadRates } from './workload.js';

export const ELECTION_TICK = 10;
/**
 * After the network heals and every member is back, a leader must exist and a fresh write must be
 * acknowledged within LIVENESS_TICKS. A stale leader steps down within one election timeout
 * (CheckQuorum); a follower campaigns after a randomized timeout in [E, 2E) and PreVote lets it
 * once a majority has not heard from a leader for E ticks; a pending transfer aborts after E. So
 * one election round costs at most ~3E ticks; 25E allows about eight rounds of split votes, which
 * with randomized timeouts over at most 7 voters does not happen on a correct core.
 */
export const LIVENESS_TICKS = 25 * ELECTION_TICK;
/** Then every live member must have applied that write (catch-up, possibly by snapshot). */
export const CONVERGENCE_TICKS = 20 * ELECTION_TICK;

export interface Schedule {
  params: SimParams;
  rates: WorkloadRates;
  chaosTicks: number;
}

/** Everything about a run follows from its seed. */
export function scheduleForSeed(seed: number): Schedule {
  const r = new Prng(seed ^ 0x5eed5eed);
  const initialVoters = r.chance(0.1) ? 1 : r.between(3, 5);
  const params: SimParams = {
    seed,
    initialVoters,
    core: {
      electionTick: ELECTION_TICK,
      heartbeatTick: r.pick([1, 1, 2, 3]),
      maxSizePerMsg: r.pick([200, 1024, 64 * 1024]),
      maxInflightMsgs: r.between(1, 8),
      maxUncommittedEntriesSize: r.pick([0, 4096, 64 * 1024]),
      maxCommittedSizePerReady: r.pick([0, 300, 4096]),
      snapshotEvery: r.between(5, 60),
      keepEntries: r.between(0, 5),
    },
    faults: { drop: r.float() * 0.15, duplicate: r.float() * 0.05, minLatency: 1, maxLatency: r.between(2, 30) },
    diskSlowChance: r.float() * 0.3,
    diskMaxDelay: r.between(1, 25),
  };
  const rates: WorkloadRates = {
    propose: 0.3 + r.float() * 0.5,
    read: 0.1 + r.float() * 0.3,
    confChange: 0.01 + r.float() * 0.04,
    transfer: r.float() * 0.02,
    crash: 0.005 + r.float() * 0.025,
    partition: 0.005 + r.float() * 0.025,
    maxDown: r.between(1, 2),
    keys: r.between(1, 5),
    maxMembers: 7,
    maxNodesCreated: initialVoters + 5,
  };
  const chaosTicks = r.between(150, 300);
  // Drawn last, so that the draws above (and the schedules of earlier seeds' findings) stay as they were.
  params.core.deferCommitBroadcast = r.chance(0.5);
  return { params, rates, chaosTicks };
}

export interface SeedResult {
  seed: number;
  ok: boolean;
  rule?: string;
  report?: string;
  stats: SimStats;
}

/** KUORUM_SIM_TRACE=N prints the last N events of a failing schedule (default 60). */
function traceLinesFromEnv(): number {
  const n = Number(process.env.KUORUM_SIM_TRACE ?? '60');
  return Number.isSafeInteger(n) && n > 0 ? n : 60;
}

export function replayLine(seed: number, schedule?: Schedule): string {
  const custom = schedule ? `KUORUM_SIM_SCHEDULE='${JSON.stringify(schedule)}' ` : '';
  return `${custom}KUORUM_SIM_SEED=${seed} npx vitest run --project sim test/sim/simulation.test.ts`;
}

/** KUORUM_SIM_SCHEDULE=<json> replays a schedule that was not derived from a seed (a shrunk one). */
export function scheduleFromEnv(env: NodeJS.ProcessEnv = process.env): Schedule | undefined {
  const raw = env.KUORUM_SIM_SCHEDULE;
  if (raw === undefined || raw === '') return undefined;
  const s = JSON.parse(raw) as Schedule;
  if (typeof s?.params?.seed !== 'number' || typeof s.chaosTicks !== 'number' || typeof s.rates !== 'object') {
    throw new Error('KUORUM_SIM_SCHEDULE is not a schedule (expected {params, rates, chaosTicks})');
  }
  return s;
}

/** Runs one seeded schedule: chaos, then heal and check liveness. Never throws on a violation. */
export interface RunOptions {
  schedule?: Schedule;
  traceLines?: number;
  /** Called with the simulation when the run ends, pass or fail (for debugging a replay). */
  inspect?: (sim: Simulation) => void;
}

export function runSeed(seed: number, opts: RunOptions = {}): SeedResult {
  const custom = opts.schedule ?? scheduleFromEnv();
  const schedule = custom ?? scheduleForSeed(seed);
  const sim = new Simulation(schedule.params, opts.traceLines ?? traceLinesFromEnv());
  try {
    return runSchedule(sim, seed, schedule, custom !== undefined);
  } finally {
    opts.inspect?.(sim);
  }
}

function runSchedule(sim: Simulation, seed: number, schedule: Schedule, custom: boolean): SeedResult {
  try {
    const workload = new Workload(sim, new Prng(seed ^ 0x3c3c3c3c), schedule.rates);
    let chaos = true;
    sim.everyTick(() => {
      if (chaos) workload.tick();
      return chaos;
    });
    sim.runTicks(schedule.chaosTicks);
    chaos = false;
    checkLiveness(sim, workload);
    return { seed, ok: true, stats: finalStats(sim) };
  } catch (e) {
    const rule = e instanceof InvariantViolation ? e.rule : 'HarnessError';
    const err = e as Error;
    const report = [
      `seed ${seed}: ${e instanceof InvariantViolation ? err.message : `${rule}: ${err.message}`}`,
      `replay: ${replayLine(seed, custom ? schedule : undefined)}`,
      ...(e instanceof InvariantViolation ? [] : [err.stack ?? '']),
      `last events (virtual time in ticks):`,
      ...sim.events.tail().map((l) => `  ${l}`),
    ].join('\n');
    return { seed, ok: false, rule, report, stats: finalStats(sim) };
  }
}

function finalStats(sim: Simulation): SimStats {
  return { ...sim.stats, acked: sim.checker.ackedCount };
}

/** Heals everything and requires a leader and a fresh committed write within bounded time. */
export function checkLiveness(sim: Simulation, workload?: Workload): void {
  workload?.calm();
  sim.heal();
  sim.network.faults = { drop: 0, duplicate: 0, minLatency: 1, maxLatency: 5 };
  sim.trace('LIVENESS phase: network healed, calm');
  for (const id of sim.removed) sim.retire(id);
  for (const n of sim.nodes.values()) if (!n.alive && !n.retired) sim.restart(n.id);
  const writes: string[] = [];
  let sinceProposal = Infinity;
  let done = false;
  sim.everyTick(() => {
    if (done) return false;
    sinceProposal++;
    const leader = sim.leader();
    if (leader && sinceProposal >= 2 * ELECTION_TICK) {
      writes.push(...sim.propose(leader.id, 'liveness'));
      sinceProposal = 0;
    }
    return true;
  });
  const acked = (): string | undefined => writes.find((w) => sim.checker.isAcked(w));
  if (!sim.runTicks(LIVENESS_TICKS, () => acked() !== undefined)) {
    done = true;
    throw new InvariantViolation('Liveness', `no write was acknowledged within ${LIVENESS_TICKS} ticks after healing (leader: ${sim.leader()?.id ?? 'none'})`);
  }
  done = true;
  const index = sim.checker.indexOfWrite(acked()!)!;
  const members = () => [...sim.voters, ...sim.learners].map((id) => sim.node(id)).filter((n) => !n.retired);
  const converged = () => members().every((n) => n.alive && n.kv.applied >= index);
  if (!sim.runTicks(CONVERGENCE_TICKS, converged)) {
    const lagging = members().filter((n) => n.kv.applied < index).map((n) => `${n.id}@${n.kv.applied}`);
    throw new InvariantViolation('Liveness', `members [${lagging.join(',')}] did not apply index ${index} within ${CONVERGENCE_TICKS} ticks`);
  }
}
