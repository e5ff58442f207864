/**
 * Everything measured on one system, in an order that keeps the numbers comparable: on a fresh
 * cluster first the memory load (so neither system's RSS carries the put workload's history),
 * then linearizable reads over the loaded keys, then puts, and failover last (it kills leaders).
 */
import type { BenchCluster } from './bench-cluster.js';
import { sleep } from './bench-cluster.js';
import type { BenchPlan } from './bench-plan.js';
import { runLoadgen } from './loadgen-runner.js';
import { cpuSecondsByThreadKind, totalCpuSeconds } from './proc-cpu.js';
import { rssMiB } from './proc-rss.js';
import { failoverMs, median, memoryResult, type ClosedResult, type FailoverResult, type FillResult, type MemoryResult } from './results.js';

export interface SystemRun {
  cells: ClosedResult[];
  fill?: FillResult;
  memory?: MemoryResult;
  failover?: FailoverResult;
  /** What could not be measured, or went wrong while measuring, in words (shown under the table). */
  problems: string[];
}

export async function runSystem(cluster: BenchCluster, plan: BenchPlan, loadgen: string, log: (line: string) => void): Promise<SystemRun> {
  const system = cluster.system;
  const targets = async (): Promise<string[]> => (plan.spread === 'all' ? cluster.urls() : [cluster.urls()[await cluster.leaderIndex()]!]);
  const common = { system, keys: plan.keys, valueSize: plan.valueSize };
  const run: SystemRun = { cells: [], problems: [] };
  const problem = (what: string): void => {
    run.problems.push(what);
    log(`${system}: ${what}`);
  };
  // Each phase is measured on its own: one that fails is reported and the next one still runs.
  const phase = async (name: string, fn: () => Promise<void>): Promise<void> => {
    try {
      await cluster.waitHealthy();
      await fn();
    } catch (err) {
      problem(`${name} not measured: ${(err as Error).message.split('\n')[0]}`);
    }
  };

  await phase('memory', async () => {
    log(`${system}: loading ${plan.memoryKeys} keys for the memory reading`);
    const fill = await runLoadgen(loadgen, { ...common, mode: 'fill', targets: await targets(), conns: plan.fillConns, keys: plan.memoryKeys });
    run.fill = fill;
    log(`${system}: loaded in ${fill.elapsedSec.toFixed(0)} s (${fill.throughputOps.toFixed(0)} puts/s, ${fill.retries} retries)`);
    if (fill.failed > 0) problem(`${fill.failed} of ${fill.keys} keys could not be written during the load, even after 20 s of retries each (${JSON.stringify(fill.errorKinds)})`);
    await sleep(2000); // let background work settle (snapshots, compaction) before reading RSS
    run.memory = memoryResult(plan.memoryKeys, cluster.pids().map((pid) => (pid === undefined ? NaN : rssMiB(pid))));
    log(`${system}: RSS per node ${run.memory.perNodeMiB.map((m) => m.toFixed(0)).join(', ')} MiB`);
  });

  const closed = async (op: 'put' | 'get', conns: number): Promise<void> => {
    await phase(`${op} ×${conns}`, async () => {
      const cpuBefore = totalCpuSeconds(cluster.pids());
      const threadsBefore = cpuSecondsByThreadKind(cluster.pids());
      const r = await runLoadgen(loadgen, { ...common, mode: 'closed', op, conns, targets: await targets(), durationSec: plan.durationSec, warmupSec: plan.warmupSec });
      // The servers' CPU per operation does not depend on how busy the machine is (the throughput does):
      // over warm-up + window, assuming the window's rate held during warm-up too.
      const cpuSec = totalCpuSeconds(cluster.pids()) - cpuBefore;
      const ops = Math.max(1, r.throughputOps * (plan.durationSec + plan.warmupSec));
      r.serverCpuUsPerOp = (cpuSec * 1e6) / ops;
      r.serverCpuUsPerOpByThread = perOpByKind(threadsBefore, cpuSecondsByThreadKind(cluster.pids()), ops);
      r.loadgenCpuUsPerOp = (r.cpuSec * 1e6) / ops;
      const split = Object.entries(r.serverCpuUsPerOpByThread).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ');
      log(`${system}: ${op} ×${conns}: ${r.throughputOps.toFixed(0)} ops/s, p50 ${r.latency.p50Ms.toFixed(2)} ms, p99 ${r.latency.p99Ms.toFixed(2)} ms, ${r.errors} errors, server CPU ${r.serverCpuUsPerOp.toFixed(0)} µs/op (${split}), load generator ${r.loadgenCpuUsPerOp.toFixed(0)} µs/op`);
      if (r.errors > 0) problem(`${op} ×${conns}: ${r.errors} errors (${JSON.stringify(r.errorKinds)})`);
      run.cells.push(r);
    });
  };
  for (const c of plan.readConns) await closed('get', c);
  for (const c of plan.putConns) await closed('put', c);

  if (plan.failoverRounds > 0) {
    await phase('failover', async () => {
      run.failover = await measureFailover(cluster, plan, loadgen, log);
    });
  }
  return run;
}

/** kill -9 the leader under a light open-loop write load; time from the kill to the first successful write. */
async function measureFailover(cluster: BenchCluster, plan: BenchPlan, loadgen: string, log: (line: string) => void): Promise<FailoverResult> {
  const roundsMs: number[] = [];
  const before = 1.5;
  const after = Math.max(10, (plan.electionMs * 6) / 1000);
  for (let round = 1; round <= plan.failoverRounds; round++) {
    await cluster.waitHealthy();
    const leader = await cluster.leaderIndex();
    const probing = runLoadgen(loadgen, {
      system: cluster.system, mode: 'probe', targets: cluster.urls(), intervalMs: plan.failoverIntervalMs,
      durationSec: before + after, timeoutSec: 3, keys: plan.keys, valueSize: plan.valueSize,
    });
    await sleep(before * 1000);
    const killMs = performance.timeOrigin + performance.now();
    await cluster.kill(leader);
    const probes = (await probing).probes ?? [];
    const ms = failoverMs(probes, killMs);
    log(`${cluster.system}: failover round ${round}: ${ms.toFixed(0)} ms (killed member ${leader + 1})`);
    roundsMs.push(ms);
    await cluster.restart(leader);
  }
  return { roundsMs, medianMs: median(roundsMs) };
}

/** µs per operation of each thread kind between two readings, largest first. */
function perOpByKind(before: Record<string, number>, after: Record<string, number>, ops: number): Record<string, number> {
  const rows = Object.keys(after).map((k) => [k, ((after[k]! - (before[k] ?? 0)) * 1e6) / ops] as const);
  return Object.fromEntries(rows.filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]));
}
