import { describe, expect, it } from 'vitest';
import { evaluateTargets, failoverMs, median, memoryResult, ratio, summaryLine, type BenchNumbers, type ClosedResult, type Probe } from '../../bench/results.js';

function cell(system: 'kuorum' | 'etcd', op: 'put' | 'get', conns: number, ops: number, p50: number, p99: number, ok = 1000): ClosedResult {
  return {
    mode: 'closed', system, op, conns, targets: [], windowSec: 10, ok, errors: 0, errorKinds: {}, throughputOps: ops, cpuSec: 1,
    latency: { count: ok, meanMs: p50, p50Ms: p50, p90Ms: p99, p99Ms: p99, p999Ms: p99, maxMs: p99 },
  };
}

function numbers(k: { put64: number; put256: number; p99: number; p50: number; get64: number; get256: number }, failover: [number, number], mem: [number, number]): BenchNumbers {
  const e = { put64: 1000, put256: 1000, p99: 10, p50: 2, get64: 1000, get256: 1000 };
  const cells = (['kuorum', 'etcd'] as const).flatMap((s) => {
    const v = s === 'kuorum' ? k : e;
    return [cell(s, 'put', 1, 100, v.p50, 5), cell(s, 'put', 64, v.put64, 5, v.p99), cell(s, 'put', 256, v.put256, 5, 20), cell(s, 'get', 64, v.get64, 1, 2), cell(s, 'get', 256, v.get256, 1, 2)];
  });
  const byCell = new Map<string, BenchNumbers['cells'][number]>();
  for (const c of cells) {
    const key = `${c.op}:${c.conns}`;
    const entry = byCell.get(key) ?? { workload: c.op, conns: c.conns, results: {} };
    entry.results[c.system] = c;
    byCell.set(key, entry);
  }
  return {
    cells: [...byCell.values()],
    failover: { kuorum: { roundsMs: [failover[0]], medianMs: failover[0] }, etcd: { roundsMs: [failover[1]], medianMs: failover[1] } },
    memory: { kuorum: memoryResult(200_000, [mem[0]]), etcd: memoryResult(200_000, [mem[1]]) },
  };
}

describe('ratio', () => {
  it('is kuorum over etcd, and undefined when a side is missing or etcd is zero', () => {
    expect(ratio(300, 100)).toBe(3);
    expect(ratio(undefined, 100)).toBeUndefined();
    expect(ratio(1, 0)).toBeUndefined();
    expect(ratio(NaN, 1)).toBeUndefined();
  });
});

describe('targets', () => {
  it('are all met when kuorum is twice as fast, no slower in latency, fails over as fast and uses less memory', () => {
    const t = evaluateTargets(numbers({ put64: 2000, put256: 2500, p99: 10, p50: 2, get64: 2000, get256: 3000 }, [900, 1000], [50, 60]));
    expect(t.map((x) => x.verdict)).toEqual(Array(8).fill('met'));
    expect(summaryLine(t)).toBe('bench summary: 8/8 targets met');
  });

  it('marks each target that is just missed, and names it in the summary', () => {
    const t = evaluateTargets(numbers({ put64: 1999, put256: 2000, p99: 10.01, p50: 2, get64: 2000, get256: 1000 }, [1001, 1000], [60, 60]));
    const verdicts = Object.fromEntries(t.map((x) => [x.id, x.verdict]));
    expect(verdicts).toEqual({
      'put-throughput-64': 'missed', 'put-throughput-256': 'met', 'put-p99-64': 'missed', 'put-p50-1': 'met',
      'get-throughput-64': 'met', 'get-throughput-256': 'missed', failover: 'missed', memory: 'met',
    });
    expect(summaryLine(t)).toBe('bench summary: 4/8 targets met; missed: put-throughput-64, put-p99-64, get-throughput-256, failover');
    expect(t.find((x) => x.id === 'put-throughput-64')!.ratio).toBeCloseTo(1.999);
  });

  it('are not measured when one system has no successful request in the cell', () => {
    const r = numbers({ put64: 2000, put256: 2500, p99: 10, p50: 2, get64: 2000, get256: 3000 }, [900, 1000], [50, 60]);
    r.cells.find((c) => c.workload === 'put' && c.conns === 64)!.results.etcd!.ok = 0;
    delete r.failover.etcd;
    const t = evaluateTargets(r);
    expect(t.filter((x) => x.verdict === 'n/a').map((x) => x.id)).toEqual(['put-throughput-64', 'put-p99-64', 'failover']);
    expect(summaryLine(t)).toContain('not measured: put-throughput-64, put-p99-64, failover');
  });
});

describe('failoverMs', () => {
  const probe = (startMs: number, endMs: number, ok: boolean): Probe => ({ startMs, endMs, ok, target: 0 });

  it('times from the kill to the end of the first successful write sent after it', () => {
    const probes = [probe(900, 905, true), probe(990, 1800, true), probe(1010, 1020, false), probe(1500, 1650, true), probe(1400, 1700, true)];
    expect(failoverMs(probes, 1000)).toBe(650);
  });

  it('refuses a timeline with no success before the kill, or none after it', () => {
    expect(() => failoverMs([probe(1100, 1200, true)], 1000)).toThrow(/before the kill/);
    expect(() => failoverMs([probe(900, 950, true), probe(1100, 1200, false)], 1000)).toThrow(/after the kill/);
  });
});

describe('median and memory', () => {
  it('takes the middle value, or the mean of the two middle ones', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(() => median([])).toThrow();
  });

  it('reports both the largest node and the sum', () => {
    expect(memoryResult(10, [100, 300, 200])).toEqual({ keys: 10, perNodeMiB: [100, 300, 200], maxMiB: 300, sumMiB: 600 });
  });
});
