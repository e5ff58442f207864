// The sending half of one peer: a bounded queue feeding one long-lived MessageStream call,
// re-opened with exponential backoff when it breaks.
import * as grpc from '@grpc/grpc-js';
import type { Message, NodeId } from '../raft/types.js';
import { backoffDelay } from './backoff.js';
import { CodecError, encodeMessage, estimateMessageBytes } from './codec.js';
import type { DropReason, TransportCounters } from './metrics.js';
import type { ResolvedOptions } from './options.js';
import type { PeerChannel } from './peer-channel.js';
import { METHOD, peerMethod } from './peer-service.js';
import type { WireMessage, WireMessageBatch, WireStreamClosed } from './wire-types.js';

export interface PeerSenderContext {
  readonly options: ResolvedOptions;
  readonly counters: TransportCounters;
  metadataFor(peerId: NodeId): grpc.Metadata;
  reportUnreachable(peerId: NodeId): void;
  /** A stream the peer had accepted broke (not one we cancelled ourselves). */
  reportConnectionLost(peerId: NodeId): void;
  reportDrop(peerId: NodeId, reason: DropReason, count: number, detail?: string): void;
}

/**
 * idle: no stream open (none needed yet, or the backoff has passed);
 * open: a stream is open, queued messages are written to it;
 * backoff: the last stream broke; messages are dropped until the backoff timer fires;
 * closed: the peer was removed or the transport stopped.
 */
export type PeerSenderState = 'idle' | 'open' | 'backoff' | 'closed';

interface Queued {
  message: Message;
  bytes: number;
}

export class PeerSender {
  private queue: Queued[] = [];
  private queuedBytes = 0;
  private call: grpc.ClientWritableStream<WireMessageBatch> | null = null;
  /** Identifies the current call, so callbacks of a replaced call are ignored. */
  private generation = 0;
  private pendingWrites = 0;
  private flushScheduled = false;
  private attempt = 0;
  private connected = false;
  private backoffTimer: NodeJS.Timeout | null = null;
  private connectTimer: NodeJS.Timeout | null = null;
  private currentState: PeerSenderState = 'idle';

  constructor(
    readonly peerId: NodeId,
    readonly address: string,
    private readonly channel: PeerChannel,
    private readonly ctx: PeerSenderContext,
  ) {}

  get state(): PeerSenderState {
    return this.currentState;
  }

  get queued(): { messages: number; bytes: number; pendingWrites: number } {
    return { messages: this.queue.length, bytes: this.queuedBytes, pendingWrites: this.pendingWrites };
  }

  /** True while the current stream has been accepted by the peer. */
  get isConnected(): boolean {
    return this.currentState === 'open' && this.connected;
  }

  /**
   * Replaces the current stream with a new one (keeping the queue), e.g. because the call
   * metadata changed. Writes handed to the old stream may be lost, as on any reconnect.
   */
  reopen(): void {
    if (this.currentState !== 'open') return;
    const call = this.call;
    this.call = null;
    this.generation++;
    this.pendingWrites = 0;
    this.connected = false;
    this.currentState = 'idle';
    this.clearConnectTimer();
    call?.cancel();
    this.scheduleFlush();
  }

  /** Queues one message for the next write; drops it (and says so) when it cannot be sent soon. */
  enqueue(message: Message): void {
    const o = this.ctx.options;
    if (this.currentState === 'closed') {
      this.ctx.reportDrop(this.peerId, 'stopped', 1);
      return;
    }
    if (this.currentState === 'backoff') {
      this.ctx.reportDrop(this.peerId, 'unreachable', 1);
      this.ctx.reportUnreachable(this.peerId);
      return;
    }
    const bytes = estimateMessageBytes(message);
    if (bytes > o.maxMessageBytes * 0.9) {
      this.ctx.reportDrop(this.peerId, 'tooLarge', 1, `message of ~${bytes} bytes is too close to the gRPC limit of ${o.maxMessageBytes} bytes`);
      this.ctx.reportUnreachable(this.peerId);
      return;
    }
    if (this.queue.length >= o.maxQueuedMessages || this.queuedBytes + bytes > o.maxQueuedBytes) {
      this.ctx.reportDrop(this.peerId, 'queueFull', 1);
      this.ctx.reportUnreachable(this.peerId);
      return;
    }
    this.queue.push({ message, bytes });
    this.queuedBytes += bytes;
    this.scheduleFlush();
  }

  close(): void {
    if (this.currentState === 'closed') return;
    this.currentState = 'closed';
    if (this.backoffTimer) clearTimeout(this.backoffTimer);
    this.backoffTimer = null;
    this.clearConnectTimer();
    this.dropQueue('stopped');
    const call = this.call;
    this.call = null;
    this.generation++;
    call?.cancel();
  }

