// Lays out what one program needs at run time (besides node_modules) under <out>: package.json
// (its "type": "module" makes the .js files ES modules) and the compiled dist/<program>; for the
// node also every .proto file under node/ at its source path (the transport finds node/proto by
// walking up from its compiled module).
// usage: node stage-runtime.mjs <repo-root> <out> [node|operator]   (default node)
import { cpSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

const [root, out, program = 'node'] = process.argv.slice(2);
if (!root || !out || !['node', 'operator'].includes(program)) {
  console.error('usage: node stage-runtime.mjs <repo-root> <out> [node|operator]');
  process.exit(2);
}

function copy(from, to) {
  mkdirSync(dirname(to), { recursive: true });
  cpSync(from, to, { recursive: true, verbatimSymlinks: true });
}

copy(join(root, 'package.json'), join(out, 'package.json'));
copy(join(root, 'dist', program), join(out, 'dist', program));

let protos = [];
if (program === 'node') {
  protos = readdirSync(join(root, 'node'), { recursive: true, encoding: 'utf8' }).filter((p) => p.endsWith('.proto'));
  for (const proto of protos) copy(join(root, 'node', proto), join(out, 'node', proto));
}
console.log(`staged dist/${program} and ${protos.length} proto file(s) in ${relative(process.cwd(), out) || '.'}`);
