import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { benchPlan } from '../../bench/bench-plan.js';
import { areaOf, summarizeProfile, type CpuProfile } from '../../bench/cpu-profile-summary.js';
import { loadgenFlags } from '../../bench/loadgen-runner.js';
import { cpuSecondsByThreadKind, parseCpuSeconds, threadKind } from '../../bench/proc-cpu.js';
import { parseVmRssMiB } from '../../bench/proc-rss.js';
import { parseSmaps } from '../../bench/proc-smaps.js';
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

  it('splits the CPU of a process by thread kind: main thread, libuv pool, V8 workers, other', () => {
    expect(threadKind('node', true)).toBe('main');
    expect(threadKind('libuv-worker', false)).toBe('libuv pool');
    expect(threadKind('V8Worker', false)).toBe('V8 workers');
    expect(threadKind('V8 DefaultWorke', false)).toBe('V8 workers');
    expect(threadKind('node', false)).toBe('other');
    let spin = 0;
    for (const end = Date.now() + 30; Date.now() < end; ) spin++;
    const split = cpuSecondsByThreadKind([process.pid, undefined]);
    expect(spin).toBeGreaterThan(0);
    expect(split['main']).toBeGreaterThan(0);
    expect(Object.values(split).reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(parseCpuSeconds(readFileSync(`/proc/${process.pid}/stat`, 'utf8')) + 0.05);
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

describe('smaps breakdown', () => {
  it('splits resident memory into anonymous and file-backed, by mapping group and anonymous size', () => {
    const text = [
      '00400000-04000000 r-xp 00000000 08:01 123 /usr/local/bin/node',
      'Size:              61440 kB',
      'Rss:               40000 kB',
      'Anonymous:             0 kB',
      '05000000-09000000 rw-p 00000000 00:00 0 [heap]',
      'Size:              65536 kB',
      'Rss:               30000 kB',
      'Anonymous:         30000 kB',
      '7f0000000000-7f0000040000 rw-p 00000000 00:00 0 ',
      'Size:                256 kB',
      'Rss:                 200 kB',
      'Anonymous:           200 kB',
      '7f1000000000-7f1004000000 rw-p 00000000 00:00 0 ',
      'Size:              65536 kB',
      'Rss:               10000 kB',
      'Anonymous:         10000 kB',
      '7f2000000000-7f2000100000 r--s 00000000 08:01 9 /data/raft/000005.ldb',
      'Size:               1024 kB',
      'Rss:                1000 kB',
      'Anonymous:             0 kB',
      '7f3000000000-7f3000100000 r-xp 00000000 08:01 9 /x/classic-level/prebuilds/linux-x64/classic-level.node',
      'Size:               1024 kB',
      'Rss:                 300 kB',
      'Anonymous:             0 kB',
    ].join('\n');
    const s = parseSmaps(text);
    expect(s.rssKiB).toBe(81500);
    expect(s.anonKiB).toBe(40200);
    expect(s.fileKiB).toBe(41300);
    expect(s.groups).toEqual({ 'node binary': 40000, '[heap]': 30000, '[anon]': 10200, 'other files': 1000, 'addon classic-level.node': 300 });
    expect(s.anonBySize).toEqual({ '≤256K': { count: 1, rssKiB: 200 }, '≤64M': { count: 1, rssKiB: 10000 } });
  });
});
