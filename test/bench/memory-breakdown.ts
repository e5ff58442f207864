/**
 * Where a kuorum node's resident memory goes (not part of `make bench`): a 3-node cluster started
 * the way the bench starts it, loaded with the bench's memory workload (200,000 keys of 256-byte
 * values by default), then for each node its RSS split from /proc/<pid>/smaps (anonymous vs
 * file-backed; brk heap, anonymous mappings by size, the node binary, libraries, LevelDB addon)
 * and from its own /metrics the V8 heap (committed, used, per space) and external memory.
 *
 *   make build && node dist/test/bench/memory-breakdown.js [keys=200000]
 *
 * MEM_NODE_FLAGS="--flag …" adds Node flags to the node processes (on top of the runtime
 * settings every launch uses); environment variables such as MALLOC_ARENA_MAX pass through to
 * the nodes, so one setting can be compared with another.
 */
import { readFileSync } from 'node:fs';
import { sleep } from './bench-cluster.js';
import { benchPlan } from './bench-plan.js';
import { startKuorumCluster } from './kuorum-cluster.js';
import { buildLoadgen, runLoadgen } from './loadgen-runner.js';
import { smapsOf, type SmapsBreakdown } from './proc-smaps.js';

const MiB = (kib: number): string => (kib / 1024).toFixed(1).padStart(7);
const bytesMiB = (b: number): string => (b / 1048576).toFixed(1).padStart(7);

/** Samples of `name` in Prometheus text, by their label string ('' when unlabelled). */
function promSamples(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^(\w+)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (m && m[1] === name) out.set(m[2] ?? '', Number(m[3]));
  }
  return out;
}

function statusKiB(pid: number, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/** The Node flags (before the script) and malloc variables a process was started with. */
function launchSettings(pid: number): string {
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  const flags = argv.slice(1, argv.findIndex((a, i) => i > 0 && !a.startsWith('-')));
  const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter((v) => v.startsWith('MALLOC_'));
  return [...flags, ...env].join(' ') || '(none)';
}

interface NodeReading {
  name: string;
  launch: string;
  lastIndex: number;
  snapshotIndex: number;
  role: string;
  pid: number;
  hwmKiB: number;
  smaps: SmapsBreakdown;
  heapTotal: number;
  heapUsed: number;
  external: number;
  spaces: Map<string, number>;
}

function render(r: NodeReading): string {
  const s = r.smaps;
  const lines = [
    `${r.name} (${r.role}, pid ${r.pid}): RSS ${MiB(s.rssKiB).trim()} MiB (peak ${MiB(r.hwmKiB).trim()}) = anonymous ${MiB(s.anonKiB).trim()} + file-backed ${MiB(s.fileKiB).trim()}`,
    `  launched with: ${r.launch}`,
    `  Raft log: last index ${r.lastIndex}, snapshot at ${r.snapshotIndex}: ~${r.lastIndex - Math.max(0, r.snapshotIndex - 5000)} entries in the in-memory mirror (default --snapshot-catchup-entries)`,
    `  V8 heap committed ${bytesMiB(r.heapTotal)} MiB, used ${bytesMiB(r.heapUsed)} MiB; external (Buffers, ArrayBuffers) ${bytesMiB(r.external)} MiB`,
    `  anonymous not V8 heap (malloc, LevelDB, gRPC, code) ≈ ${MiB(s.anonKiB - r.heapTotal / 1024)} MiB`,
    '  by mapping:',
    ...Object.entries(s.groups).filter(([, kib]) => kib >= 256).sort((a, b) => b[1] - a[1]).map(([g, kib]) => `    ${MiB(kib)} MiB  ${g}`),
    '  anonymous mappings by size:',
    ...Object.entries(s.anonBySize).sort((a, b) => b[1].rssKiB - a[1].rssKiB).map(([c, v]) => `    ${MiB(v.rssKiB)} MiB  ${String(v.count).padStart(4)} × ${c}`),
    '  V8 heap spaces used:',
    ...[...r.spaces].filter(([, b]) => b >= 1048576).sort((a, b) => b[1] - a[1]).map(([space, b]) => `    ${bytesMiB(b)} MiB  ${/space="(\w+)"/.exec(space)?.[1] ?? space}`),
  ];
  return lines.join('\n');
}

async function main(): Promise<void> {
  const keys = Number(process.argv[2] ?? 200_000);
  if (!(keys > 0)) throw new Error('usage: memory-breakdown.js [keys>0]');
  const plan = benchPlan(process.env);
  const loadgen = buildLoadgen();
  const nodeFlags = (process.env.MEM_NODE_FLAGS ?? '').split(/\s+/).filter((f) => f !== '');
  const cluster = await startKuorumCluster({ electionMs: plan.electionMs, heartbeatMs: plan.heartbeatMs, nodeFlags });
  try {
    const fill = await runLoadgen(loadgen, { system: 'kuorum', mode: 'fill', targets: cluster.urls(), conns: plan.fillConns, keys, valueSize: plan.valueSize });
    process.stdout.write(`loaded ${keys} keys of ${plan.valueSize} bytes in ${fill.elapsedSec.toFixed(0)} s (${fill.retries} retries, ${fill.failed} failed)\n`);
    await sleep(2000); // as the bench does before reading RSS
    const readings: NodeReading[] = [];
    for (const [i, url] of cluster.urls().entries()) {
      const pid = cluster.pids()[i];
      if (pid === undefined) continue;
      const metrics = await (await fetch(`${url}/metrics`)).text();
      const status = (await (await fetch(`${url}/v1/status`)).json()) as { role: string; lastIndex: number; snapshotIndex: number };
      const one = (n: string): number => promSamples(metrics, n).get('') ?? NaN;
      readings.push({
        name: `n${i + 1}`, role: status.role, pid, launch: launchSettings(pid), lastIndex: status.lastIndex, snapshotIndex: status.snapshotIndex, hwmKiB: statusKiB(pid, 'VmHWM'), smaps: smapsOf(pid),
        heapTotal: one('kuorum_process_nodejs_heap_size_total_bytes'), heapUsed: one('kuorum_process_nodejs_heap_size_used_bytes'),
        external: one('kuorum_process_nodejs_external_memory_bytes'), spaces: promSamples(metrics, 'kuorum_process_nodejs_heap_space_size_used_bytes'),
      });
    }
    for (const r of readings) process.stdout.write(`\n${render(r)}\n`);
    const max = Math.max(...readings.map((r) => r.smaps.rssKiB));
    process.stdout.write(`\nmax node RSS ${MiB(max).trim()} MiB, sum ${MiB(readings.reduce((s, r) => s + r.smaps.rssKiB, 0)).trim()} MiB\n`);
  } finally {
    await cluster.destroy();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`memory-breakdown failed: ${(err as Error).stack ?? err}\n`);
  process.exitCode = 1;
});
