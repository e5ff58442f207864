/**
 * `make bench`: kuorum against etcd, side by side, on 127.0.0.1 — one table on stdout and the
 * results as JSON in bench-results/<timestamp>.json. A measurement, not a test: it exits 0 even
 * when a target is missed (non-zero only when it could not measure at all).
 *
 *   BENCH_QUICK=1          a short run (a few seconds per cell, 20,000 keys for memory, 1 failover)
 *   BENCH_SPREAD=leader    every connection to the leader (default: spread over all members)
 *   BENCH_SYSTEMS=kuorum   run only one system
 *   KUORUM_ETCD_BIN=path   the etcd binary to compare with
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO } from './repo-root.js';
import type { BenchCluster, SystemName } from './bench-cluster.js';
import { benchPlan, type BenchPlan } from './bench-plan.js';
import { findEtcd } from './etcd-binary.js';
import { startEtcdCluster } from './etcd-cluster.js';
import { startKuorumCluster } from './kuorum-cluster.js';
import { buildLoadgen } from './loadgen-runner.js';
import { evaluateTargets, summaryLine, type Cell, type FailoverResult, type MemoryResult, type PerSystem } from './results.js';
import { SystemScenario, type SystemRun } from './scenario.js';
import { renderTable } from './table.js';

const log = (line: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
};

async function startCluster(system: SystemName, plan: BenchPlan, etcdBin: string | undefined): Promise<BenchCluster> {
  const timeouts = { electionMs: plan.electionMs, heartbeatMs: plan.heartbeatMs };
  return system === 'kuorum' ? startKuorumCluster(timeouts) : startEtcdCluster(etcdBin!, timeouts);
}

async function main(): Promise<void> {
  const plan = benchPlan(process.env);
  const started = new Date();
  log(`plan: ${plan.quick ? 'quick' : 'full'}; building the load generator`);
  const loadgen = buildLoadgen();
  const etcdBin = plan.systems.includes('etcd') ? findEtcd(log) : undefined;

  const runs: PerSystem<SystemRun> = {};
  const versions: PerSystem<string> = {};
  const failures: PerSystem<string> = {};
  const clusters: BenchCluster[] = [];
  const scenarios: SystemScenario[] = [];
  try {
    for (const system of plan.systems) {
      log(`${system}: starting 3 nodes`);
      try {
        const cluster = await startCluster(system, plan, etcdBin);
        clusters.push(cluster);
        versions[system] = cluster.version;
        const scenario = new SystemScenario(cluster, plan, loadgen, log);
        scenarios.push(scenario);
        runs[system] = scenario.run;
      } catch (err) {
        failures[system] = (err as Error).message;
        log(`${system}: FAILED: ${(err as Error).message}`);
      }
    }
    // Step by step, each on every system in turn (see SystemScenario).
    for (const s of scenarios) await s.memory();
    for (const c of plan.readConns) for (const s of scenarios) await s.cell('get', c);
    for (const c of plan.putConns) for (const s of scenarios) await s.cell('put', c);
    for (let round = 1; round <= plan.failoverRounds; round++) for (const s of scenarios) await s.failoverRound(round);
  } finally {
    for (const c of clusters) await c.destroy();
  }

  const cells: Cell[] = [];
  for (const [workload, conns] of [...plan.readConns.map((c) => ['get', c] as const), ...plan.putConns.map((c) => ['put', c] as const)]) {
    const results: Cell['results'] = {};
    for (const s of plan.systems) {
      const r = runs[s]?.cells.find((x) => x.op === workload && x.conns === conns);
      if (r) results[s] = r;
    }
    cells.push({ workload, conns, results });
  }
  const failover: PerSystem<FailoverResult> = {};
  const memory: PerSystem<MemoryResult> = {};
  for (const s of plan.systems) {
    if (runs[s]?.failover) failover[s] = runs[s].failover;
    if (runs[s]?.memory) memory[s] = runs[s].memory;
  }
  const problems = plan.systems.flatMap((s) => (runs[s]?.problems ?? []).map((p) => `!! ${s}: ${p}`));
  const targets = evaluateTargets({ cells, failover, memory });
  const summary = summaryLine(targets);

  const load = os.loadavg()[0]!.toFixed(1);
  const header = [
    `kuorum vs etcd — ${plan.quick ? 'QUICK run (BENCH_QUICK=1: short cells, fewer keys; numbers are indicative only)' : 'full run'}, ${started.toISOString()}`,
    `systems: ${versions.kuorum ?? 'kuorum (not run)'} vs ${versions.etcd ?? 'etcd (not run)'}; 3 nodes each on 127.0.0.1, fsync on every commit, election ${plan.electionMs} ms / heartbeat ${plan.heartbeatMs} ms`,
    `load: same Go closed-loop generator for both, HTTP/1.1 keep-alive, one client per connection, ${plan.spread === 'all' ? 'connections spread over all 3 members (a follower proposes through Raft)' : 'every connection to the leader'}; ${plan.warmupSec} s warm-up + ${plan.durationSec} s measured per cell; ${plan.valueSize}-byte values over ${plan.keys.toLocaleString('en-US')} keys`,
    `machine: ${os.cpus().length} CPUs, load average ${load} at the end (other work on the machine makes absolute numbers noisy; the ratios are from the same run)`,
  ];
  for (const [s, msg] of Object.entries(failures)) header.push(`!! ${s} could not be measured: ${msg.split('\n')[0]}`);
  process.stdout.write(`\n${renderTable({ header, cells, failover, memory, targets, summary })}\n`);
  if (problems.length > 0) process.stdout.write(`\n${problems.join('\n')}\n`);

  const dir = path.join(REPO, 'bench-results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${started.toISOString().replace(/[:.]/g, '-')}.json`);
  const fills = Object.fromEntries(Object.entries(runs).map(([s, r]) => [s, r.fill]));
  writeFileSync(file, `${JSON.stringify({ startedAt: started.toISOString(), finishedAt: new Date().toISOString(), machine: { cpus: os.cpus().length, loadAverage: os.loadavg() }, plan, versions, cells, fill: fills, memory, failover, problems, failures, targets, summary }, null, 2)}\n`);
  process.stdout.write(`results: ${path.relative(process.cwd(), file)}\n`);
  if (Object.keys(runs).length === 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  log(`bench failed: ${(err as Error).stack ?? err}`);
  process.exitCode = 1;
});
