// PeerTransport: everything a kuorum node needs to talk Raft to its peers over gRPC.
import * as grpc from '@grpc/grpc-js';
import type { Message, NodeId } from '../raft/types.js';
import { decodeForwardResponse, encodeForwardRequest, ForwardError, forwardErrorFromStatus, type ForwardHandler, type ForwardRequest, type ForwardResponse } from './forward.js';
import { identityMetadata, type CallIdentity, type Refusal, type RefusalReason } from './identity.js';
import { LogThrottle } from './log-throttle.js';
import { TransportCounters, type DropReason, type PeerCounters } from './metrics.js';
import { clientChannelOptions, resolveOptions, type PeerTransportOptions, type ResolvedOptions } from './options.js';
import { PeerChannel } from './peer-channel.js';
import { PeerSender, type PeerSenderState } from './peer-sender.js';
import { PeerServer } from './peer-server.js';
import { METHOD, peerMethod } from './peer-service.js';
import { sendSnapshot, type SnapshotTransfer } from './snapshot-sender.js';
import type { WireForwardRequest, WireForwardResponse } from './wire-types.js';

/** `fromAddress`: the sender's advertised peer address, when its calls carry one. */
export type MessageHandler = (batch: Message[], from: NodeId, fromAddress: string | undefined) => void;

export interface RefusedCall {
  reason: RefusalReason;
  message: string;
  clusterId?: string;
  from?: string;
  to?: string;
}

export interface PeerQueueStatus {
  address: string;
  state: PeerSenderState;
  /** The message stream is open and was accepted by the peer. */
  connected: boolean;
  queuedMessages: number;
  queuedBytes: number;
  pendingWrites: number;
  snapshotInFlight: boolean;
}

export interface TransportStats {
  /** Counters per peer ID, including peers that were removed and callers never added as peers. */
  peers: Record<NodeId, PeerCounters>;
  /** Refused incoming calls by reason. */
  refused: Record<RefusalReason, number>;
  /** Dropped outgoing messages by reason (all peers). */
  dropped: Record<DropReason, number>;
  /** Current send queues of the configured peers. */
  queues: Record<NodeId, PeerQueueStatus>;
}

interface Peer {
  id: NodeId;
  address: string;
  channel: PeerChannel;
  sender: PeerSender;
  snapshot?: SnapshotTransfer;
  forwards: Set<grpc.ClientUnaryCall>;
}

/** Message types only a leader sends: receiving one is "leader contact". */
const LEADER_CONTACT: ReadonlySet<string> = new Set(['app', 'heartbeat', 'snap']);

export class PeerTransport {
  private readonly o: ResolvedOptions;
  private readonly counters = new TransportCounters();
  private readonly peers = new Map<NodeId, Peer>();
  private readonly server: PeerServer;
  private readonly throttle = new LogThrottle();
  private ownClusterId: string;
  private started = false;
  private stopped = false;
  private boundPort = 0;
  private readonly unreachable = new Set<NodeId>();
  private unreachableFlushScheduled = false;
  private readonly connectionsLost = new Set<NodeId>();
  private connectionsLostFlushScheduled = false;

  private messageHandler: MessageHandler = () => {};
  private unreachableHandler: (id: NodeId) => void = () => {};
  private connectionLostHandler: (id: NodeId) => void = () => {};
  private snapshotStatusHandler: (id: NodeId, ok: boolean) => void = () => {};
  private refusedHandler: (r: RefusedCall) => void = () => {};
  private clusterIdLearnedHandler: (clusterId: string) => void = () => {};
  private forwardHandler: ForwardHandler | undefined;

  constructor(options: PeerTransportOptions) {
    this.o = resolveOptions(options);
    this.ownClusterId = this.o.clusterId;
    this.server = new PeerServer({
      options: this.o,
      counters: this.counters,
      clusterId: () => this.ownClusterId,
      refused: (r) => this.handleRefusal(r),
      deliver: (batch, identity) => this.deliver(batch, identity),
      streamLost: (peer) => this.reportConnectionLost(peer),
      forwardHandler: () => this.forwardHandler,
    });
  }

  // ---- lifecycle ----

  /** Listens for peers on `host:port` (port 0 = any free port); resolves to the bound port. */
  async start(listenHostPort: string): Promise<number> {
    if (this.started) throw new Error('PeerTransport already started');
    if (this.stopped) throw new Error('PeerTransport was stopped; create a new one');
    this.started = true;
    this.boundPort = await this.server.start(listenHostPort);
    this.o.logger.info('peer transport listening', { address: listenHostPort, port: this.boundPort, member: this.o.selfId });
    return this.boundPort;
  }

