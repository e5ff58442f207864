import { readFileSync } from 'node:fs';

/** Resident memory of a process in MiB, from VmRSS in /proc/<pid>/status. */
export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return parseVmRssMiB(status);
}

export function parseVmRssMiB(status: string): number {
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!m) throw new Error('no VmRSS line in /proc/<pid>/status');
  return Number(m[1]) / 1024;
}
