import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const binaryNames = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl', 'helm'] as const;
export type BinaryName = (typeof binaryNames)[number];

const buildScript = join(dirname(fileURLToPath(import.meta.url)), 'build.sh');

/**
 * The directory holding the control-plane binaries: $KUORUM_K8S_BIN, or the version-keyed cache
 * that `make controlplane` fills. Throws a message saying how to get them when any is missing.
 */
export function binDir(): string {
  const dir = process.env.KUORUM_K8S_BIN ?? execFileSync('bash', [buildScript, '--print-dir'], { encoding: 'utf8' }).trim();
  const missing = binaryNames.filter((name) => {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length > 0) {
    throw new Error(`control-plane binaries missing in ${dir}: ${missing.join(', ')}. Run \`make controlplane\` (builds them from the Go module proxy) or set KUORUM_K8S_BIN to a directory holding them.`);
  }
  return dir;
}

export function binary(name: BinaryName): string {
  return join(binDir(), name);
}