  /** The port start() bound, or 0 before start. */
  get port(): number {
    return this.boundPort;
  }

  /**
   * Closes outgoing streams (queued messages are dropped), cancels snapshot transfers and
   * forwarded calls, ends incoming streams, then shuts the server down: gracefully for up to
   * shutdownGraceMs, then forcibly. No callbacks fire after stop() has been called.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const peer of this.peers.values()) this.closePeer(peer);
    this.peers.clear();
    await this.server.stop();
  }

  // ---- peers ----

  /** Adds a peer, or moves it to a new address (closing the old connection). */
  addPeer(id: NodeId, address: string): void {
    if (!id) throw new Error('peer ID must not be empty');
    if (id === this.o.selfId) throw new Error(`cannot add this member (${id}) as its own peer`);
    if (typeof address !== 'string' || address.trim() === '') throw new Error(`peer ${id} needs a non-empty host:port address`);
    if (this.stopped) return;
    const existing = this.peers.get(id);
    if (existing) {
      if (existing.address === address) return;
      this.closePeer(existing);
    }
    const channel = new PeerChannel(address, clientChannelOptions(this.o));
    const sender = new PeerSender(id, address, channel, {
      options: this.o,
      counters: this.counters,
      metadataFor: (peerId) => this.metadataFor(peerId),
      reportUnreachable: (peerId) => this.reportUnreachable(peerId),
      reportConnectionLost: (peerId) => this.reportConnectionLost(peerId),
      reportDrop: (peerId, reason, count, detail) => this.reportDrop(peerId, reason, count, detail),
    });
    this.peers.set(id, { id, address, channel, sender, forwards: new Set() });
    this.o.logger.info(existing ? 'peer address changed' : 'peer added', { peer: id, address, previous: existing?.address });
  }

  /** Same as addPeer: the peer's address changed (or it is new). */
  updatePeer(id: NodeId, address: string): void {
    this.addPeer(id, address);
  }

  /** Forgets a peer: its queue is dropped, its streams and calls are cancelled. Unknown IDs are ignored. */
  removePeer(id: NodeId): void {
    const peer = this.peers.get(id);
    if (!peer) return;
    this.peers.delete(id);
    this.closePeer(peer);
    this.o.logger.info('peer removed', { peer: id, address: peer.address });
  }

  hasPeer(id: NodeId): boolean {
    return this.peers.has(id);
  }

  peerAddress(id: NodeId): string | undefined {
    return this.peers.get(id)?.address;
  }

  // ---- cluster identity ----

  get clusterId(): string {
    return this.ownClusterId;
  }

  /**
   * Sets this node's cluster ID (at bootstrap, on restart, or once it learned it). Open
   * outgoing streams are re-opened so that they carry the new ID.
   */
  setClusterId(clusterId: string): void {
    if (clusterId === this.ownClusterId) return;
    this.ownClusterId = clusterId;
    for (const p of this.peers.values()) p.sender.reopen();
  }

  // ---- sending ----

  /**
   * Sends messages without blocking: groups them by destination onto per-peer queues that are
   * flushed once per event-loop turn (one stream write per peer). 'snap' messages are streamed
   * in chunks by SendSnapshot, at most one at a time per peer. Messages that cannot be sent
   * soon (unknown peer, full queue, peer in reconnect backoff, too large) are dropped, counted
   * and reported through onUnreachable; this never throws.
   */
  send(messages: Message[]): void {
    for (const m of messages) {
      try {
        this.sendOne(m);
      } catch (err) {
        this.reportDrop(String(m?.to), 'encodeError', 1, String(err));
      }
    }
  }

  private sendOne(m: Message): void {
    if (this.stopped) return this.reportDrop(m.to, 'stopped', 1);
    const peer = this.peers.get(m.to);
    if (!peer) return this.reportDrop(m.to, 'unknownPeer', 1, `no peer with ID '${m.to}' (message type ${m.type})`);
    if (m.type === 'snap') return this.startSnapshot(peer, m);
    peer.sender.enqueue(m);
  }

