/**
 * The etcd the bench runs: $KUORUM_ETCD_BIN, else the one the control-plane build put in its
 * cache (built from the Go module proxy by test/controlplane/build.sh when missing), else a
 * system etcd (e.g. Debian's etcd-server) as a last resort. The version is read from the binary.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { REPO } from './repo-root.js';

const buildScript = path.join(REPO, 'test/controlplane/build.sh');

function executable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = path.join(dir, name);
    if (dir && executable(p)) return p;
  }
  return undefined;
}

export function etcdVersion(bin: string): string {
  const out = execFileSync(bin, ['--version'], { encoding: 'utf8' });
  const m = /etcd Version:\s*(\S+)/.exec(out);
  return m ? m[1]! : out.split('\n')[0]!.trim();
}

export function findEtcd(log: (line: string) => void): string {
  const override = process.env.KUORUM_ETCD_BIN;
  if (override) {
    if (!executable(override)) throw new Error(`KUORUM_ETCD_BIN=${override} is not an executable file`);
    return override;
  }
  const cached = path.join(execFileSync('bash', [buildScript, '--print-dir'], { encoding: 'utf8' }).trim(), 'etcd');
  if (executable(cached)) return cached;
  log(`etcd is not in ${path.dirname(cached)}: building the control-plane binaries from the Go module proxy (test/controlplane/build.sh; takes minutes once)`);
  const r = spawnSync('bash', [buildScript], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status === 0 && executable(cached)) return cached;
  const system = onPath('etcd');
  if (system) {
    log(`the build failed; falling back to the system etcd at ${system}`);
    return system;
  }
  throw new Error('no etcd: the control-plane build failed and there is no etcd on PATH (set KUORUM_ETCD_BIN, or apt-get install etcd-server)');
}
