/** What `make bench` runs: the full plan, or a short one with BENCH_QUICK=1. */
export interface BenchPlan {
  quick: boolean;
  putConns: number[];
  readConns: number[];
  warmupSec: number;
  durationSec: number;
  keys: number;
  valueSize: number;
  /** Keys written before the memory reading (the first `keys` of them also serve the reads). */
  memoryKeys: number;
  fillConns: number;
  failoverRounds: number;
  /** Probe (write) interval of the light load during failover. */
  failoverIntervalMs: number;
  electionMs: number;
  heartbeatMs: number;
  /** 'all': connection i goes to member i mod 3; 'leader': every connection to the leader. */
  spread: 'all' | 'leader';
  systems: ('kuorum' | 'etcd')[];
}

export function benchPlan(env: NodeJS.ProcessEnv): BenchPlan {
  const quick = /^(1|true|yes)$/i.test(env.BENCH_QUICK ?? '');
  const spread = env.BENCH_SPREAD ?? 'all';
  if (spread !== 'all' && spread !== 'leader') throw new Error(`BENCH_SPREAD must be all or leader, got ${JSON.stringify(spread)}`);
  const systems = (env.BENCH_SYSTEMS ?? 'kuorum,etcd').split(',').map((s) => s.trim());
  for (const s of systems) if (s !== 'kuorum' && s !== 'etcd') throw new Error(`BENCH_SYSTEMS lists kuorum and/or etcd, got ${JSON.stringify(s)}`);
  const num = (name: string, fallback: number): number => {
    const v = env[name];
    if (v === undefined || v === '') return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got ${JSON.stringify(v)}`);
    return n;
  };
  const conns = (name: string, fallback: number[]): number[] => {
    const v = env[name];
    if (v === undefined || v === '') return fallback;
    if (v === 'none') return [];
    const list = v.split(',').map((x) => Number(x.trim()));
    if (list.some((n) => !Number.isSafeInteger(n) || n <= 0)) throw new Error(`${name} must be a comma-separated list of connection counts or "none", got ${JSON.stringify(v)}`);
    return list;
  };
  const failoverRounds = env.BENCH_FAILOVER_ROUNDS === '0' ? 0 : num('BENCH_FAILOVER_ROUNDS', quick ? 1 : 5);
  return {
    quick,
    putConns: conns('BENCH_PUT_CONNS', [1, 16, 64, 256]),
    readConns: conns('BENCH_READ_CONNS', [1, 64, 256]),
    warmupSec: num('BENCH_WARMUP_SEC', quick ? 1 : 2),
    durationSec: num('BENCH_DURATION_SEC', quick ? 3 : 10),
    keys: 10_000,
    valueSize: 256,
    memoryKeys: num('BENCH_MEMORY_KEYS', quick ? 20_000 : 200_000),
    fillConns: 64,
    failoverRounds,
    failoverIntervalMs: 10,
    electionMs: 1000,
    heartbeatMs: 100,
    spread,
    systems: systems as ('kuorum' | 'etcd')[],
  };
}