  private startSnapshot(peer: Peer, m: Message): void {
    if (peer.snapshot) return this.reportDrop(peer.id, 'snapshotInFlight', 1, 'a snapshot transfer to this peer is already in flight');
    const index = m.snapshot?.metadata.index;
    const bytes = m.snapshot?.data.length || undefined; // unknown here when read from the snapshot file
    const counters = this.counters.peer(peer.id);
    let transfer: SnapshotTransfer;
    try {
      transfer = sendSnapshot(peer.channel.current, this.metadataFor(peer.id), m, {
        chunkBytes: this.o.snapshotChunkBytes,
        timeoutMs: this.o.snapshotTimeoutMs,
        snapshotData: this.o.snapshotData,
      });
    } catch (err) {
      // The core waits for a snapshot status either way; report the failure asynchronously like any other.
      counters.snapshotsFailed++;
      this.reportDrop(peer.id, 'encodeError', 1, `snapshot message cannot be encoded: ${String(err)}`);
      setImmediate(() => !this.stopped && this.safely('onSnapshotStatus', () => this.snapshotStatusHandler(peer.id, false)));
      return;
    }
    peer.snapshot = transfer;
    this.o.logger.info('sending snapshot', { peer: peer.id, index, bytes });
    transfer.done.then(
      () => {
        counters.snapshotsSent++;
        counters.messagesSent++;
        this.o.logger.info('snapshot sent', { peer: peer.id, index, bytes });
        if (!this.stopped) this.safely('onSnapshotStatus', () => this.snapshotStatusHandler(peer.id, true));
      },
      (err: unknown) => {
        counters.snapshotsFailed++;
        counters.sendErrors++;
        const e = err as Partial<grpc.ServiceError>;
        this.o.logger.warn('snapshot transfer failed', { peer: peer.id, index, bytes, error: e.details ?? e.message ?? String(err) });
        if (!this.stopped) this.safely('onSnapshotStatus', () => this.snapshotStatusHandler(peer.id, false));
      },
    ).finally(() => {
      if (peer.snapshot === transfer) peer.snapshot = undefined;
    });
  }

  // ---- forwarding ----

  /** Serves Forward calls from peers; without a handler they fail with UNIMPLEMENTED. */
  setForwardHandler(handler: ForwardHandler | undefined): void {
    this.forwardHandler = handler;
  }

  /**
   * Sends an HTTP request to a peer (the leader) and resolves to its response. Rejects with a
   * ForwardError (kind 'unknownPeer' | 'unreachable' | 'timeout' | 'refused' | 'interrupted' |
   * 'remote') within about timeoutMs.
   */
  forward(peerId: NodeId, request: ForwardRequest, timeoutMs: number): Promise<ForwardResponse> {
    const peer = this.peers.get(peerId);
    if (!peer) return Promise.reject(new ForwardError('unknownPeer', peerId, `forward: no peer with ID '${peerId}'`));
    if (this.stopped) return Promise.reject(new ForwardError('unreachable', peerId, 'forward: the peer transport is stopped'));
    const method = peerMethod(METHOD.forward);
    return new Promise((resolve, reject) => {
      const call = peer.channel.current.makeUnaryRequest<WireForwardRequest, WireForwardResponse>(
        method.path,
        method.requestSerialize as (v: WireForwardRequest) => Buffer,
        method.responseDeserialize as (b: Buffer) => WireForwardResponse,
        encodeForwardRequest(request),
        this.metadataFor(peerId),
        { deadline: Date.now() + timeoutMs },
        (err, response) => {
          peer.forwards.delete(call);
          if (err) return reject(forwardErrorFromStatus(err, peerId, peer.address, timeoutMs));
          if (!response) return reject(new ForwardError('remote', peerId, `forward to member ${peerId}: empty response`));
          resolve(decodeForwardResponse(response));
        },
      );
      peer.forwards.add(call);
    });
  }

  // ---- callbacks (one handler each; a later call replaces the earlier handler) ----

  /** Received messages addressed to this node, one call per received batch, in stream order. */
  onMessage(handler: MessageHandler): void {
    this.messageHandler = handler;
  }

  /** A peer could not be reached or messages to it were dropped: call RawNode.reportUnreachable. Coalesced per event-loop turn. */
  onUnreachable(handler: (id: NodeId) => void): void {
    this.unreachableHandler = handler;
  }

  /**
   * A connection with a peer ended abruptly: its message stream to us ended, or our accepted
   * stream to it broke. When a peer's process dies the kernel closes its sockets at once, so
   * this comes long before any timeout: call RawNode.suspectLeader(id). Also fires when a
   * connection merely resets, so it is a hint, not proof. Coalesced per event-loop turn; never
   * for streams this transport closes itself (removePeer, stop).
   */
  onConnectionLost(handler: (id: NodeId) => void): void {
    this.connectionLostHandler = handler;
  }

