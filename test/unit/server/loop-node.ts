/**
 * A single-member KuorumNode on a real Raft log, state machine and gRPC transport, with fast
 * ticks, for tests that drive the node's loop directly (no HTTP server).
 */
import { createLogger } from '../../../node/src/logger.js';
import { NodeMetrics } from '../../../node/src/metrics.js';
import type { StateMachine, Transport } from '../../../node/src/node-ports.js';
import { KuorumNode } from '../../../node/src/node.js';
import { randomId64, type RaftLogStore } from '../../../node/src/storage/index.js';
import { PeerTransportAdapter } from '../../../node/src/transport-adapter.js';

export interface LoopNodeParts {
  memberId: string;
  store: RaftLogStore;
  kv: StateMachine;
  snapshotThreshold: number;
  onFatal: (err: Error) => void;
  /** Started as a member that knows it was removed (its data dir holds the mark). */
  removed?: boolean;
  /** Wraps the real transport, e.g. to watch what the node sends. */
  wrapTransport?: (t: Transport) => Transport;
}

export function newLoopNode({ memberId, store, kv, snapshotThreshold, onFatal, removed = false, wrapTransport = (t) => t }: LoopNodeParts): KuorumNode {
  const quiet = createLogger('silent');
  const transport = wrapTransport(new PeerTransportAdapter({ selfId: memberId, clusterId: '', logger: quiet }, '127.0.0.1:0'));
  return new KuorumNode(
    { name: 'n1', advertisePeer: '127.0.0.1:1', tickMs: 10, electionTick: 10, heartbeatTick: 1, electionTimeoutMs: 100, snapshotThreshold, snapshotCatchupEntries: 0, proposalTimeoutMs: 3000, promoteMaxLag: 1000 },
    {
      memberId,
      clusterId: null,
      store,
      kv,
      transport,
      metrics: new NodeMetrics({ processMetrics: false }),
      log: quiet,
      recordClusterId: async () => undefined,
      removed,
      recordRemoved: async () => undefined,
      newClusterId: randomId64,
      onFatal,
    },
  );
}
