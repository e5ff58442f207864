// The public contract of the pure Raft core. Everything outside node/src/raft
// (storage, transport, kv, node.ts, the simulator) depends only on these types
// and on RawNode / MemoryStorage.

/** Member IDs are opaque strings (the node layer uses 16 hex digits of a random 64-bit ID). */
export type NodeId = string;

export const NO_NODE: NodeId = '';

export type Role = 'follower' | 'precandidate' | 'candidate' | 'leader';

export type EntryType = 'normal' | 'confChange';

export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  /** Opaque to the core for normal entries; an encoded ConfChange for confChange entries. Empty data = no-op. */
  data: Uint8Array;
}

export type ConfChangeType = 'addVoter' | 'addLearner' | 'promote' | 'remove';

export interface ConfChange {
  type: ConfChangeType;
  nodeId: NodeId;
  /** Opaque to the core: the node layer puts the member's name and peer address here. */
  context: Uint8Array;
}

export interface ConfState {
  voters: NodeId[];
  learners: NodeId[];
}

export interface HardState {
  term: number;
  vote: NodeId; // NO_NODE when not voted in this term
  commit: number;
}

export interface SnapshotMetadata {
  index: number;
  term: number;
  confState: ConfState;
}

export interface Snapshot {
  metadata: SnapshotMetadata;
  /** Opaque to the core (the state machine's serialized state). */
  data: Uint8Array;
}

export type MessageType =
  | 'app' // leader → follower: append entries (also used as a probe)
  | 'appResp'
  | 'heartbeat'
  | 'heartbeatResp'
  | 'preVote'
  | 'preVoteResp'
  | 'vote'
  | 'voteResp'
  | 'snap' // leader → follower: install snapshot
  | 'timeoutNow' // leadership transfer: campaign now, ignoring the lease
  | 'prop' // follower → leader: forwarded proposal (entries)
  | 'readIndex' // follower → leader: forwarded ReadIndex request (context in entries[0].data)
  | 'readIndexResp' // leader → follower: the read index for a forwarded request
  | 'transferLeader'; // follower → leader: forwarded leadership transfer request (from = desired transferee)

export interface Message {
  type: MessageType;
  from: NodeId;
  to: NodeId;
  term: number;
  /** For 'app': term of the entry at `index`; for votes: last log term of the candidate. */
  logTerm: number;
  /** For 'app': index preceding `entries`; for votes: last log index; for 'appResp': matched/rejected index; for 'readIndexResp': the read index. */
  index: number;
  entries: Entry[];
  commit: number;
  reject: boolean;
  /** For a rejected 'appResp': the follower's hint of where to probe next (its last index). */
  rejectHint: number;
  /** For a rejected 'appResp': term of the follower's entry at rejectHint (lets the leader skip a whole term). */
  logTermHint?: number;
  snapshot?: Snapshot;
  /** For heartbeats and ReadIndex: the request context echoed back. */
  context?: Uint8Array;
  /**
   * For an 'app' without entries sent only to carry a new commit index, to a follower that was
   * sent every entry: the follower takes the commit and does not answer an acceptance (the answers
   * to the appends that carried the entries tell the leader what it holds). A rejection is
   * always answered.
   */
  noAck?: boolean;
}

export interface ReadState {
  /** The commit index that must be applied before the read may be served. */
  index: number;
  /** The context given to readIndex(). */
  context: Uint8Array;
}

export interface SoftState {
  leader: NodeId; // NO_NODE when unknown
  role: Role;
}

export interface Ready {
  /** Present only when it changed since the last Ready. */
  softState?: SoftState;
  /** Present only when it changed since the last Ready; persist before sending messagesAfterPersist. */
  hardState?: HardState;
  /** Entries to append to stable storage (may overwrite a conflicting suffix). */
  entries: Entry[];
  /** A snapshot to persist and install into the state machine. */
  snapshot?: Snapshot;
  /** Committed entries to apply, in order. Safe to apply once hardState/entries of earlier Readys are durable. */
  committedEntries: Entry[];
  /** May be sent right away, in parallel with persisting this Ready (a leader's appends and heartbeats). */
  messages: Message[];
  /** Must be sent only after hardState, entries and snapshot of this Ready are durable (votes, acks). */
  messagesAfterPersist: Message[];
  /** Results of readIndex() calls. */
  readStates: ReadState[];
  /** True when hardState (term/vote) or entries changed, i.e. an fsync is required. */
  mustSync: boolean;
}

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export interface ProgressStatus {
  match: number;
  next: number;
  state: ProgressState;
  recentActive: boolean;
  isLearner: boolean;
  inflight: number;
}

export interface Status {
  id: NodeId;
  term: number;
  vote: NodeId;
  commit: number;
  applied: number;
  lastIndex: number;
  leader: NodeId;
  role: Role;
  leadTransferee: NodeId;
  config: ConfState;
  /** Only on the leader. */
  progress?: Map<NodeId, ProgressStatus>;
  /**
   * Only on the leader: the index of the last conf change that may be in its log (at election,
   * its whole log counts). While applied is below it, `config` may miss a committed change.
   */
  pendingConfIndex?: number;
}

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** Read access to the durable log, as the core sees it. Synchronous: the node keeps it in memory. */
export interface LogStorage {
  initialState(): { hardState: HardState; confState: ConfState };
  /** Entries in [lo, hi), at least one if any exist, at most maxBytes in total. Throws CompactedError / UnavailableError. */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  /** Term of the entry at index i; index firstIndex()-1 is answered from the snapshot. Throws CompactedError / UnavailableError. */
  term(i: number): number;
  firstIndex(): number;
  lastIndex(): number;
  snapshot(): Snapshot;
}

export interface RaftConfig {
  id: NodeId;
  storage: LogStorage;
  /** Ticks a follower waits without leader contact before campaigning; randomized in [electionTick, 2*electionTick). */
  electionTick: number;
  heartbeatTick: number;
  /** The last applied index on restart (entries up to it will not be handed out again). */
  applied?: number;
  /** Max bytes of entries in one 'app' message. */
  maxSizePerMsg?: number;
  /** Max 'app' messages in flight per follower in replicate state. */
  maxInflightMsgs?: number;
  /** Max bytes of entries in flight per follower (0 = unlimited). */
  maxInflightBytes?: number;
  /** Cap on the bytes of uncommitted entries a leader accepts (0 = unlimited). */
  maxUncommittedEntriesSize?: number;
  /** Max bytes of committed entries handed out in one Ready (0 = unlimited). */
  maxCommittedSizePerReady?: number;
  preVote?: boolean; // default true
  checkQuorum?: boolean; // default true
  disableProposalForwarding?: boolean;
  /**
   * Default false: when the commit index advances, the leader at once sends it to every follower
   * that holds the entries, each in an 'app' of its own. True: it waits to send it with the next
   * append or heartbeat, and the host calls broadcastCommit() for any still unsent after a delay
   * of its choosing (commitNoticeDue() says when one is due). Under a steady stream of writes
   * that saves a message, a Ready and a write on every follower per commit.
   */
  deferCommitBroadcast?: boolean;
  /** Injected randomness: returns an integer in [0, n). */
  randomInt: (n: number) => number;
  logger?: Logger;
}