  /** Everything queued in one tick goes out in one write (split only at maxBatchBytes). */
  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.queue.length === 0) return;
    if (this.currentState === 'idle') this.openStream();
    const call = this.call;
    if (this.currentState !== 'open' || !call) return;
    const o = this.ctx.options;
    while (this.queue.length > 0 && this.pendingWrites < o.maxPendingWrites) {
      const batch: WireMessage[] = [];
      let batchBytes = 0;
      let taken = 0;
      while (taken < this.queue.length) {
        const q = this.queue[taken]!;
        if (batch.length > 0 && batchBytes + q.bytes > o.maxBatchBytes) break;
        taken++;
        try {
          batch.push(encodeMessage(q.message));
          batchBytes += q.bytes;
        } catch (err) {
          if (!(err instanceof CodecError)) throw err;
          this.ctx.reportDrop(this.peerId, 'encodeError', 1, err.message);
        }
      }
      for (const q of this.queue.splice(0, taken)) this.queuedBytes -= q.bytes;
      if (batch.length === 0) continue;
      this.write(call, batch);
    }
  }

  private write(call: grpc.ClientWritableStream<WireMessageBatch>, messages: WireMessage[]): void {
    const generation = this.generation;
    this.pendingWrites++;
    // A write that fails ends the call; its status callback then starts the backoff.
    call.write({ messages }, (err: Error | null | undefined) => {
      if (generation !== this.generation) return;
      this.pendingWrites--;
      if (err) return; // the call's status callback handles the failure
      this.ctx.counters.peer(this.peerId).messagesSent += messages.length;
      this.scheduleFlush();
    });
  }

  private openStream(): void {
    const method = peerMethod(METHOD.messageStream);
    const generation = ++this.generation;
    this.pendingWrites = 0;
    this.connected = false;
    const call = this.channel.current.makeClientStreamRequest<WireMessageBatch, WireStreamClosed>(
      method.path,
      method.requestSerialize as (v: WireMessageBatch) => Buffer,
      method.responseDeserialize as (b: Buffer) => WireStreamClosed,
      this.ctx.metadataFor(this.peerId),
      {},
      (err) => this.onStreamEnd(generation, err),
    );
    // The receiver sends response headers as soon as it has accepted the stream.
    call.on('metadata', () => {
      if (generation !== this.generation) return;
      this.clearConnectTimer();
      if (!this.connected) this.ctx.options.logger.debug('peer stream accepted', { peer: this.peerId, address: this.address });
      this.connected = true;
      this.attempt = 0;
    });
    call.on('error', () => {}); // reported through the status callback
    this.call = call;
    this.currentState = 'open';
    this.connectTimer = setTimeout(() => this.connectTimedOut(generation), this.ctx.options.connectTimeoutMs);
  }

  /** The peer has not accepted the stream in time: dial again on a fresh channel. */
  private connectTimedOut(generation: number): void {
    this.connectTimer = null;
    if (generation !== this.generation || this.connected || this.currentState !== 'open') return;
    this.ctx.options.logger.debug('peer stream not accepted in time; renewing the channel', {
      peer: this.peerId,
      address: this.address,
      afterMs: this.ctx.options.connectTimeoutMs,
    });
    this.ctx.counters.peer(this.peerId).connectTimeouts++;
    this.channel.renew();
    this.call?.cancel(); // its status callback starts the backoff
  }

  private clearConnectTimer(): void {
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.connectTimer = null;
  }

  private onStreamEnd(generation: number, err: grpc.ServiceError | null): void {
    if (generation !== this.generation || this.currentState === 'closed') return;
    this.clearConnectTimer();
    this.call = null;
    this.generation++;
    this.pendingWrites = 0;
    const counters = this.ctx.counters.peer(this.peerId);
    counters.sendErrors++;
    const wasConnected = this.connected;
    // A stream the peer had accepted is retried at once: if only the connection reset, the peer
    // hears from us again well within the grace a follower gives a leader it lost the
    // connection to (see Raft suspectLeader). Failing dials back off as usual.
    const delay = wasConnected ? 0 : backoffDelay(this.attempt++, this.ctx.options.backoff, this.ctx.options.random);
    const fields = {
      peer: this.peerId,
      address: this.address,
      code: err?.code ?? 0,
      error: err?.details ?? 'stream closed by the receiver',
      retryInMs: delay,
    };
    if (err?.code === grpc.status.FAILED_PRECONDITION) this.ctx.options.logger.warn('peer refused the message stream', fields);
    else if (this.connected) this.ctx.options.logger.warn('peer stream broke', fields);
    else this.ctx.options.logger.debug('peer stream failed', fields);
    this.connected = false;
    this.dropQueue('unreachable');
    this.ctx.reportUnreachable(this.peerId);
    if (wasConnected) this.ctx.reportConnectionLost(this.peerId);
    this.currentState = 'backoff';
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = null;
      if (this.currentState !== 'backoff') return;
      this.currentState = 'idle';
      this.scheduleFlush();
    }, delay);
  }

  private dropQueue(reason: DropReason): void {
    if (this.queue.length > 0) this.ctx.reportDrop(this.peerId, reason, this.queue.length);
    this.queue = [];
    this.queuedBytes = 0;
  }
}
