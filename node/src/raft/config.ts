import type { Logger, RaftConfig } from './types.js';

/** Defaults for the optional RaftConfig fields. */
export const RAFT_DEFAULTS = {
  maxSizePerMsg: 1024 * 1024, // 1 MiB of entries per 'app' message
  maxInflightMsgs: 256, // 'app' messages in flight per follower
  maxInflightBytes: 0, // unlimited
  maxUncommittedEntriesSize: 0, // unlimited
  maxCommittedSizePerReady: 0, // unlimited
  preVote: true,
  checkQuorum: true,
  disableProposalForwarding: false,
  deferCommitBroadcast: false,
} as const;

export const noopLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

export interface ResolvedConfig extends Required<Omit<RaftConfig, 'applied' | 'logger'>> {
  applied: number;
  logger: Logger;
}

function nonNegInt(name: string, v: unknown): void {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new Error(`raft config: ${name} must be a non-negative integer, got ${String(v)}`);
}

/** Fills defaults and rejects nonsense with a clear Error. */
export function resolveConfig(c: RaftConfig): ResolvedConfig {
  if (c === null || typeof c !== 'object') throw new Error('raft config: missing');
  if (typeof c.id !== 'string' || c.id === '') throw new Error('raft config: id must be a non-empty string');
  if (!c.storage) throw new Error('raft config: storage is required');
  if (typeof c.randomInt !== 'function') throw new Error('raft config: randomInt must be a function');
  const r: ResolvedConfig = {
    id: c.id,
    storage: c.storage,
    electionTick: c.electionTick,
    heartbeatTick: c.heartbeatTick,
    applied: c.applied ?? 0,
    maxSizePerMsg: c.maxSizePerMsg ?? RAFT_DEFAULTS.maxSizePerMsg,
    maxInflightMsgs: c.maxInflightMsgs ?? RAFT_DEFAULTS.maxInflightMsgs,
    maxInflightBytes: c.maxInflightBytes ?? RAFT_DEFAULTS.maxInflightBytes,
    maxUncommittedEntriesSize: c.maxUncommittedEntriesSize ?? RAFT_DEFAULTS.maxUncommittedEntriesSize,
    maxCommittedSizePerReady: c.maxCommittedSizePerReady ?? RAFT_DEFAULTS.maxCommittedSizePerReady,
    preVote: c.preVote ?? RAFT_DEFAULTS.preVote,
    checkQuorum: c.checkQuorum ?? RAFT_DEFAULTS.checkQuorum,
    disableProposalForwarding: c.disableProposalForwarding ?? RAFT_DEFAULTS.disableProposalForwarding,
    deferCommitBroadcast: c.deferCommitBroadcast ?? RAFT_DEFAULTS.deferCommitBroadcast,
    randomInt: c.randomInt,
    logger: c.logger ?? noopLogger,
  };
  for (const k of ['electionTick', 'heartbeatTick', 'applied', 'maxSizePerMsg', 'maxInflightMsgs', 'maxInflightBytes', 'maxUncommittedEntriesSize', 'maxCommittedSizePerReady'] as const) {
    nonNegInt(k, r[k]);
  }
  if (r.heartbeatTick < 1) throw new Error('raft config: heartbeatTick must be >= 1');
  if (r.electionTick <= r.heartbeatTick) throw new Error(`raft config: electionTick (${r.electionTick}) must be greater than heartbeatTick (${r.heartbeatTick})`);
  if (r.maxSizePerMsg < 1) throw new Error('raft config: maxSizePerMsg must be >= 1');
  if (r.maxInflightMsgs < 1) throw new Error('raft config: maxInflightMsgs must be >= 1');
  return r;
}
