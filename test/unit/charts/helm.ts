// Finds the helm binary: on PATH, under KUORUM_K8S_BIN, or where the control-plane build puts it.
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

export function findHelm(): string | null {
  const dirs = [
    ...(process.env.KUORUM_K8S_BIN ? [process.env.KUORUM_K8S_BIN] : []),
    ...(process.env.PATH ?? '').split(delimiter),
  ];
  const cache = join(homedir(), '.cache', 'kuorum', 'k8s');
  if (existsSync(cache)) for (const d of readdirSync(cache).sort().reverse()) dirs.push(join(cache, d, 'bin'));
  for (const d of dirs) {
    const p = join(d, 'helm');
    if (d && existsSync(p)) return p;
  }
  return null;
}

export const HELM_MISSING =
  'helm not found: not on PATH, not in $KUORUM_K8S_BIN, not under ~/.cache/kuorum/k8s/*/bin. Build it with `make controlplane` (test/controlplane/build.sh) or put helm 3 on PATH.';
