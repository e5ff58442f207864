import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Every process a cluster starts (components and pods) carries this variable naming the cluster dir. */
export const ownerEnv = 'KUORUM_E2E_OWNER';
export const clusterDirPrefix = 'kuorum-cp-';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Marks a cluster dir as owned by this process (and, if asked, to be kept after it ends). */
export function claimClusterDir(dir: string, keep: boolean): void {
  writeFileSync(join(dir, 'owner.pid'), String(process.pid));
  if (keep) writeFileSync(join(dir, 'keep'), '');
}

/**
 * Kills what a test process left running when it died without cleaning up (SIGKILL, OOM):
 * processes whose environment names a cluster dir whose owner is gone. Their dirs are removed
 * unless they were marked to be kept.
 */
export function reapOrphanedClusters(): void {
  const dead: string[] = [];
  for (const entry of readdirSync(tmpdir())) {
    if (!entry.startsWith(clusterDirPrefix)) continue;
    const dir = join(tmpdir(), entry);
    const ownerFile = join(dir, 'owner.pid');
    if (!existsSync(ownerFile)) continue;
    if (!alive(Number(readFileSync(ownerFile, 'utf8')))) dead.push(dir);
  }
  if (dead.length === 0) return;
  const markers = new Set(dead.map((dir) => `${ownerEnv}=${dir}`));
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let environ: string[];
    try {
      environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (environ.some((v) => markers.has(v))) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }
  for (const dir of dead) {
    if (existsSync(join(dir, 'keep'))) rmSync(join(dir, 'owner.pid'), { force: true });
    else rmSync(dir, { recursive: true, force: true });
  }
}
