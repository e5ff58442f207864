import type { Message, MessageType, NodeId } from './types.js';

export const TRANSFER_CONTEXT = new TextEncoder().encode('transfer');

const MESSAGE_TYPES: ReadonlySet<string> = new Set<MessageType>([
  'app', 'appResp', 'heartbeat', 'heartbeatResp', 'preVote', 'preVoteResp', 'vote', 'voteResp',
  'snap', 'timeoutNow', 'prop', 'readIndex', 'readIndexResp', 'transferLeader',
]);

/** Message types a follower forwards to its leader with term 0 (treated like local requests). */
export const FORWARDED_TYPES: ReadonlySet<MessageType> = new Set<MessageType>(['prop', 'readIndex', 'transferLeader']);

export function isTransferContext(ctx: Uint8Array | undefined): boolean {
  if (!ctx || ctx.length !== TRANSFER_CONTEXT.length) return false;
  for (let i = 0; i < ctx.length; i++) if (ctx[i] !== TRANSFER_CONTEXT[i]) return false;
  return true;
}

export function newMessage(type: MessageType, to: NodeId, fields: Partial<Message> = {}): Message {
  return {
    type,
    from: '',
    to,
    term: 0,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    ...fields,
  };
}

function isCount(v: unknown): boolean {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Why a message from the wire is malformed, or undefined if it is well-formed enough to step. */
export function malformedReason(m: Message): string | undefined {
  if (m === null || typeof m !== 'object') return 'not an object';
  if (!MESSAGE_TYPES.has(m.type)) return `unknown type ${String(m.type)}`;
  if (typeof m.from !== 'string' || typeof m.to !== 'string') return 'from/to must be strings';
  if (m.from === '') return 'missing from';
  for (const k of ['term', 'logTerm', 'index', 'commit', 'rejectHint'] as const) {
    if (!isCount(m[k])) return `${k} must be a non-negative integer`;
  }
  if (m.logTermHint !== undefined && !isCount(m.logTermHint)) return 'logTermHint must be a non-negative integer';
  if (!Array.isArray(m.entries)) return 'entries must be an array';
  for (const e of m.entries) {
    if (e === null || typeof e !== 'object' || !(e.data instanceof Uint8Array) || !isCount(e.term) || !isCount(e.index)) return 'malformed entry';
    if (e.type !== 'normal' && e.type !== 'confChange') return 'malformed entry type';
  }
  if (m.term === 0 && !FORWARDED_TYPES.has(m.type)) return `term 0 on a ${m.type} message`;
  if (m.type === 'app') {
    for (let i = 0; i < m.entries.length; i++) {
      if (m.entries[i]!.index !== m.index + 1 + i) return 'app entries are not contiguous after index';
      if (m.entries[i]!.term > m.term) return 'app entry term is above the message term';
    }
  }
  if ((m.type === 'readIndex' || m.type === 'readIndexResp') && m.entries.length !== 1) return `${m.type} needs exactly one entry (the context)`;
  if (m.type === 'snap') {
    const s = m.snapshot;
    if (!s || !s.metadata || !isCount(s.metadata.index) || !isCount(s.metadata.term) || !(s.data instanceof Uint8Array)) return 'snap without a valid snapshot';
    const cs = s.metadata.confState;
    if (!cs || !Array.isArray(cs.voters) || !Array.isArray(cs.learners)) return 'snapshot without a valid confState';
  }
  if (m.context !== undefined && !(m.context instanceof Uint8Array)) return 'context must be bytes';
  return undefined;
}
