import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SEC = 100; // USER_HZ on Linux

/** User + system CPU seconds a process has used so far, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  return parseCpuSeconds(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

export function parseCpuSeconds(stat: string): number {
  // The command name (field 2) may hold spaces and parentheses: fields are counted after its last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error('unreadable /proc/<pid>/stat');
  return (utime + stime) / TICKS_PER_SEC;
}

/** CPU seconds used by all the given processes (missing ones count 0). */
export function totalCpuSeconds(pids: (number | undefined)[]): number {
  let sum = 0;
  for (const pid of pids) {
    if (pid === undefined) continue;
    try {
      sum += cpuSeconds(pid);
    } catch {
      // exited
    }
  }
  return sum;
}

/** Which kind of thread a thread of a server process is, by its name (comm) and whether it is the process's main thread. */
export function threadKind(comm: string, isMain: boolean): string {
  if (isMain) return 'main';
  if (comm === 'libuv-worker') return 'libuv pool'; // LevelDB reads and writes (fsync included)
  if (comm.startsWith('V8 ') || comm.startsWith('V8Worker')) return 'V8 workers'; // concurrent and parallel GC
  return 'other';
}

/**
 * CPU seconds used so far by the threads of the given processes, summed by threadKind (from
 * /proc/<pid>/task/<tid>/stat). Threads that ended since are not counted: compare two readings
 * only for long-lived threads (a Node process keeps its pools).
 */
export function cpuSecondsByThreadKind(pids: (number | undefined)[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const pid of pids) {
    if (pid === undefined) continue;
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue; // exited
    }
    for (const tid of tids) {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const kind = threadKind(stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), tid === String(pid));
        out[kind] = (out[kind] ?? 0) + parseCpuSeconds(stat);
      } catch {
        // the thread ended
      }
    }
  }
  return out;
}
