import { describe, expect, it } from 'vitest';
import { evaluateTargets, memoryResult, summaryLine, type Cell, type ClosedResult } from '../../bench/results.js';
import { renderTable } from '../../bench/table.js';

function result(system: 'kuorum' | 'etcd', ops: number, errors = 0): ClosedResult {
  return {
    mode: 'closed', system, op: 'put', conns: 64, targets: [], windowSec: 10, ok: ops * 10, errors, errorKinds: errors ? { 'http-503': errors } : {}, throughputOps: ops, cpuSec: 1,
    latency: { count: ops * 10, meanMs: 5, p50Ms: 4, p90Ms: 8, p99Ms: 10, p999Ms: 12, maxMs: 15 },
  };
}

describe('the bench table', () => {
  it('shows both systems side by side with the ratio and each target verdict', () => {
    const cells: Cell[] = [{ workload: 'put', conns: 64, results: { kuorum: result('kuorum', 3000, 2), etcd: result('etcd', 1000) } }];
    const memory = { kuorum: memoryResult(200_000, [80, 90, 85]), etcd: memoryResult(200_000, [70, 71, 72]) };
    const targets = evaluateTargets({ cells, failover: {}, memory });
    const text = renderTable({ header: ['HEADER'], cells, failover: {}, memory, targets, summary: summaryLine(targets) });
    const row = text.split('\n').find((l) => l.startsWith('put 256 B'))!;
    expect(row).toContain('3,000!');
    expect(row).toContain('1,000');
    expect(row).toContain('3.00×');
    expect(row).toContain('met (put throughput at 64 conns ≥ 2× etcd)');
    expect(row).toContain('met (put p99 at 64 conns ≤ etcd)');
    expect(text).toContain('kuorum max 90 MiB, sum 255 MiB');
    expect(text).toContain('MISSED (resident memory (max per node) ≤ etcd)');
    expect(text).toContain('kuorum not measured');
    expect(text.trimEnd().split('\n').at(-1)).toMatch(/^bench summary: 2\/8 targets met; missed: memory; not measured: /);
  });
});
