import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MODULE_DIR = dirname(fileURLToPath(import.meta.url));

/**
 * Finds `node/proto/<name>` by walking up from `startDir` (default: this module's directory), so
 * the same code works from `node/src/transport` (vitest, tsx) and from `dist/node/src/transport`
 * (after tsc). `KUORUM_PROTO_DIR`, when set, names the directory holding the .proto directly.
 */
export function findProtoFile(name = 'raft.proto', startDir = MODULE_DIR): string {
  const override = process.env['KUORUM_PROTO_DIR'];
  if (override) {
    const file = join(override, name);
    if (!existsSync(file)) throw new Error(`KUORUM_PROTO_DIR=${override} does not contain ${name}`);
    return file;
  }
  let dir = startDir;
  for (;;) {
    const candidate = join(dir, 'node', 'proto', name);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find node/proto/${name} in ${startDir} or any directory above it`);
    dir = parent;
  }
}
