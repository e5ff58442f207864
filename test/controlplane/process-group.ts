import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync, existsSync } from 'node:fs';

/** A child process running in its own process group, its output going to a log file. */
export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logPath: string;
  /** Resolves with the exit code (or the signal name) once the process is gone. */
  readonly exited: Promise<number | string>;
  readonly running: () => boolean;
  /** SIGTERM to the whole group, SIGKILL after graceMs; resolves when the leader is gone. */
  stop(graceMs?: number): Promise<void>;
}

const liveGroups = new Set<number>();
let exitHooksInstalled = false;

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // The group is already gone.
  }
}

const exitCleanups = new Set<() => void>();

function runExitCleanups(): void {
  for (const pgid of liveGroups) killGroup(pgid, 'SIGKILL');
  for (const cleanup of exitCleanups) {
    try {
      cleanup();
    } catch {
      // Best effort: the process is going away.
    }
  }
}

/** Kills every group still alive and runs the registered cleanups when this process ends for any reason. */
function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on('exit', runExitCleanups);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      runExitCleanups();
      process.kill(process.pid, signal);
    });
  }
}

/** Registers a synchronous cleanup to run at process exit or on a fatal signal; returns its unregistration. */
export function onExitSync(cleanup: () => void): () => void {
  installExitHooks();
  exitCleanups.add(cleanup);
  return () => exitCleanups.delete(cleanup);
}

export interface SpawnOptions {
  logPath: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export function spawnManaged(name: string, command: string, args: string[], options: SpawnOptions): ManagedProcess {
  installExitHooks();
  const log = openSync(options.logPath, 'a');
  let child: ChildProcess;
  try {
    child = spawn(command, args, {
      detached: true,
      stdio: ['ignore', log, log],
      env: options.env ?? process.env,
      cwd: options.cwd,
    });
  } finally {
    closeSync(log);
  }
  let alive = true;
  const exited = new Promise<number | string>((resolve) => {
    child.once('error', (err) => {
      alive = false;
      resolve(`spawn error: ${err.message}`);
    });
    child.once('exit', (code, signal) => {
      alive = false;
      resolve(code ?? signal ?? 'unknown');
    });
  });
  const pid = child.pid ?? -1;
  if (pid > 0) liveGroups.add(pid);
  void exited.then(() => {
    // Orphans of the leader may remain in the group; the group id stays valid until they exit.
    killGroup(pid, 'SIGKILL');
    liveGroups.delete(pid);
  });
  return {
    name,
    pid,
    logPath: options.logPath,
    exited,
    running: () => alive,
    async stop(graceMs = 5000) {
      if (pid <= 0) return;
      killGroup(pid, 'SIGTERM');
      const timer = setTimeout(() => killGroup(pid, 'SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The last lines of a log file, for failure reports. */
export function tailFile(path: string, lines = 40): string {
  if (!existsSync(path)) return '(no log)';
  const all = readFileSync(path, 'utf8').trimEnd().split('\n');
  return all.slice(-lines).join('\n');
}
