/** What a KuorumNode is made of: its settings and the parts it drives (built by start-node.ts). */
import type { JsonLogger } from './logger.js';
import type { NodeMetrics } from './metrics.js';
import type { StateMachine, Transport } from './node-ports.js';
import type { NodeId } from './raft/index.js';
import type { RaftLogStore } from './storage/index.js';

export interface NodeSettings {
  name: string;
  advertisePeer: string;
  tickMs: number;
  electionTick: number;
  heartbeatTick: number;
  electionTimeoutMs: number;
  snapshotThreshold: number;
  snapshotCatchupEntries: number;
  proposalTimeoutMs: number;
  /** A learner is promoted only when its match index is within this many entries of the leader's last index. */
  promoteMaxLag: number;
}

export interface NodeParts {
  memberId: NodeId;
  clusterId: string | null;
  store: RaftLogStore;
  kv: StateMachine;
  transport: Transport;
  metrics: NodeMetrics;
  log: JsonLogger;
  /** Persists the cluster ID in the data dir's identity (bootstrap or first leader contact). */
  recordClusterId(clusterId: string): Promise<void>;
  newClusterId(): string;
  /** The data dir holds a removal mark: this member was removed before the restart. */
  removed: boolean;
  /** Persists the removal mark in the data dir (see storage/removal-mark.ts). */
  recordRemoved(clusterId: string, learnedBy: 'told' | 'applied'): Promise<void>;
  /** Called when the loop hits an error it cannot recover from (a failed fsync): the process must stop. */
  onFatal(err: Error): void;
}