  /** Outcome of a snapshot transfer: call RawNode.reportSnapshot(id, ok). */
  onSnapshotStatus(handler: (id: NodeId, ok: boolean) => void): void {
    this.snapshotStatusHandler = handler;
  }

  /** An incoming call was refused (wrong cluster, wrong target, missing metadata). */
  onRefused(handler: (refusal: RefusedCall) => void): void {
    this.refusedHandler = handler;
  }

  /** An unjoined node adopted its cluster ID from the first leader contact: persist it. */
  onClusterIdLearned(handler: (clusterId: string) => void): void {
    this.clusterIdLearnedHandler = handler;
  }

  // ---- metrics ----

  stats(): TransportStats {
    const queues: Record<NodeId, PeerQueueStatus> = {};
    for (const p of this.peers.values()) {
      const q = p.sender.queued;
      queues[p.id] = {
        address: p.address,
        state: p.sender.state,
        connected: p.sender.isConnected,
        queuedMessages: q.messages,
        queuedBytes: q.bytes,
        pendingWrites: q.pendingWrites,
        snapshotInFlight: p.snapshot !== undefined,
      };
    }
    return { ...this.counters.snapshot(), queues };
  }

  // ---- internals ----

  private metadataFor(peerId: NodeId): grpc.Metadata {
    return identityMetadata({ clusterId: this.ownClusterId, from: this.o.selfId, to: peerId, fromAddress: this.o.advertiseAddress });
  }

  private closePeer(peer: Peer): void {
    peer.sender.close();
    peer.snapshot?.cancel();
    for (const call of peer.forwards) call.cancel();
    peer.forwards.clear();
    peer.channel.close();
  }

  private deliver(batch: Message[], identity: CallIdentity): void {
    if (this.stopped) return;
    if (this.ownClusterId === '' && identity.clusterId !== '' && batch.some((m) => LEADER_CONTACT.has(m.type))) {
      this.setClusterId(identity.clusterId);
      this.o.logger.info('learned cluster ID from leader contact', { clusterId: identity.clusterId, leader: identity.from });
      this.safely('onClusterIdLearned', () => this.clusterIdLearnedHandler(identity.clusterId));
    }
    this.safely('onMessage', () => this.messageHandler(batch, identity.from, identity.fromAddress));
  }

  private handleRefusal(r: Refusal): void {
    // Counted by reason only: a refused caller's claimed ID must not grow per-peer state.
    this.counters.refused[r.reason]++;
    const suppressed = this.throttle.take(`refused:${r.reason}`);
    if (suppressed >= 0) this.o.logger.warn('refused peer call', { reason: r.reason, error: r.message, ...r.identity, suppressed });
    if (!this.stopped) {
      this.safely('onRefused', () =>
        this.refusedHandler({ reason: r.reason, message: r.message, clusterId: r.identity.clusterId, from: r.identity.from, to: r.identity.to }),
      );
    }
  }

  private reportDrop(peerId: NodeId, reason: DropReason, count: number, detail?: string): void {
    this.counters.drop(peerId, reason, count);
    const suppressed = this.throttle.take(`drop:${reason}:${peerId}`);
    if (suppressed >= 0) this.o.logger.warn('dropped messages', { peer: peerId, reason, count, detail, suppressed });
  }

  private reportUnreachable(peerId: NodeId): void {
    this.unreachable.add(peerId);
    if (this.unreachableFlushScheduled) return;
    this.unreachableFlushScheduled = true;
    setImmediate(() => {
      this.unreachableFlushScheduled = false;
      const ids = [...this.unreachable];
      this.unreachable.clear();
      if (this.stopped) return;
      for (const id of ids) this.safely('onUnreachable', () => this.unreachableHandler(id));
    });
  }

  private reportConnectionLost(peerId: NodeId): void {
    if (this.stopped) return;
    this.connectionsLost.add(peerId);
    if (this.connectionsLostFlushScheduled) return;
    this.connectionsLostFlushScheduled = true;
    setImmediate(() => {
      this.connectionsLostFlushScheduled = false;
      const ids = [...this.connectionsLost];
      this.connectionsLost.clear();
      if (this.stopped) return;
      for (const id of ids) this.safely('onConnectionLost', () => this.connectionLostHandler(id));
    });
  }

  private safely(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.o.logger.error(`${what} handler threw`, { error: err instanceof Error ? err.stack : String(err) });
    }
  }
}
