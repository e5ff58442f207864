import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { NODE_ENV, NODE_FLAGS, nodeEnv } from '../../../node/src/runtime-settings.js';
import { defaultImages } from '../../kubelet/images.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

describe('node runtime settings', () => {
  it('are the flags and environment of the container image (node/Dockerfile ENTRYPOINT and ENV)', () => {
    const dockerfile = readFileSync(path.join(REPO, 'node/Dockerfile'), 'utf8');
    const entrypoints = [...dockerfile.matchAll(/^ENTRYPOINT\s+(\[.*\])\s*$/gm)].map((m) => JSON.parse(m[1]!) as string[]);
    expect(entrypoints.at(-1)).toEqual(['node', ...NODE_FLAGS, 'dist/node/src/main.js']);
    const finalStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    const env = [...finalStage.matchAll(/^ENV\s+(.*)$/gm)].flatMap((m) => m[1]!.trim().split(/\s+/));
    for (const [name, value] of Object.entries(NODE_ENV)) expect(env).toContain(`${name}=${value}`);
  });

  it('are what the e2e kubelet runs for the kuorum images', () => {
    for (const name of ['kuorum', 'kuorum-node']) {
      const image = defaultImages()[name]!;
      expect(image.entrypoint.slice(1, 1 + NODE_FLAGS.length)).toEqual([...NODE_FLAGS]);
      expect(image.env).toEqual(NODE_ENV);
    }
  });

  it('are accepted by this Node.js (an unknown V8 flag would stop the node from starting)', () => {
    const r = spawnSync(process.execPath, [...NODE_FLAGS, '-e', 'process.stdout.write("ok")'], { encoding: 'utf8', env: nodeEnv() });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('ok');
  });

  it('add the malloc settings to an environment without overriding what the caller set', () => {
    expect(nodeEnv({ PATH: '/bin' })).toEqual({ PATH: '/bin', ...NODE_ENV });
    expect(nodeEnv({ MALLOC_ARENA_MAX: '4' }).MALLOC_ARENA_MAX).toBe('4');
  });
});
