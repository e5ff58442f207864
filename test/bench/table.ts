/** The one side-by-side table `make bench` prints. Pure text formatting. */
import type { Cell, ClosedResult, FailoverResult, MemoryResult, PerSystem, TargetResult } from './results.js';
import { ratio } from './results.js';

const pad = (s: string, n: number): string => (s.length >= n ? s : ' '.repeat(n - s.length) + s);
const padEnd = (s: string, n: number): string => (s.length >= n ? s : s + ' '.repeat(n - s.length));

function num(x: number | undefined, digits = 0): string {
  if (x === undefined || !Number.isFinite(x)) return '—';
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function ratioText(q: number | undefined): string {
  return q === undefined ? '—' : `${q.toFixed(2)}×`;
}

function verdictMark(targets: TargetResult[], id: string): string {
  const t = targets.find((x) => x.id === id);
  if (!t) return '';
  return t.verdict === 'met' ? `met (${t.description})` : t.verdict === 'missed' ? `MISSED (${t.description})` : `n/a (${t.description})`;
}

function systemCols(r: ClosedResult | undefined): string[] {
  if (!r || r.ok === 0) return [pad('—', 9), pad('—', 8), pad('—', 8)];
  const err = r.errors > 0 ? `!` : '';
  return [pad(num(r.throughputOps) + err, 9), pad(num(r.latency.p50Ms, 2), 8), pad(num(r.latency.p99Ms, 2), 8)];
}

const CELL_TARGETS: Record<string, string[]> = {
  'put:1': ['put-p50-1'],
  'put:64': ['put-throughput-64', 'put-p99-64'],
  'put:256': ['put-throughput-256'],
  'get:64': ['get-throughput-64'],
  'get:256': ['get-throughput-256'],
};

export interface TableInput {
  header: string[];
  cells: Cell[];
  failover: PerSystem<FailoverResult>;
  memory: PerSystem<MemoryResult>;
  targets: TargetResult[];
  summary: string;
}

export function renderTable(t: TableInput): string {
  const lines = [...t.header, ''];
  const head = `${padEnd('workload', 18)} ${pad('conns', 5)} | ${pad('kuorum/s', 9)} ${pad('p50 ms', 8)} ${pad('p99 ms', 8)} | ${pad('etcd/s', 9)} ${pad('p50 ms', 8)} ${pad('p99 ms', 8)} | ${pad('tput k/e', 8)} ${pad('p50 k/e', 8)} ${pad('p99 k/e', 8)} | target`;
  lines.push(head, '-'.repeat(head.length + 20));
  for (const c of t.cells) {
    const k = c.results.kuorum;
    const e = c.results.etcd;
    const ok = (r?: ClosedResult): boolean => !!r && r.ok > 0;
    const q = (f: (r: ClosedResult) => number): string => ratioText(ok(k) && ok(e) ? ratio(f(k!), f(e!)) : undefined);
    const marks = (CELL_TARGETS[`${c.workload}:${c.conns}`] ?? []).map((id) => verdictMark(t.targets, id)).join('; ');
    const name = c.workload === 'put' ? 'put 256 B' : 'linearizable get';
    lines.push(
      `${padEnd(name, 18)} ${pad(String(c.conns), 5)} | ${systemCols(k).join(' ')} | ${systemCols(e).join(' ')} | ${pad(q((r) => r.throughputOps), 8)} ${pad(q((r) => r.latency.p50Ms), 8)} ${pad(q((r) => r.latency.p99Ms), 8)} | ${marks}`,
    );
  }
  lines.push('');
  const fo = (f?: FailoverResult): string => (f ? `${num(f.medianMs)} ms (${f.roundsMs.map((x) => num(x)).join(', ')})` : 'not measured');
  lines.push(`failover (kill -9 leader → first write)   kuorum ${fo(t.failover.kuorum)}   etcd ${fo(t.failover.etcd)}   k/e ${ratioText(ratio(t.failover.kuorum?.medianMs, t.failover.etcd?.medianMs))}   ${verdictMark(t.targets, 'failover')}`);
  const mem = (m?: MemoryResult): string => (m ? `max ${num(m.maxMiB)} MiB, sum ${num(m.sumMiB)} MiB` : 'not measured');
  const keys = t.memory.kuorum?.keys ?? t.memory.etcd?.keys;
  lines.push(`memory RSS after ${num(keys)} keys          kuorum ${mem(t.memory.kuorum)}   etcd ${mem(t.memory.etcd)}   k/e ${ratioText(ratio(t.memory.kuorum?.maxMiB, t.memory.etcd?.maxMiB))} (max)   ${verdictMark(t.targets, 'memory')}`);
  lines.push('', '"!" after a throughput: that cell had errors (see the JSON for their kinds).', '', t.summary);
  return lines.join('\n');
}
