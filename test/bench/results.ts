/**
 * The bench's result model and its arithmetic: ratios kuorum/etcd, failover from probe timelines,
 * memory aggregation, and the targets of issue 6 marked met or missed. Pure, so it is unit-tested.
 */
import type { SystemName } from './bench-cluster.js';

export interface LatencySummary {
  count: number;
  meanMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

export interface ClosedResult {
  mode: 'closed';
  system: SystemName;
  op: 'put' | 'get';
  conns: number;
  targets: string[];
  windowSec: number;
  ok: number;
  errors: number;
  errorKinds: Record<string, number>;
  throughputOps: number;
  latency: LatencySummary;
  /** CPU time of all the system's server processes per operation, in µs (set by the scenario). */
  serverCpuUsPerOp?: number;
  /** The same split by thread kind (main, V8 workers, libuv pool, other; see proc-cpu.ts). */
  serverCpuUsPerOpByThread?: Record<string, number>;
  /** The load generator's own CPU time over its run (it shares the machine with the servers). */
  cpuSec: number;
  /** cpuSec per operation, in µs (set by the scenario, over warm-up + window like the servers'). */
  loadgenCpuUsPerOp?: number;
}

export interface FillResult {
  mode: 'fill';
  system: SystemName;
  keys: number;
  conns: number;
  elapsedSec: number;
  throughputOps: number;
  failed: number;
  retries: number;
  errorKinds: Record<string, number>;
}

export interface Probe {
  startMs: number;
  endMs: number;
  ok: boolean;
  target: number;
  error?: string;
}

export interface ProbeResult {
  mode: 'probe';
  system: SystemName;
  intervalMs: number;
  targets: string[];
  probes: Probe[] | null;
}

export type PerSystem<T> = Partial<Record<SystemName, T>>;

export interface Cell {
  workload: 'put' | 'get';
  conns: number;
  results: PerSystem<ClosedResult>;
}

export interface MemoryResult {
  keys: number;
  perNodeMiB: number[];
  maxMiB: number;
  sumMiB: number;
}

export interface FailoverResult {
  roundsMs: number[];
  medianMs: number;
}

/**
 * Milliseconds from the kill to the end of the first successful write that was sent after the
 * kill. Writes already in flight at the kill are ignored: they might have committed before it.
 */
export function failoverMs(probes: Probe[], killMs: number): number {
  const before = probes.filter((p) => p.ok && p.endMs <= killMs).length;
  if (before === 0) throw new Error('no write succeeded before the kill: the failover load never worked');
  let first = Infinity;
  for (const p of probes) if (p.ok && p.startMs >= killMs) first = Math.min(first, p.endMs);
  if (first === Infinity) throw new Error('no write succeeded after the kill within the probe window');
  return first - killMs;
}

export function median(xs: number[]): number {
  if (xs.length === 0) throw new Error('median of nothing');
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function memoryResult(keys: number, perNodeMiB: number[]): MemoryResult {
  return { keys, perNodeMiB, maxMiB: Math.max(...perNodeMiB), sumMiB: perNodeMiB.reduce((a, b) => a + b, 0) };
}

/** kuorum / etcd; undefined when either is missing or etcd's is zero. */
export function ratio(kuorum: number | undefined, etcd: number | undefined): number | undefined {
  if (kuorum === undefined || etcd === undefined || !Number.isFinite(kuorum) || !Number.isFinite(etcd) || etcd === 0) return undefined;
  return kuorum / etcd;
}

export type Verdict = 'met' | 'missed' | 'n/a';

export interface TargetResult {
  id: string;
  description: string;
  kuorum?: number;
  etcd?: number;
  unit: string;
  ratio?: number;
  verdict: Verdict;
}

interface TargetSpec {
  id: string;
  description: string;
  unit: string;
  /** The ratio kuorum/etcd must be at least `atLeast`, or at most `atMost`. */
  atLeast?: number;
  atMost?: number;
  pick: (r: BenchNumbers) => [number | undefined, number | undefined];
}

/** The measured numbers the targets look at. */
export interface BenchNumbers {
  cells: Cell[];
  failover: PerSystem<FailoverResult>;
  memory: PerSystem<MemoryResult>;
}

/** A cell's value for one system, or undefined when that cell did not run or had no successes. */
function cellValue(r: BenchNumbers, workload: 'put' | 'get', conns: number, system: SystemName, f: (c: ClosedResult) => number): number | undefined {
  const res = r.cells.find((c) => c.workload === workload && c.conns === conns)?.results[system];
  if (!res || res.ok === 0) return undefined;
  return f(res);
}

function both(r: BenchNumbers, workload: 'put' | 'get', conns: number, f: (c: ClosedResult) => number): [number | undefined, number | undefined] {
  return [cellValue(r, workload, conns, 'kuorum', f), cellValue(r, workload, conns, 'etcd', f)];
}

const tput = (c: ClosedResult): number => c.throughputOps;

export const TARGETS: TargetSpec[] = [
  { id: 'put-throughput-64', description: 'put throughput at 64 conns ≥ 2× etcd', unit: 'ops/s', atLeast: 2, pick: (r) => both(r, 'put', 64, tput) },
  { id: 'put-throughput-256', description: 'put throughput at 256 conns ≥ 2× etcd', unit: 'ops/s', atLeast: 2, pick: (r) => both(r, 'put', 256, tput) },
  { id: 'put-p99-64', description: 'put p99 at 64 conns ≤ etcd', unit: 'ms', atMost: 1, pick: (r) => both(r, 'put', 64, (c) => c.latency.p99Ms) },
  { id: 'put-p50-1', description: 'put p50 at 1 conn ≤ etcd', unit: 'ms', atMost: 1, pick: (r) => both(r, 'put', 1, (c) => c.latency.p50Ms) },
  { id: 'get-throughput-64', description: 'linearizable read throughput at 64 conns ≥ 2× etcd', unit: 'ops/s', atLeast: 2, pick: (r) => both(r, 'get', 64, tput) },
  { id: 'get-throughput-256', description: 'linearizable read throughput at 256 conns ≥ 2× etcd', unit: 'ops/s', atLeast: 2, pick: (r) => both(r, 'get', 256, tput) },
  { id: 'failover', description: 'failover (median) ≤ etcd', unit: 'ms', atMost: 1, pick: (r) => [r.failover.kuorum?.medianMs, r.failover.etcd?.medianMs] },
  { id: 'memory', description: 'resident memory (max per node) ≤ etcd', unit: 'MiB', atMost: 1, pick: (r) => [r.memory.kuorum?.maxMiB, r.memory.etcd?.maxMiB] },
];

export function evaluateTargets(r: BenchNumbers, specs: TargetSpec[] = TARGETS): TargetResult[] {
  return specs.map((t) => {
    const [kuorum, etcd] = t.pick(r);
    const q = ratio(kuorum, etcd);
    let verdict: Verdict = 'n/a';
    if (q !== undefined) {
      const ok = (t.atLeast === undefined || q >= t.atLeast) && (t.atMost === undefined || q <= t.atMost);
      verdict = ok ? 'met' : 'missed';
    }
    return { id: t.id, description: t.description, kuorum, etcd, unit: t.unit, ratio: q, verdict };
  });
}

/** One line a reader can grep: how many targets were met, and which were not. */
export function summaryLine(targets: TargetResult[]): string {
  const met = targets.filter((t) => t.verdict === 'met').length;
  const missed = targets.filter((t) => t.verdict === 'missed').map((t) => t.id);
  const na = targets.filter((t) => t.verdict === 'n/a').map((t) => t.id);
  let line = `bench summary: ${met}/${targets.length} targets met`;
  if (missed.length) line += `; missed: ${missed.join(', ')}`;
  if (na.length) line += `; not measured: ${na.join(', ')}`;
  return line;
}
