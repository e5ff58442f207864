/**
 * Profiles kuorum's hot path (not part of `make bench`): a 3-node cluster with `node --cpu-prof`,
 * optionally preloaded with keys, the bench's put (or read) workload, then a graceful stop so every
 * node writes its profile, and a summary of where the CPU went on each node (the leader first),
 * with the leader's fsync/apply counters and what the nodes logged about snapshots and elections.
 *
 *   make build && node dist/test/bench/profile-kuorum.js [conns=64] [seconds=20] [put|get] [prefillKeys=0]
 *
 * Profiles land in bench-results/profile-<timestamp>/ (they open in Chrome DevTools too).
 */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { benchPlan } from './bench-plan.js';
import { renderProfile, summarizeProfile, type CpuProfile } from './cpu-profile-summary.js';
import { startKuorumCluster } from './kuorum-cluster.js';
import { buildLoadgen, runLoadgen } from './loadgen-runner.js';
import { promValue } from './prom-text.js';
import { REPO } from './repo-root.js';

const COUNTERS = ['kuorum_fsync_duration_seconds_count', 'kuorum_fsync_duration_seconds_sum', 'kuorum_apply_duration_seconds_count', 'kuorum_apply_duration_seconds_sum', 'kuorum_proposals_committed_total'];

async function counters(url: string): Promise<number[]> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return COUNTERS.map((c) => promValue(text, c));
}

async function main(): Promise<void> {
  const conns = Number(process.argv[2] ?? 64);
  const seconds = Number(process.argv[3] ?? 20);
  const op = process.argv[4] ?? 'put';
  const prefill = Number(process.argv[5] ?? (op === 'get' ? 10_000 : 0));
  if (!(conns >= 1) || !(seconds > 0) || (op !== 'put' && op !== 'get') || !(prefill >= 0)) {
    throw new Error('usage: profile-kuorum.js [conns>=1] [seconds>0] [put|get] [prefillKeys>=0]');
  }
  const plan = benchPlan(process.env);
  const dir = path.join(REPO, 'bench-results', `profile-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  const loadgen = buildLoadgen();
  const cluster = await startKuorumCluster({ electionMs: plan.electionMs, heartbeatMs: plan.heartbeatMs, nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${dir}`], logLevel: 'info' });
  let leaderPid: number | undefined;
  let logs: string;
  try {
    const common = { system: 'kuorum' as const, targets: cluster.urls(), keys: plan.keys, valueSize: plan.valueSize };
    if (prefill > 0) {
      const f = await runLoadgen(loadgen, { ...common, mode: 'fill', conns: 64, keys: prefill });
      process.stdout.write(`prefill: ${prefill} keys in ${f.elapsedSec.toFixed(0)} s (${f.throughputOps.toFixed(0)}/s), ${f.retries} retries, ${f.failed} failed\n`);
      await cluster.waitHealthy();
    }
    const leader = await cluster.leaderIndex();
    leaderPid = cluster.pids()[leader];
    const leaderUrl = cluster.urls()[leader]!;
    const before = await counters(leaderUrl);
    const r = await runLoadgen(loadgen, { ...common, mode: 'closed', op, conns, durationSec: seconds, warmupSec: 2 });
    const [fsyncs, fsyncSec, applies, applySec, committed] = (await counters(leaderUrl)).map((v, i) => v - before[i]!) as [number, number, number, number, number];
    process.stdout.write(`${op} ×${conns}, ${seconds} s: ${r.throughputOps.toFixed(0)} ops/s, p50 ${r.latency.p50Ms.toFixed(2)} ms, p99 ${r.latency.p99Ms.toFixed(2)} ms, max ${r.latency.maxMs.toFixed(0)} ms, ${r.errors} errors ${JSON.stringify(r.errorKinds)}\n`);
    process.stdout.write(`leader during the run (warm-up included): ${fsyncs} fsynced saves, mean ${((fsyncSec / Math.max(1, fsyncs)) * 1000).toFixed(2)} ms; ${applies} applies, mean ${((applySec / Math.max(1, applies)) * 1000).toFixed(2)} ms; ${committed} own proposals committed (${(committed / Math.max(1, fsyncs)).toFixed(1)} per save)\n`);
  } finally {
    logs = cluster.logs(1_000_000);
    await cluster.destroy(true);
  }
  const lines = logs.split('\n');
  const count = (re: RegExp): number => lines.filter((l) => re.test(l)).length;
  process.stdout.write(`node logs: ${count(/created a snapshot/)} snapshots created, ${count(/stepping down/)} leader step-downs (no quorum heard), ${count(/"msg":"became leader|became leader/)} "became leader" lines\n`);
  mkdirSync(dir, { recursive: true });
  const pidOf = (f: string): string => f.split('.')[3] ?? '';
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  files.sort((a, b) => Number(pidOf(b) === String(leaderPid)) - Number(pidOf(a) === String(leaderPid)));
  for (const f of files) {
    const role = pidOf(f) === String(leaderPid) ? 'leader' : 'follower';
    const profile = JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as CpuProfile;
    process.stdout.write(`\n${renderProfile(`${role} ${f}`, summarizeProfile(profile))}\n`);
  }
  process.stdout.write(`\nprofiles: ${path.relative(process.cwd(), dir)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`profile failed: ${(err as Error).stack ?? err}\n`);
  process.exitCode = 1;
});
