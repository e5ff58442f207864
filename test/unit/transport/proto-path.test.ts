import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findProtoFile } from '../../../node/src/transport/proto-path.js';

const repoRoot = resolve(import.meta.dirname, '../../..');
const expected = join(repoRoot, 'node', 'proto', 'raft.proto');

describe('proto path', () => {
  it('finds node/proto/raft.proto from the source tree and from the tsc output tree', () => {
    expect(existsSync(expected)).toBe(true);
    expect(findProtoFile()).toBe(expected);
    expect(findProtoFile('raft.proto', join(repoRoot, 'node', 'src', 'transport'))).toBe(expected);
    expect(findProtoFile('raft.proto', join(repoRoot, 'dist', 'node', 'src', 'transport'))).toBe(expected);
  });

  it('fails with a clear error when there is no such file', () => {
    expect(() => findProtoFile('nope.proto')).toThrow(/cannot find node\/proto\/nope.proto/);
  });
});
