import { describe, it } from 'vitest';
import { runShard } from './run-shard.js';

// Shard 0 of 2 (shard 1 is simulation-shard1.test.ts, so vitest runs both on separate workers).
// KUORUM_SIM_SEED=S replays one schedule here; KUORUM_SIM_SEEDS=N sets the total count.
describe('seeded whole-cluster simulation', () => {
  it('keeps every Raft safety invariant and recovers after healing (shard 0 of 2)', () => runShard(0, 2));
});
