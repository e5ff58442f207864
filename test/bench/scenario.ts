/**
 * Everything measured on one system, in an order that keeps the numbers comparable: on a fresh
 * cluster first the memory load (so neither system's RSS carries the put workload's history),
 * then linearizable reads over the loaded keys, then puts, and failover last (it kills leaders).
 * run-bench takes each step on every system before the next step.
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

/**
 * The measurements of one system, taken one step at a time: run-bench interleaves the systems
 * step by step (each cell of one system next to the same cell of the other), so that a change
 * in how fast the machine is during the run (other virtual machines on the same host) falls on
 * both sides of each ratio instead of on whichever system ran during it.
 */
export class SystemScenario {
  readonly run: SystemRun = { cells: [], problems: [] };
  private readonly failoverRoundsMs: number[] = [];

  constructor(
    private readonly cluster: BenchCluster,
    private readonly plan: BenchPlan,
    private readonly loadgen: string,
    private readonly log: (line: string) => void,
  ) {}

  private get system(): BenchCluster['system'] {
    return this.cluster.system;
  }

  private get common(): { system: BenchCluster['system']; keys: number; valueSize: number } {
    return { system: this.system, keys: this.plan.keys, valueSize: this.plan.valueSize };
  }

  private async targets(): Promise<string[]> {
    const urls = this.cluster.urls();
    return this.plan.spread === 'all' ? urls : [urls[await this.cluster.leaderIndex()]!];
  }

  private problem(what: string): void {
    this.run.problems.push(what);
    this.log(`${this.system}: ${what}`);
  }

  /** Each step is measured on its own: one that fails is reported and the next one still runs. */
  private async phase(name: string, fn: () => Promise<void>): Promise<void> {
    try {
      await this.cluster.waitHealthy();
      await fn();
    } catch (err) {
      this.problem(`${name} not measured: ${(err as Error).message.split('\n')[0]}`);
    }
  }

  /** On the fresh cluster: load memoryKeys keys, then read each node's RSS. */
  memory(): Promise<void> {
    return this.phase('memory', async () => {
      const { plan, system } = this;
      this.log(`${system}: loading ${plan.memoryKeys} keys for the memory reading`);
      const fill = await runLoadgen(this.loadgen, { ...this.common, mode: 'fill', targets: await this.targets(), conns: plan.fillConns, keys: plan.memoryKeys });
      this.run.fill = fill;
      this.log(`${system}: loaded in ${fill.elapsedSec.toFixed(0)} s (${fill.throughputOps.toFixed(0)} puts/s, ${fill.retries} retries)`);
      if (fill.failed > 0) this.problem(`${fill.failed} of ${fill.keys} keys could not be written during the load, even after 20 s of retries each (${JSON.stringify(fill.errorKinds)})`);
      await sleep(2000); // let background work settle (snapshots, compaction) before reading RSS
      this.run.memory = memoryResult(plan.memoryKeys, this.cluster.pids().map((pid) => (pid === undefined ? NaN : rssMiB(pid))));
      this.log(`${system}: RSS per node ${this.run.memory.perNodeMiB.map((m) => m.toFixed(0)).join(', ')} MiB`);
    });
  }

  /** One closed-loop cell: throughput, latency, and the CPU the servers and the generator spent per operation. */
  cell(op: 'put' | 'get', conns: number): Promise<void> {
    return this.phase(`${op} ×${conns}`, async () => {
      const { cluster, plan, system } = this;
      const cpuBefore = totalCpuSeconds(cluster.pids());
      const threadsBefore = cpuSecondsByThreadKind(cluster.pids());
      const r = await runLoadgen(this.loadgen, { ...this.common, mode: 'closed', op, conns, targets: await this.targets(), durationSec: plan.durationSec, warmupSec: plan.warmupSec });
      // The servers' CPU per operation does not depend on how busy the machine is (the throughput does):
      // over warm-up + window, assuming the window's rate held during warm-up too.
      const cpuSec = totalCpuSeconds(cluster.pids()) - cpuBefore;
      const ops = Math.max(1, r.throughputOps * (plan.durationSec + plan.warmupSec));
      r.serverCpuUsPerOp = (cpuSec * 1e6) / ops;
      r.serverCpuUsPerOpByThread = perOpByKind(threadsBefore, cpuSecondsByThreadKind(cluster.pids()), ops);
      r.loadgenCpuUsPerOp = (r.cpuSec * 1e6) / ops;
      const split = Object.entries(r.serverCpuUsPerOpByThread).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ');
      this.log(`${system}: ${op} ×${conns}: ${r.throughputOps.toFixed(0)} ops/s, p50 ${r.latency.p50Ms.toFixed(2)} ms, p99 ${r.latency.p99Ms.toFixed(2)} ms, ${r.errors} errors, server CPU ${r.serverCpuUsPerOp.toFixed(0)} µs/op (${split}), load generator ${r.loadgenCpuUsPerOp.toFixed(0)} µs/op`);
      if (r.errors > 0) this.problem(`${op} ×${conns}: ${r.errors} errors (${JSON.stringify(r.errorKinds)})`);
      this.run.cells.push(r);
    });
  }

  /** One failover round; the result's median covers the rounds measured so far. */
  failoverRound(round: number): Promise<void> {
    return this.phase(`failover round ${round}`, async () => {
      this.failoverRoundsMs.push(await measureFailoverRound(this.cluster, this.plan, this.loadgen, round, this.log));
      this.run.failover = { roundsMs: [...this.failoverRoundsMs], medianMs: median(this.failoverRoundsMs) };
    });
  }
}

/** kill -9 the leader under a light open-loop write load; time from the kill to the first successful write. */
async function measureFailoverRound(cluster: BenchCluster, plan: BenchPlan, loadgen: string, round: number, log: (line: string) => void): Promise<number> {
  const before = 1.5;
  const after = Math.max(10, (plan.electionMs * 6) / 1000);
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
  await cluster.restart(leader);
  return ms;
}

/** µs per operation of each thread kind between two readings, largest first. */
function perOpByKind(before: Record<string, number>, after: Record<string, number>, ops: number): Record<string, number> {
  const rows = Object.keys(after).map((k) => [k, ((after[k]! - (before[k] ?? 0)) * 1e6) / ops] as const);
  return Object.fromEntries(rows.filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]));
}
