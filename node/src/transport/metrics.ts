import type { NodeId } from '../raft/types.js';
import type { RefusalReason } from './identity.js';

/** Monotonic counters for one peer (kept after the peer is removed, as Prometheus expects). */
export interface PeerCounters {
  messagesSent: number;
  messagesReceived: number;
  messagesDropped: number;
  /** Streams or calls to this peer that failed (connect errors, broken streams, refusals). */
  sendErrors: number;
  /** Message streams this peer did not accept in time; each one renewed the channel. */
  connectTimeouts: number;
  snapshotsSent: number;
  snapshotsFailed: number;
  snapshotsReceived: number;
  /** Incoming snapshot streams from this peer that were malformed, corrupt or cancelled. */
  snapshotsRejected: number;
  /** Incoming messages from this peer that could not be decoded or were addressed elsewhere. */
  messagesRejected: number;
}

export type DropReason = 'queueFull' | 'unreachable' | 'unknownPeer' | 'tooLarge' | 'encodeError' | 'snapshotInFlight' | 'stopped';

export function zeroCounters(): PeerCounters {
  return {
    messagesSent: 0,
    messagesReceived: 0,
    messagesDropped: 0,
    sendErrors: 0,
    connectTimeouts: 0,
    snapshotsSent: 0,
    snapshotsFailed: 0,
    snapshotsReceived: 0,
    snapshotsRejected: 0,
    messagesRejected: 0,
  };
}

export class TransportCounters {
  private readonly peers = new Map<NodeId, PeerCounters>();
  readonly refused: Record<RefusalReason, number> = { missingMetadata: 0, clusterMismatch: 0, wrongTarget: 0 };
  readonly dropped: Record<DropReason, number> = {
    queueFull: 0,
    unreachable: 0,
    unknownPeer: 0,
    tooLarge: 0,
    encodeError: 0,
    snapshotInFlight: 0,
    stopped: 0,
  };

  peer(id: NodeId): PeerCounters {
    let c = this.peers.get(id);
    if (!c) {
      c = zeroCounters();
      this.peers.set(id, c);
    }
    return c;
  }

  drop(id: NodeId, reason: DropReason, count = 1): void {
    this.peer(id).messagesDropped += count;
    this.dropped[reason] += count;
  }

  snapshot(): { peers: Record<NodeId, PeerCounters>; refused: Record<RefusalReason, number>; dropped: Record<DropReason, number> } {
    const peers: Record<NodeId, PeerCounters> = {};
    for (const [id, c] of this.peers) peers[id] = { ...c };
    return { peers, refused: { ...this.refused }, dropped: { ...this.dropped } };
  }
}
