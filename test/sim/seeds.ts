/**
 * Which seeds a simulation test file runs. KUORUM_SIM_SEED=S replays exactly one schedule (in the
 * first shard only); KUORUM_SIM_SEEDS=N runs seeds base..base+N-1 (base = KUORUM_SIM_BASE_SEED,
 * default 1), split across shard files so vitest uses both cores.
 */
export const DEFAULT_SEEDS = 500;

function positiveInt(name: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(raw)}`);
  return n;
}

export function seedsForShard(shard: number, shards: number, env: NodeJS.ProcessEnv = process.env): number[] {
  const custom = env.KUORUM_SIM_SCHEDULE;
  if (custom !== undefined && custom !== '') {
    const seed = (JSON.parse(custom) as { params?: { seed?: unknown } }).params?.seed;
    if (typeof seed !== 'number') throw new Error('KUORUM_SIM_SCHEDULE has no params.seed');
    return shard === 0 ? [seed] : [];
  }
  const one = env.KUORUM_SIM_SEED;
  if (one !== undefined && one !== '') return shard === 0 ? [positiveInt('KUORUM_SIM_SEED', one)] : [];
  const count = env.KUORUM_SIM_SEEDS ? positiveInt('KUORUM_SIM_SEEDS', env.KUORUM_SIM_SEEDS) : DEFAULT_SEEDS;
  const base = env.KUORUM_SIM_BASE_SEED ? positiveInt('KUORUM_SIM_BASE_SEED', env.KUORUM_SIM_BASE_SEED) : 1;
  const seeds: number[] = [];
  for (let i = shard; i < count; i += shards) seeds.push(base + i);
  return seeds;
}
