/**
 * Builds the porcupine-based checker (this folder's Go module) into ~/.cache/kuorum/linearizability/
 * and runs it on a history file. Go is required: a missing `go` is an error, never a skip.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const CHECKER_SOURCE = path.dirname(fileURLToPath(import.meta.url));

function findGo(): string {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/local/go/bin']) {
    if (!dir) continue;
    const p = path.join(dir, 'go');
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  throw new Error('the linearizability checker needs Go (https://go.dev/dl/), and `go` is neither on PATH nor in /usr/local/go/bin');
}

/** Compiles the checker (Go's build cache makes an unchanged rebuild instant); returns the binary. */
export function buildChecker(): string {
  const dir = path.join(os.homedir(), '.cache/kuorum/linearizability');
  mkdirSync(dir, { recursive: true });
  const out = path.join(dir, 'checker');
  execFileSync(findGo(), ['build', '-o', out, '.'], { cwd: CHECKER_SOURCE, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CGO_ENABLED: '0' } });
  return out;
}

export interface CheckOutcome {
  /** 0 linearizable, 1 not, 2 bad input or undecided. */
  code: number;
  output: string;
}

export function runChecker(binary: string, historyPath: string, vizDir: string): CheckOutcome {
  const r = spawnSync(binary, ['-history', historyPath, '-viz-dir', vizDir, '-timeout', '120s'], { encoding: 'utf8', timeout: 300_000 });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, output: `${r.stdout}${r.stderr}`.trim() };
}
