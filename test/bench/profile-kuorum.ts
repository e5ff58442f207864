/**
 * Profiles kuorum's hot path (not part of `make bench`): a 3-node cluster with `node --cpu-prof`,
 * the bench's put workload, then a graceful stop so every node writes its profile, and a summary
 * of where the CPU went on each node (the leader first).
 *
 *   make build && node dist/test/bench/profile-kuorum.js [conns=64] [seconds=20] [put|get]
 *
 * Profiles land in bench-results/profile-<timestamp>/ (open them in Chrome DevTools too).
 */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { benchPlan } from './bench-plan.js';
import { summarizeProfile, renderProfile, type CpuProfile } from './cpu-profile-summary.js';
import { startKuorumCluster } from './kuorum-cluster.js';
import { buildLoadgen, runLoadgen } from './loadgen-runner.js';
import { REPO } from './repo-root.js';

async function main(): Promise<void> {
  const conns = Number(process.argv[2] ?? 64);
  const seconds = Number(process.argv[3] ?? 20);
  const op = (process.argv[4] ?? 'put') as 'put' | 'get';
  const plan = benchPlan(process.env);
  const dir = path.join(REPO, 'bench-results', `profile-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  const loadgen = buildLoadgen();
  const cluster = await startKuorumCluster({ electionMs: plan.electionMs, heartbeatMs: plan.heartbeatMs, nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${dir}`] });
  let leaderPid: number | undefined;
  try {
    const common = { system: 'kuorum' as const, targets: cluster.urls(), keys: plan.keys, valueSize: plan.valueSize };
    if (op === 'get') await runLoadgen(loadgen, { ...common, mode: 'fill', conns: 64 });
    leaderPid = cluster.pids()[await cluster.leaderIndex()];
    const r = await runLoadgen(loadgen, { ...common, mode: 'closed', op, conns, durationSec: seconds, warmupSec: 2 });
    process.stdout.write(`${op} ×${conns}, ${seconds} s: ${r.throughputOps.toFixed(0)} ops/s, p50 ${r.latency.p50Ms.toFixed(2)} ms, p99 ${r.latency.p99Ms.toFixed(2)} ms, ${r.errors} errors\n`);
  } finally {
    await cluster.destroy(true);
  }
  mkdirSync(dir, { recursive: true });
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  // File names carry the pid: CPU.<date>.<time>.<pid>.<tid>.<seq>.cpuprofile
  files.sort((a, b) => Number(b.split('.')[3] === String(leaderPid)) - Number(a.split('.')[3] === String(leaderPid)));
  for (const f of files) {
    const role = f.split('.')[3] === String(leaderPid) ? 'leader' : 'follower';
    const profile = JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as CpuProfile;
    process.stdout.write(`\n${renderProfile(`${role} ${f}`, summarizeProfile(profile))}\n`);
  }
  process.stdout.write(`\nprofiles: ${path.relative(process.cwd(), dir)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`profile failed: ${(err as Error).stack ?? err}\n`);
  process.exitCode = 1;
});
