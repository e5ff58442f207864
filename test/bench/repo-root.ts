import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The repository root, found by walking up to kuorum's package.json, so the bench works both
 * compiled (dist/test/bench) and from source.
 */
function findRepo(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === 'kuorum') return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find the kuorum repository root above the bench');
    dir = up;
  }
}

export const REPO = findRepo();
