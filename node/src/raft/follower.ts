import type { RaftLog } from './log.js';
import type { ProgressTracker } from './tracker.js';
import type { Logger, Message, MessageType, NodeId, Snapshot } from './types.js';

/** What the follower-side handlers need from the Raft state machine. */
export interface FollowerHost {
  readonly log: RaftLog;
  readonly trk: ProgressTracker;
  readonly logger: Logger;
  sendAtTerm(type: MessageType, to: NodeId, fields?: Partial<Message>, afterPersist?: boolean): void;
}

/**
 * AppendEntries from the leader. Acks go out only after this Ready is durable; they carry our
 * commit index (a leader that removed itself waits for one, see raft.ts).
 */
export function handleAppend(r: FollowerHost, m: Message): void {
  const log = r.log;
  if (m.index < log.committed) {
    r.sendAtTerm('appResp', m.from, { index: log.committed, commit: log.committed }, true);
    return;
  }
  const lastNew = log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
  if (lastNew !== undefined) {
    if (m.noAck && m.entries.length === 0) return; // only the commit index, which the leader knows we hold
    r.sendAtTerm('appResp', m.from, { index: lastNew, commit: log.committed }, true);
    return;
  }
  const [hintIndex, hintTerm] = log.findConflictByTerm(Math.min(m.index, log.lastIndex()), m.logTerm);
  r.logger.debug('rejecting append', { from: m.from, index: m.index, logTerm: m.logTerm, hintIndex, hintTerm });
  r.sendAtTerm('appResp', m.from, { index: m.index, reject: true, rejectHint: hintIndex, logTermHint: hintTerm }, true);
}

/** The leader's commit in a heartbeat is min(our match, its commit), so it is in our log. */
export function handleHeartbeat(r: FollowerHost, m: Message): void {
  r.log.commitTo(Math.min(m.commit, r.log.lastIndex()));
  r.sendAtTerm('heartbeatResp', m.from, m.context ? { context: m.context } : {});
}

export function handleSnapshot(r: FollowerHost, m: Message): void {
  const log = r.log;
  if (restore(r, m.snapshot!)) {
    r.sendAtTerm('appResp', m.from, { index: log.lastIndex(), commit: log.committed }, true);
  } else {
    r.sendAtTerm('appResp', m.from, { index: log.committed, commit: log.committed }, true);
  }
}

/** Installs a snapshot ahead of our commit; returns false if it is stale or already covered. */
function restore(r: FollowerHost, snap: Snapshot): boolean {
  const { log, trk, logger } = r;
  const { index, term } = snap.metadata;
  const joining = trk.voters.size === 0 && trk.learners.size === 0 && log.lastIndex() === 0;
  if (index === 0 && joining && snap.metadata.confState.voters.length > 0) {
    // A brand-new member receiving the bootstrap configuration of the cluster.
    logger.info('installing the bootstrap configuration', { voters: snap.metadata.confState.voters });
    log.restore(snap);
    trk.setConf(snap.metadata.confState, 1);
    return true;
  }
  if (index <= log.committed) {
    logger.info('ignoring a snapshot at or below our commit', { index, commit: log.committed });
    return false;
  }
  if (log.matchTerm(index, term)) {
    // We already have the snapshot's last entry: just move commit forward.
    logger.info('fast-forwarding commit to the snapshot index', { index });
    log.commitTo(index);
    return false;
  }
  log.restore(snap);
  trk.setConf(snap.metadata.confState, log.lastIndex() + 1);
  return true;
}
