import type { RaftLog } from './log.js';
import { newMessage } from './messages.js';
import type { ReadOnly } from './read-only.js';
import type { ProgressTracker } from './tracker.js';
import type { Logger, Message, MessageType, NodeId, ReadState, Role } from './types.js';
import { NO_NODE } from './types.js';

/** What linearizable reads (ReadIndex) need from the Raft state machine. */
export interface ReadHost {
  readonly id: NodeId;
  readonly state: Role;
  readonly lead: NodeId;
  readonly log: RaftLog;
  readonly trk: ProgressTracker;
  readonly readOnly: ReadOnly;
  readonly logger: Logger;
  readStates: ReadState[];
  pendingReadIndexMessages: Message[];
  send(m: Message): void;
  sendAtTerm(type: MessageType, to: NodeId, fields?: Partial<Message>): void;
  sendHeartbeat(to: NodeId, ctx: Uint8Array): void;
  committedEntryInCurrentTerm(): boolean;
}

/**
 * A ReadIndex request, local (from = '' or self) or forwarded by a follower (context in
 * entries[0].data). The leader records its commit index and answers once a quorum of voters has
 * acknowledged a heartbeat carrying the context; followers forward to the leader.
 */
export function handleReadIndex(r: ReadHost, m: Message): void {
  if (r.state !== 'leader') {
    if (r.lead === NO_NODE || r.state !== 'follower') {
      r.logger.info('dropping readIndex: no leader');
      return;
    }
    r.send(newMessage('readIndex', r.lead, { entries: m.entries }));
    return;
  }
  if (!r.committedEntryInCurrentTerm()) {
    // Until then our commit index may be behind what earlier leaders committed.
    r.pendingReadIndexMessages.push(m);
    return;
  }
  const ctx = m.entries[0]!.data;
  if (r.trk.isSingleton(r.id) || requesterCompletesQuorum(r, m)) {
    respondToRead(r, m, r.log.committed);
    return;
  }
  if (!r.readOnly.addRequest(r.log.committed, m, ctx)) {
    r.logger.info('dropping a readIndex whose context is already pending');
    return;
  }
  r.readOnly.recvAck(r.id, ctx);
  sendReadHeartbeats(r, ctx);
}

/**
 * Sends the request's heartbeat to just enough voters to make a quorum with the leader, those
 * that acknowledged a read most recently first: one follower of two in a 3-voter cluster. Should
 * one of them not answer, the next periodic heartbeat carries the newest pending context to every
 * member (see bcastHeartbeat), and whoever answers it is asked first from then on. Only acks count
 * (handleReadAck): whom the request went to decides nothing about when it is answered.
 */
function sendReadHeartbeats(r: ReadHost, ctx: Uint8Array): void {
  const asked = new Set([r.id]);
  for (const id of r.readOnly.confirmersByRecency(r.trk.voters)) {
    if (id === r.id) continue;
    if (r.trk.hasQuorum(asked)) break;
    asked.add(id);
    r.sendHeartbeat(id, ctx);
  }
}

/**
 * A voter sends a ReadIndex request only to the leader of its own term (a follower relays a
 * request with the original requester), so when it was sent its requester had voted for no later
 * leader, and this leader, still leading, has not either. When the two of them are a quorum
 * (3 voters), no later leader was elected, let alone committed anything, before the reads behind
 * the request began: the commit index covers them without a heartbeat round. (The requester also
 * ignores an answer from a term older than its own.) It vouches for its own request only: the
 * requests queued in readOnly keep waiting for heartbeat acks.
 */
function requesterCompletesQuorum(r: ReadHost, m: Message): boolean {
  if (m.from === NO_NODE || m.from === r.id) return false;
  return r.trk.hasQuorum(new Set([r.id, m.from]));
}

/** A heartbeat response echoing a read context. */
export function handleReadAck(r: ReadHost, from: NodeId, ctx: Uint8Array): void {
  r.readOnly.noteConfirmer(from);
  const acks = r.readOnly.recvAck(from, ctx);
  if (!acks || !r.trk.hasQuorum(acks)) return;
  for (const st of r.readOnly.advance(ctx)) respondToRead(r, st.req, st.index);
}

function respondToRead(r: ReadHost, req: Message, index: number): void {
  if (req.from === NO_NODE || req.from === r.id) {
    r.readStates.push({ index, context: req.entries[0]!.data });
  } else {
    r.sendAtTerm('readIndexResp', req.from, { index, entries: req.entries });
  }
}
