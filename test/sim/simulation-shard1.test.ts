import { describe, it } from 'vitest';
import { seedsForShard } from './seeds.js';
import { runShard } from './run-shard.js';

describe('seeded whole-cluster simulation', () => {
  it.skipIf(seedsForShard(1, 2).length === 0)('keeps every Raft safety invariant and recovers after healing (shard 1 of 2)', () => runShard(1, 2));
});
