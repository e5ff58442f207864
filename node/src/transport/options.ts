import type * as grpc from '@grpc/grpc-js';
import type { Logger, NodeId, SnapshotMetadata } from '../raft/types.js';
import { DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';

export interface PeerTransportOptions {
  /** This node's member ID; incoming calls addressed to another ID are refused. */
  selfId: NodeId;
  /** This node's cluster ID, or '' (the default) while it has not joined a cluster. */
  clusterId?: string;
  logger?: Logger;
  /**
   * The host:port peers dial to reach this node, sent with every call (kuorum-from-address), so a
   * leader can reach a member it no longer knows, to tell it it was removed. '' (default) sends none.
   */
  advertiseAddress?: string;
  /** Max size of one gRPC message, sent or received (default 64 MiB). */
  maxMessageBytes?: number;
  /**
   * Max estimated size of one MessageStream write (default 4 MiB, or half of maxMessageBytes if
   * that is less); more queued messages go in the next write. A single larger message goes
   * alone; one near maxMessageBytes is dropped.
   */
  maxBatchBytes?: number;
  /** Per-peer send queue caps (defaults 4096 messages, 32 MiB); beyond them messages are dropped. */
  maxQueuedMessages?: number;
  maxQueuedBytes?: number;
  /** Stream writes handed to gRPC but not yet taken by HTTP/2 (default 2); bounds gRPC's own buffering. */
  maxPendingWrites?: number;
  /** Snapshot data chunk size (default 1 MiB, or half of maxMessageBytes if that is less). */
  snapshotChunkBytes?: number;
  /** Largest snapshot this node accepts (default 1 GiB). */
  maxSnapshotBytes?: number;
  /** Deadline of one whole SendSnapshot call (default 10 minutes). */
  snapshotTimeoutMs?: number;
  /**
   * A message stream the peer has not accepted within this long is abandoned and the channel
   * replaced, so the peer's name is looked up again (default 2 s; see PeerChannel).
   */
  connectTimeoutMs?: number;
  /** Reconnect backoff of a broken message stream (default 100 ms doubling to 5 s, ±20% jitter). */
  backoff?: Partial<BackoffOptions>;
  /** How long stop() waits for calls to finish before forcing the server down (default 2 s). */
  shutdownGraceMs?: number;
  /** Source of randomness for jitter (default Math.random). */
  random?: () => number;
  /**
   * Where the data of a 'snap' message that carries none comes from (e.g. the snapshot file on
   * disk, so the data need not be held in memory): called once per transfer with the message's
   * snapshot metadata. Without it, such a snapshot is sent with empty data.
   */
  snapshotData?: (metadata: SnapshotMetadata) => Promise<SnapshotDataSource>;
}

/** Snapshot data read in chunks; `chunks` throws when the data turns out damaged (the transfer then fails). */
export interface SnapshotDataSource {
  /** In bytes; undefined when known only once every chunk was read (data encoded as it is sent). */
  readonly length: number | undefined;
  chunks(chunkBytes: number): AsyncIterable<Uint8Array>;
  close(): Promise<void>;
}

export type ResolvedOptions = Required<Omit<PeerTransportOptions, 'backoff' | 'logger' | 'snapshotData'>> & {
  backoff: BackoffOptions;
  logger: Logger;
  snapshotData: PeerTransportOptions['snapshotData'];
};

const MiB = 1024 * 1024;

export const NOOP_LOGGER: Logger = { debug() {}, info() {}, warn() {}, error() {} };

export function resolveOptions(o: PeerTransportOptions): ResolvedOptions {
  if (!o.selfId) throw new Error('PeerTransport needs a non-empty selfId');
  const maxMessageBytes = o.maxMessageBytes ?? 64 * MiB;
  const r: ResolvedOptions = {
    selfId: o.selfId,
    clusterId: o.clusterId ?? '',
    advertiseAddress: o.advertiseAddress ?? '',
    logger: o.logger ?? NOOP_LOGGER,
    maxMessageBytes,
    maxBatchBytes: o.maxBatchBytes ?? Math.min(4 * MiB, Math.floor(maxMessageBytes / 2)),
    maxQueuedMessages: o.maxQueuedMessages ?? 4096,
    maxQueuedBytes: o.maxQueuedBytes ?? 32 * MiB,
    maxPendingWrites: o.maxPendingWrites ?? 2,
    snapshotChunkBytes: o.snapshotChunkBytes ?? Math.min(MiB, Math.floor(maxMessageBytes / 2)),
    maxSnapshotBytes: o.maxSnapshotBytes ?? 1024 * MiB,
    snapshotTimeoutMs: o.snapshotTimeoutMs ?? 10 * 60_000,
    connectTimeoutMs: o.connectTimeoutMs ?? 2_000,
    backoff: { ...DEFAULT_BACKOFF, ...o.backoff },
    shutdownGraceMs: o.shutdownGraceMs ?? 2_000,
    random: o.random ?? Math.random,
    snapshotData: o.snapshotData,
  };
  if (r.maxBatchBytes >= r.maxMessageBytes) throw new Error('maxBatchBytes must be below maxMessageBytes');
  if (r.snapshotChunkBytes >= r.maxMessageBytes) throw new Error('snapshotChunkBytes must be below maxMessageBytes');
  if (r.maxPendingWrites < 1 || r.maxQueuedMessages < 1) throw new Error('maxPendingWrites and maxQueuedMessages must be at least 1');
  return r;
}

/** Options shared by client channels and the server. */
function commonGrpcOptions(o: ResolvedOptions): grpc.ChannelOptions {
  return {
    'grpc.max_receive_message_length': o.maxMessageBytes,
    'grpc.max_send_message_length': o.maxMessageBytes,
    // Detect peers that vanished without closing the connection (partitions, killed hosts).
    'grpc.keepalive_time_ms': 10_000,
    'grpc.keepalive_timeout_ms': 5_000,
  };
}

export function clientChannelOptions(o: ResolvedOptions): grpc.ChannelOptions {
  return {
    ...commonGrpcOptions(o),
    'grpc.keepalive_permit_without_calls': 1,
    // Retries would buffer stream writes inside gRPC and acknowledge them early, defeating the
    // per-peer queue bound; Raft retransmits on its own.
    'grpc.enable_retries': 0,
    'grpc.initial_reconnect_backoff_ms': o.backoff.initialMs,
    'grpc.max_reconnect_backoff_ms': o.backoff.maxMs,
    // A restarted pod comes back under the same name with a new address: look the name up again
    // soon after a failed connection (gRPC's default waits 30 s between lookups).
    'grpc.dns_min_time_between_resolutions_ms': Math.min(1_000, o.backoff.maxMs),
  };
}

export function serverOptions(o: ResolvedOptions): grpc.ServerOptions {
  return commonGrpcOptions(o);
}
