// The shape of the protobuf messages of node/proto/raft.proto as @grpc/proto-loader hands them
// over (camelCase fields, uint64 as decimal strings, enums as numbers, bytes as Buffer). When
// encoding, uint64 fields may also be given as numbers.

export type WireU64 = string | number;

export interface WireEntry {
  term: WireU64;
  index: WireU64;
  type: number;
  data: Uint8Array;
}

export interface WireConfState {
  voters: string[];
  learners: string[];
}

export interface WireSnapshotMetadata {
  index: WireU64;
  term: WireU64;
  confState: WireConfState | null;
}

export interface WireSnapshot {
  metadata: WireSnapshotMetadata | null;
  data: Uint8Array;
}

export interface WireMessage {
  type: number;
  from: string;
  to: string;
  term: WireU64;
  logTerm: WireU64;
  index: WireU64;
  entries: WireEntry[];
  commit: WireU64;
  reject: boolean;
  rejectHint: WireU64;
  logTermHint?: WireU64;
  snapshot?: WireSnapshot | null;
  context?: Uint8Array;
  noAck?: boolean;
}

export interface WireMessageBatch {
  messages: WireMessage[];
}

export type WireStreamClosed = Record<string, never>;

export interface WireSnapshotChunk {
  header?: { message: WireMessage | null } | null;
  data?: { offset: WireU64; data: Uint8Array } | null;
  trailer?: { totalBytes: WireU64; sha256: Uint8Array } | null;
  /** Set by the decoder: which member of the `part` oneof is present. */
  part?: 'header' | 'data' | 'trailer';
}

export interface WireSnapshotAck {
  receivedBytes: WireU64;
}

export interface WireHttpHeader {
  name: string;
  value: string;
}

export interface WireForwardRequest {
  method: string;
  path: string;
  headers: WireHttpHeader[];
  body: Uint8Array;
}

export interface WireForwardResponse {
  status: number;
  headers: WireHttpHeader[];
  body: Uint8Array;
}
