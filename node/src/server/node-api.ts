/**
 * What the HTTP layer needs from a node. node.ts implements it; the server never touches Raft,
 * storage or the transport directly. Methods throw ApiError subclasses (../errors.js) for
 * anything a client should see with a specific status.
 */

export type Consistency = 'linearizable' | 'serializable';

export interface KvRecord {
  key: string;
  value: Uint8Array;
  createRevision: number;
  modRevision: number;
  version: number;
}

export interface KvList {
  items: KvRecord[];
  /** The store's revision the list was read at. */
  revision: number;
  /** More keys matched than `limit`. */
  more: boolean;
}

export interface WriteCondition {
  /** Succeed only if the key's modRevision equals this (≥ 1). */
  ifMatch?: number;
  /** Succeed only if the key does not exist. */
  ifNoneMatch?: boolean;
}

export interface WatchEvent {
  type: 'put' | 'delete';
  key: string;
  /** Absent for deletes. */
  value?: Uint8Array;
  revision: number;
}

export interface WatchHandle {
  cancel(): void;
}

export interface NodeStatus {
  id: string;
  name: string;
  /** Empty until the node bootstraps or is joined. */
  clusterId: string;
  /** follower | precandidate | candidate | leader, or learner / unjoined / removed. */
  role: string;
  term: number;
  leaderId: string;
  commit: number;
  applied: number;
  lastIndex: number;
  snapshotIndex: number;
  /** Index of the last applied membership change (0 if none). */
  configIndex: number;
  /** The KV store's revision. */
  revision: number;
  /** A voter or learner of a formed cluster (false once removed, whatever its own log says). */
  member: boolean;
  /** This node was removed from its cluster. */
  removed: boolean;
  peerAddress: string;
}

export interface MemberInfo {
  id: string;
  name: string;
  peerAddress: string;
  role: 'voter' | 'learner';
  isLeader: boolean;
  /** Only when this node is the leader. */
  matchIndex?: number;
  /** Only when this node is the leader: when the member was last heard from (ISO 8601), null if never. */
  lastContact?: string | null;
}

export interface AddMemberRequest {
  id: string;
  name: string;
  peerAddress: string;
  learner: boolean;
}

export interface Readiness {
  ready: boolean;
  reason: string;
}

/** An HTTP request carried to another member (the leader) and its response. */
export interface ForwardedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Uint8Array;
}

export interface ForwardedResponse {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array;
}

export interface NodeApi {
  status(): NodeStatus;
  /**
   * Undefined when no answered write is still being written to the state; otherwise a promise
   * that settles when it has been (then status() and members() include it).
   */
  settled(): Promise<void> | undefined;
  readiness(): Readiness;
  /** True when this node is the leader and may execute leader-only requests itself. */
  isLeader(): boolean;
  /** Sends a request to the current leader (throws NoLeaderError when none is known). */
  forwardToLeader(req: ForwardedRequest, timeoutMs: number): Promise<ForwardedResponse>;
  /** Installs the function that executes requests other members forward to this node. */
  setForwardHandler(handler: (req: ForwardedRequest) => Promise<ForwardedResponse>): void;

  get(key: string, consistency: Consistency): Promise<KvRecord | undefined>;
  list(prefix: string, limit: number, consistency: Consistency): Promise<KvList>;
  /**
   * Replays history from `fromRevision` (0 = only new changes), then live events. Throws GoneError
   * for a compacted revision. `onEnd` is called if the node ends the watch (its history was replaced).
   */
  watch(prefix: string, fromRevision: number, onEvent: (e: WatchEvent) => void, onEnd?: (err: Error) => void): WatchHandle;
  /** Leader only. */
  put(key: string, value: Uint8Array, cond: WriteCondition): Promise<{ revision: number }>;
  /** Leader only. 404 when the key is absent. */
  delete(key: string, cond: WriteCondition): Promise<{ revision: number }>;

  /** The members as this node knows them (its applied configuration). */
  members(): MemberInfo[];
  /**
   * Serializable: members(). Linearizable: first waits, as a linearizable read does, until every
   * conf change committed before the request is applied here, so a new leader lists a change the
   * old one answered.
   */
  listMembers(consistency: Consistency): Promise<MemberInfo[]>;
  /** Local: forms a one-member cluster on an empty, unjoined node. */
  bootstrap(): Promise<NodeStatus>;
  /** Leader only. */
  addMember(req: AddMemberRequest): Promise<MemberInfo>;
  /** Leader only. */
  promoteMember(id: string): Promise<MemberInfo>;
  /** Leader only. */
  removeMember(id: string): Promise<{ id: string }>;
  /**
   * Internal, peer-only: a leader tells a member it just added (which cannot reach it yet) the
   * cluster ID and the members' peer addresses.
   */
  introduce(body: { clusterId: string; leaderId: string; members: { id: string; peerAddress: string }[] }): Promise<void>;
  /** Internal, peer-only: the leader tells a member that its removal committed. */
  noticeRemoved(body: { clusterId: string; memberId: string }): Promise<void>;
  /** Leader only. Returns the new leader. */
  transferLeadership(to?: string): Promise<{ leaderId: string }>;
}
