// Message <-> protobuf mapping. Indices and terms are uint64 on the wire and plain numbers in
// the core: both directions refuse anything that is not a non-negative safe integer, so a value
// is never rounded or wrapped silently.
import { slabCopy } from '../byte-slab.js';
import type { Entry, EntryType, Message, MessageType, Snapshot } from '../raft/types.js';
import type { WireEntry, WireMessage, WireSnapshot, WireU64 } from './wire-types.js';

export class CodecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CodecError';
  }
}

/** Index = the proto enum number of kuorum.v1.MessageType (0 is UNSPECIFIED). */
export const MESSAGE_TYPE_NUMBERS: readonly (MessageType | undefined)[] = [
  undefined,
  'app',
  'appResp',
  'heartbeat',
  'heartbeatResp',
  'preVote',
  'preVoteResp',
  'vote',
  'voteResp',
  'snap',
  'timeoutNow',
  'prop',
  'readIndex',
  'readIndexResp',
  'transferLeader',
];

/** Index = the proto enum number of kuorum.v1.EntryType. */
export const ENTRY_TYPE_NUMBERS: readonly EntryType[] = ['normal', 'confChange'];

const messageTypeNumber = new Map<string, number>(
  MESSAGE_TYPE_NUMBERS.flatMap((t, i) => (t === undefined ? [] : [[t, i] as [string, number]])),
);
const entryTypeNumber = new Map<string, number>(ENTRY_TYPE_NUMBERS.map((t, i) => [t, i]));

function u64Out(value: number, field: string): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new CodecError(`${field} must be a non-negative safe integer, got ${String(value)}`);
  }
  return value;
}

function u64In(value: WireU64 | undefined | null, field: string): number {
  const n = typeof value === 'number' ? value : Number(value ?? 0);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new CodecError(`${field} is out of range: ${String(value)} exceeds Number.MAX_SAFE_INTEGER`);
  }
  return n;
}

/** A Uint8Array view of the received bytes (no copy; drops the Buffer subclass). */
function bytesIn(value: Uint8Array | undefined | null): Uint8Array {
  if (!value) return new Uint8Array();
  return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
}

/**
 * A copy of the received bytes, for entry data: an entry lives on in the Raft log's in-memory
 * mirror for thousands of entries, and a view would keep the whole received gRPC message (up to
 * megabytes of other entries) alive with it. Small ones share slabs with the entries received
 * with them (the log drops them in order, slab by slab), not an ArrayBuffer each.
 */
function bytesOwned(value: Uint8Array | undefined | null): Uint8Array {
  if (!value || value.byteLength === 0) return new Uint8Array();
  return slabCopy(value);
}

function bytesOut(value: Uint8Array, field: string): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new CodecError(`${field} must be a Uint8Array`);
  return value;
}

function stringOut(value: string, field: string): string {
  if (typeof value !== 'string') throw new CodecError(`${field} must be a string`);
  return value;
}

function encodeEntry(e: Entry): WireEntry {
  const type = entryTypeNumber.get(e.type);
  if (type === undefined) throw new CodecError(`unknown entry type ${String(e.type)}`);
  return { term: u64Out(e.term, 'entry.term'), index: u64Out(e.index, 'entry.index'), type, data: bytesOut(e.data, 'entry.data') };
}

function decodeEntry(w: WireEntry): Entry {
  const type = ENTRY_TYPE_NUMBERS[w.type];
  if (type === undefined) throw new CodecError(`unknown entry type number ${w.type}`);
  return { term: u64In(w.term, 'entry.term'), index: u64In(w.index, 'entry.index'), type, data: bytesOwned(w.data) };
}

function encodeSnapshot(s: Snapshot): WireSnapshot {
  const m = s.metadata;
  return {
    metadata: {
      index: u64Out(m.index, 'snapshot.metadata.index'),
      term: u64Out(m.term, 'snapshot.metadata.term'),
      confState: {
        voters: m.confState.voters.map((v) => stringOut(v, 'confState.voters[]')),
        learners: m.confState.learners.map((v) => stringOut(v, 'confState.learners[]')),
      },
    },
    data: bytesOut(s.data, 'snapshot.data'),
  };
}

function decodeSnapshot(w: WireSnapshot): Snapshot {
  if (!w.metadata) throw new CodecError('snapshot without metadata');
  const cs = w.metadata.confState;
  return {
    metadata: {
      index: u64In(w.metadata.index, 'snapshot.metadata.index'),
      term: u64In(w.metadata.term, 'snapshot.metadata.term'),
      confState: { voters: [...(cs?.voters ?? [])], learners: [...(cs?.learners ?? [])] },
    },
    data: bytesIn(w.data),
  };
}

/** Throws CodecError for a message that cannot be represented exactly on the wire. */
export function encodeMessage(m: Message): WireMessage {
  const type = messageTypeNumber.get(m.type);
  if (type === undefined) throw new CodecError(`unknown message type ${String(m.type)}`);
  const w: WireMessage = {
    type,
    from: stringOut(m.from, 'from'),
    to: stringOut(m.to, 'to'),
    term: u64Out(m.term, 'term'),
    logTerm: u64Out(m.logTerm, 'logTerm'),
    index: u64Out(m.index, 'index'),
    entries: m.entries.map(encodeEntry),
    commit: u64Out(m.commit, 'commit'),
    reject: m.reject === true,
    rejectHint: u64Out(m.rejectHint, 'rejectHint'),
  };
  if (m.logTermHint !== undefined) w.logTermHint = u64Out(m.logTermHint, 'logTermHint');
  if (m.snapshot !== undefined) w.snapshot = encodeSnapshot(m.snapshot);
  if (m.context !== undefined) w.context = bytesOut(m.context, 'context');
  if (m.noAck) w.noAck = true;
  return w;
}

/** Throws CodecError for an unknown enum value or an index/term above Number.MAX_SAFE_INTEGER. */
export function decodeMessage(w: WireMessage): Message {
  const type = MESSAGE_TYPE_NUMBERS[w.type];
  if (type === undefined) throw new CodecError(`unknown message type number ${w.type}`);
  const m: Message = {
    type,
    from: w.from,
    to: w.to,
    term: u64In(w.term, 'term'),
    logTerm: u64In(w.logTerm, 'logTerm'),
    index: u64In(w.index, 'index'),
    entries: (w.entries ?? []).map(decodeEntry),
    commit: u64In(w.commit, 'commit'),
    reject: w.reject,
    rejectHint: u64In(w.rejectHint, 'rejectHint'),
  };
  if (w.logTermHint !== undefined && w.logTermHint !== null) m.logTermHint = u64In(w.logTermHint, 'logTermHint');
  if (w.snapshot) m.snapshot = decodeSnapshot(w.snapshot);
  if (w.context !== undefined && w.context !== null) m.context = bytesIn(w.context);
  if (w.noAck) m.noAck = true;
  return m;
}

/** Rough wire size of a message, for queue and batch byte limits. */
export function estimateMessageBytes(m: Message): number {
  let size = 64 + m.from.length + m.to.length + (m.context?.length ?? 0);
  for (const e of m.entries) size += e.data.length + 24;
  if (m.snapshot) size += m.snapshot.data.length + 32 + 20 * (m.snapshot.metadata.confState.voters.length + m.snapshot.metadata.confState.learners.length);
  return size;
}
