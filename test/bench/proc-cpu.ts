import { readFileSync } from 'node:fs';

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
