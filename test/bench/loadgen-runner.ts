/**
 * Builds the Go load generator (test/bench/loadgen, standard library only) into
 * ~/.cache/kuorum/bench/ and runs it; every run prints one JSON object.
 */
import { execFileSync, spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO } from './repo-root.js';
import type { SystemName } from './bench-cluster.js';
import type { ClosedResult, FillResult, ProbeResult } from './results.js';

const SOURCE = path.join(REPO, 'test/bench/loadgen');

function findGo(): string {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/local/go/bin']) {
    const p = path.join(dir, 'go');
    try {
      if (dir) {
        accessSync(p, constants.X_OK);
        return p;
      }
    } catch {
      // not here
    }
  }
  throw new Error('the bench load generator needs Go (https://go.dev/dl/), and `go` is not on PATH');
}

/** Compiles the generator (Go's build cache makes a rebuild of unchanged code instant). */
export function buildLoadgen(): string {
  const dir = path.join(process.env.KUORUM_BENCH_CACHE ?? path.join(os.homedir(), '.cache/kuorum/bench'));
  mkdirSync(dir, { recursive: true });
  const out = path.join(dir, 'loadgen');
  execFileSync(findGo(), ['build', '-o', out, '.'], { cwd: SOURCE, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, CGO_ENABLED: '0', GOFLAGS: '-mod=mod' } });
  return out;
}

export interface LoadgenArgs {
  mode: 'closed' | 'fill' | 'probe';
  system: SystemName;
  targets: string[];
  op?: 'put' | 'get';
  conns?: number;
  durationSec?: number;
  warmupSec?: number;
  intervalMs?: number;
  timeoutSec?: number;
  keys: number;
  valueSize: number;
}

export function loadgenFlags(a: LoadgenArgs): string[] {
  const flags = [`-mode=${a.mode}`, `-system=${a.system}`, `-targets=${a.targets.join(',')}`, `-keys=${a.keys}`, `-value-size=${a.valueSize}`];
  if (a.op) flags.push(`-op=${a.op}`);
  if (a.conns !== undefined) flags.push(`-conns=${a.conns}`);
  if (a.durationSec !== undefined) flags.push(`-duration=${a.durationSec}s`);
  if (a.warmupSec !== undefined) flags.push(`-warmup=${a.warmupSec}s`);
  if (a.intervalMs !== undefined) flags.push(`-interval=${a.intervalMs}ms`);
  if (a.timeoutSec !== undefined) flags.push(`-timeout=${a.timeoutSec}s`);
  return flags;
}

export function runLoadgen(bin: string, a: LoadgenArgs & { mode: 'closed' }): Promise<ClosedResult>;
export function runLoadgen(bin: string, a: LoadgenArgs & { mode: 'fill' }): Promise<FillResult>;
export function runLoadgen(bin: string, a: LoadgenArgs & { mode: 'probe' }): Promise<ProbeResult>;
export function runLoadgen(bin: string, a: LoadgenArgs): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const proc = spawn(bin, loadgenFlags(a), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (err += c.toString()));
    proc.on('error', reject);
    proc.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`loadgen ${loadgenFlags(a).join(' ')} exited ${code}: ${err.trim()}`));
      try {
        resolve(JSON.parse(out));
      } catch {
        reject(new Error(`loadgen printed no JSON: ${out.slice(0, 500)} ${err.slice(0, 500)}`));
      }
    });
  });
}
