/**
 * What node.ts needs from the state machine and the peer transport. Thin adapters
 * (kv-adapter.ts, transport-adapter.ts) bind these to node/src/kv and node/src/transport, so the
 * Ready loop depends on a few methods, not on those parts' internals.
 */
import type { ConfChange, ConfState, Entry, Message, NodeId } from './raft/index.js';
import type { ForwardedRequest, ForwardedResponse, KvList, KvRecord, WatchEvent, WatchHandle, WriteCondition } from './server/node-api.js';

export interface MemberRecord {
  id: NodeId;
  name: string;
  peerAddress: string;
  role: 'voter' | 'learner';
}

export type WriteOutcome =
  | { ok: true; revision: number }
  | { ok: false; code: 'precondition'; currentModRevision: number }
  | { ok: false; code: 'not_found' }
  | { ok: false; code: 'invalid'; message: string };

export interface ApplyItem {
  entry: Entry;
  /** For confChange entries: the decoded change and the ConfState the core returned for it. */
  confChange?: ConfChange;
  confState?: ConfState;
}

export interface AppliedResult {
  index: number;
  /** The proposer's request ID, for normal entries carrying a command. */
  requestId?: string;
  outcome?: WriteOutcome;
}

export interface CapturedState {
  index: number;
  confState: ConfState;
  /**
   * The encoded state in parts of about 1 MiB, made as they are read (sent one after another).
   * Each part's ArrayBuffer is handed over with it: the state machine neither keeps nor shares it.
   */
  parts: AsyncIterable<Uint8Array>;
}

export interface StateMachine {
  appliedIndex(): number;
  revision(): number;
  members(): MemberRecord[];
  encodePut(requestId: string, key: string, value: Uint8Array, cond: WriteCondition): Uint8Array;
  encodeDelete(requestId: string, key: string, cond: WriteCondition): Uint8Array;
  /**
   * Applies committed entries atomically with the applied index: resolves with the results once
   * the batch is planned and handed to storage; `landed` settles when it is written, and only
   * then do appliedIndex(), revision(), members() and watches reflect it.
   */
  apply(items: ApplyItem[]): Promise<{ results: AppliedResult[]; landed: Promise<void> }>;
  /** Undefined when no applied write is in flight, else a promise settling once it has landed (see apply). */
  settled(): Promise<void> | undefined;
  /** Synchronous: a point read costs less than a round trip through libuv's thread pool. */
  get(key: string): KvRecord | undefined;
  list(prefix: string, limit: number): Promise<KvList>;
  /** Throws GoneError (410) for a compacted fromRevision; onEnd reports a watch ended by the store (e.g. a snapshot restore). */
  watch(prefix: string, fromRevision: number, onEvent: (e: WatchEvent) => void, onEnd?: (err: Error) => void): WatchHandle;
  /**
   * The state as a Raft snapshot's data, with the index and ConfState it was taken at (applies
   * already handed to apply() are included; later ones are not), handed to `write`; the state is
   * held until `write` returns. What a leader streams to a follower that needs a snapshot.
   */
  captureSnapshot<T>(write: (state: CapturedState) => Promise<T>): Promise<T>;
  /**
   * Makes the applied state durable; returns the index and ConfState it covers (the applies
   * already handed to apply() are included). The Raft log may then be compacted up to `index`.
   */
  syncState(): Promise<{ index: number; confState: ConfState }>;
  /** Replaces the state with snapshot data taken at `index` or later. */
  restore(data: Uint8Array, index: number): Promise<void>;
  /** Snapshot data of an empty store whose only member is `self` (for bootstrap). */
  bootstrapData(self: MemberRecord): Promise<Uint8Array>;
  close(): Promise<void>;
}

export interface Transport {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Replaces the set of peers (never includes this node). */
  setPeers(peers: { id: NodeId; address: string }[]): void;
  send(messages: Message[]): void;
  /** `fromAddress`: the sender's advertised peer address, when its transport sends one. */
  onMessages(fn: (messages: Message[], from: NodeId, fromAddress: string | undefined) => void): void;
  onUnreachable(fn: (id: NodeId) => void): void;
  /** A connection with peer `id` ended abruptly (its process may have died): a hint, not proof. */
  onConnectionLost(fn: (id: NodeId) => void): void;
  onSnapshotStatus(fn: (id: NodeId, ok: boolean) => void): void;
  /** Called when an unjoined node learns its cluster ID from a leader's first valid contact. */
  onClusterId(fn: (clusterId: string) => void): void;
  setClusterId(clusterId: string): void;
  /** Monotonic counts of dropped / failed / rejected peer messages, for metrics. */
  peerErrorCounts(): { peer: string; kind: string; count: number }[];
  forward(to: NodeId, req: ForwardedRequest, timeoutMs: number): Promise<ForwardedResponse>;
  setForwardHandler(handler: (req: ForwardedRequest) => Promise<ForwardedResponse>): void;
}
