import { describe, expect, it } from 'vitest';
import { benchPlan } from '../../bench/bench-plan.js';
import { areaOf, summarizeProfile, type CpuProfile } from '../../bench/cpu-profile-summary.js';
import { loadgenFlags } from '../../bench/loadgen-runner.js';
import { parseCpuSeconds } from '../../bench/proc-cpu.js';
import { parseVmRssMiB } from '../../bench/proc-rss.js';
import { promValue } from '../../bench/prom-text.js';

describe('bench plan', () => {
  it('runs the issue-6 cells by default and a short version with BENCH_QUICK=1', () => {
    const full = benchPlan({});
    expect(full).toMatchObject({ putConns: [1, 16, 64, 256], readConns: [1, 64, 256], keys: 10_000, valueSize: 256, memoryKeys: 200_000, electionMs: 1000, heartbeatMs: 100, spread: 'all', systems: ['kuorum', 'etcd'] });
    const quick = benchPlan({ BENCH_QUICK: '1' });
    expect(quick.quick).toBe(true);
    expect(quick.durationSec).toBeLessThan(full.durationSec);
  });

  it('rejects bad settings with a clear message', () => {
    expect(() => benchPlan({ BENCH_SPREAD: 'random' })).toThrow(/BENCH_SPREAD must be all or leader/);
    expect(() => benchPlan({ BENCH_SYSTEMS: 'kuorum,consul' })).toThrow(/BENCH_SYSTEMS/);
    expect(() => benchPlan({ BENCH_DURATION_SEC: '-3' })).toThrow(/BENCH_DURATION_SEC must be a positive number/);
  });
});

describe('loadgen flags', () => {
  it('passes every setting, durations in Go syntax', () => {
    expect(loadgenFlags({ mode: 'closed', system: 'etcd', targets: ['http://127.0.0.1:1', 'http://127.0.0.1:2'], op: 'get', conns: 64, durationSec: 10, warmupSec: 2, keys: 10000, valueSize: 256 })).toEqual([
      '-mode=closed', '-system=etcd', '-targets=http://127.0.0.1:1,http://127.0.0.1:2', '-keys=10000', '-value-size=256', '-op=get', '-conns=64', '-duration=10s', '-warmup=2s',
    ]);
  });
});

describe('VmRSS', () => {
  it('is read in MiB from /proc/<pid>/status text', () => {
    expect(parseVmRssMiB('Name:\tnode\nVmHWM:\t  999 kB\nVmRSS:\t  204800 kB\nThreads:\t7\n')).toBe(200);
    expect(() => parseVmRssMiB('Name:\tnode\n')).toThrow(/VmRSS/);
  });
});

describe('process CPU time', () => {
  it('adds utime and stime from /proc/<pid>/stat, even when the command name holds spaces and parentheses', () => {
    const stat = '4242 (node (x) y) S 1 4242 4242 0 -1 4194560 2000 0 0 0 1234 566 0 0 20 0 11 0 100 0 0';
    expect(parseCpuSeconds(stat)).toBeCloseTo(18);
    expect(() => parseCpuSeconds('4242 (node) S')).toThrow(/unreadable/);
  });
});

describe('cpu profile summary', () => {
  it('charges self time to functions and areas, and inclusive time to kuorum callers', () => {
    const profile: CpuProfile = {
      startTime: 0, endTime: 4000,
      nodes: [
        { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1 }, children: [2, 4] },
        { id: 2, callFrame: { functionName: 'handlePut', url: 'file:///r/dist/node/src/server/routes/kv.js', lineNumber: 9 }, children: [3] },
        { id: 3, callFrame: { functionName: 'serialize', url: 'file:///r/node_modules/fastify/lib/reply.js', lineNumber: 0 } },
        { id: 4, callFrame: { functionName: '(idle)', url: '', lineNumber: -1 } },
      ],
      samples: [3, 3, 2, 4],
      timeDeltas: [1000, 1000, 1000, 1000],
    };
    const s = summarizeProfile(profile);
    expect(s.totalMs).toBe(4);
    expect(s.idleMs).toBe(1);
    expect(s.byArea.map((h) => [h.name, h.ms])).toEqual([['pkg fastify', 2], ['kuorum node/src/server/routes/kv', 1]]);
    expect(s.kuorumInclusive).toEqual([{ name: 'handlePut kuorum node/src/server/routes/kv:10', ms: 3, share: 1 }]);
    expect(areaOf('node:internal/streams/readable', 'read')).toBe('node:internal/streams');
  });
});

describe('Prometheus text', () => {
  it('finds an unlabelled sample by its exact name, 0 when absent', () => {
    const text = '# HELP x\nkuorum_fsync_duration_seconds_bucket{le="0.001"} 3\nkuorum_fsync_duration_seconds_sum 1.5\nkuorum_fsync_duration_seconds_count 42\n';
    expect(promValue(text, 'kuorum_fsync_duration_seconds_count')).toBe(42);
    expect(promValue(text, 'kuorum_fsync_duration_seconds_sum')).toBe(1.5);
    expect(promValue(text, 'kuorum_missing')).toBe(0);
  });
});
