import type { ChildProcess } from 'node:child_process';
/** What the bench needs from a 3-node cluster, whichever system runs in it. */
export type SystemName = 'kuorum' | 'etcd';

export interface BenchCluster {
  readonly system: SystemName;
  /** e.g. "etcd 3.6.8"; shown in the table header. */
  readonly version: string;
  /** Client base URLs (http://127.0.0.1:port), one per member, in member order, dead or alive. */
  urls(): string[];
  /** The OS process id of each running member, in member order (undefined when stopped). */
  pids(): (number | undefined)[];
  /** The index of the member that leads, agreed on by the running members. */
  leaderIndex(): Promise<number>;
  /** kill -9 one member. */
  kill(index: number): Promise<void>;
  /** Starts a killed member again on its data and waits until the cluster is healthy. */
  restart(index: number): Promise<void>;
  /** Waits until every running member serves linearizable requests. */
  waitHealthy(): Promise<void>;
  /** Stops every member (SIGKILL, or SIGTERM when graceful) and removes the data. */
  destroy(graceful?: boolean): Promise<void>;
  /** The last `tailChars` characters each member logged (default 4000), for failure messages. */
  logs(tailChars?: number): string;
}

export interface ClusterTimeouts {
  electionMs: number;
  heartbeatMs: number;
}

/** A started server process of either system, with its recent output (bounded) for diagnostics. */
export interface TrackedProcess {
  proc: ChildProcess | null;
  output: string;
}

export function trackProcess(m: TrackedProcess, proc: ChildProcess): void {
  m.proc = proc;
  m.output = '';
  const keep = (chunk: Buffer): void => {
    m.output += chunk.toString();
    if (m.output.length > 1_000_000) m.output = m.output.slice(-500_000);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  proc.on('exit', () => {
    if (m.proc === proc) m.proc = null;
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls fn until it returns a value other than undefined/false, or fails after timeoutMs. */
export async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(everyMs);
  }
}

export async function httpJson(method: string, url: string, body?: unknown, timeoutMs = 3000): Promise<{ status: number; json: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await fetch(url, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json };
}
