// The receiving half: the gRPC server that accepts message streams, snapshot streams and
// forwarded requests from peers, after checking who is calling.
import * as grpc from '@grpc/grpc-js';
import type { Message } from '../raft/types.js';
import { CodecError, decodeMessage } from './codec.js';
import { decodeForwardRequest, encodeForwardResponse, type ForwardHandler } from './forward.js';
import { checkIdentity, type CallIdentity, type Refusal } from './identity.js';
import type { TransportCounters } from './metrics.js';
import { serverOptions, type ResolvedOptions } from './options.js';
import { METHOD, peerServiceDefinition } from './peer-service.js';
import { SnapshotAssembler, SnapshotStreamError } from './snapshot-assembler.js';
import type {
  WireForwardRequest,
  WireForwardResponse,
  WireMessageBatch,
  WireSnapshotAck,
  WireSnapshotChunk,
  WireStreamClosed,
} from './wire-types.js';

export interface PeerServerContext {
  readonly options: ResolvedOptions;
  readonly counters: TransportCounters;
  clusterId(): string;
  /** Logs, counts and reports a refused call. */
  refused(refusal: Refusal): void;
  /** Hands decoded messages addressed to this node to the node. */
  deliver(batch: Message[], identity: CallIdentity): void;
  /** An admitted message stream from `peer` ended without this server ending it (e.g. the peer's process died). */
  streamLost(peer: string): void;
  forwardHandler(): ForwardHandler | undefined;
}

type StatusError = { code: grpc.status; details: string };
type Finish = (error: StatusError | null) => void;

export class PeerServer {
  private server: grpc.Server | null = null;
  /** Open incoming streams, ended by stop() so that shutdown need not wait for peers. */
  private readonly openStreams = new Set<Finish>();

  constructor(private readonly ctx: PeerServerContext) {}

  /** Binds `host:port` (port 0 picks a free one) and returns the bound port. */
  async start(hostPort: string): Promise<number> {
    if (this.server) throw new Error('peer server already started');
    const server = new grpc.Server(serverOptions(this.ctx.options));
    server.addService(peerServiceDefinition(), {
      [METHOD.messageStream]: this.messageStream,
      [METHOD.sendSnapshot]: this.sendSnapshot,
      [METHOD.forward]: this.forward,
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(hostPort, grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(new Error(`cannot listen for peers on ${hostPort}: ${err.message}`)) : resolve(p),
      ),
    );
    this.server = server;
    return port;
  }

  /** Ends open streams, waits up to shutdownGraceMs for calls in progress, then forces. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    for (const finish of [...this.openStreams]) finish({ code: grpc.status.UNAVAILABLE, details: 'member is shutting down' });
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, this.ctx.options.shutdownGraceMs);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private admit(call: { metadata: grpc.Metadata }): CallIdentity | Refusal {
    const checked = checkIdentity(call.metadata, this.ctx.options.selfId, this.ctx.clusterId());
    if ('refused' in checked) {
      this.ctx.refused(checked.refused);
      return checked.refused;
    }
    return checked.ok;
  }

  private readonly messageStream = (
    call: grpc.ServerReadableStream<WireMessageBatch, WireStreamClosed>,
    callback: grpc.sendUnaryData<WireStreamClosed>,
  ): void => {
    const admitted = this.admit(call);
    if ('reason' in admitted) return callback({ code: grpc.status.FAILED_PRECONDITION, details: admitted.message });
    const identity = admitted;
    const { logger, selfId } = this.ctx.options;
    const counters = this.ctx.counters.peer(identity.from);
    let ended = false;
    const finish: Finish = (error) => {
      if (ended) return;
      ended = true;
      this.openStreams.delete(finish);
      if (error) callback(error);
      else callback(null, {});
    };
    this.openStreams.add(finish);
    call.sendMetadata(new grpc.Metadata()); // tells the sender the stream was accepted
    call.on('data', (batch: WireMessageBatch) => {
      if (ended) return;
      const messages: Message[] = [];
      try {
        for (const w of batch.messages) messages.push(decodeMessage(w));
      } catch (err) {
        const details = err instanceof Error ? err.message : String(err);
        counters.messagesRejected += batch.messages.length;
        logger.warn('malformed message batch from peer; closing its stream', { peer: identity.from, error: details });
        const code = err instanceof CodecError ? grpc.status.INVALID_ARGUMENT : grpc.status.INTERNAL;
        return finish({ code, details: `malformed message: ${details}` });
      }
      const mine = messages.filter((m) => m.to === selfId);
      if (mine.length < messages.length) {
        counters.messagesRejected += messages.length - mine.length;
        logger.warn('dropped messages addressed to another member', { peer: identity.from, count: messages.length - mine.length });
      }
      counters.messagesReceived += mine.length;
      if (mine.length > 0) this.ctx.deliver(mine, identity);
    });
    // Our senders never end a stream on their own: its end means the peer cancelled it or its
    // connection broke. Streams this server ends itself (stop, malformed input) are not reported.
    const lost = (): void => {
      if (ended) return;
      finish(null);
      this.ctx.streamLost(identity.from);
    };
    call.on('end', lost);
    call.on('error', lost);
    call.on('cancelled', lost);
  };

  private readonly sendSnapshot = (
    call: grpc.ServerReadableStream<WireSnapshotChunk, WireSnapshotAck>,
    callback: grpc.sendUnaryData<WireSnapshotAck>,
  ): void => {
    const admitted = this.admit(call);
    if ('reason' in admitted) return callback({ code: grpc.status.FAILED_PRECONDITION, details: admitted.message });
    const identity = admitted;
    const { logger, selfId, maxSnapshotBytes } = this.ctx.options;
    const counters = this.ctx.counters.peer(identity.from);
    const assembler = new SnapshotAssembler(maxSnapshotBytes);
    let ended = false;
    const reject = (code: grpc.status, details: string): void => {
      if (ended) return;
      ended = true;
      this.openStreams.delete(finish);
      counters.snapshotsRejected++;
      logger.warn('rejected snapshot stream', { peer: identity.from, receivedBytes: assembler.receivedBytes, error: details });
      callback({ code, details });
    };
    const finish: Finish = (error) => reject(error?.code ?? grpc.status.UNAVAILABLE, error?.details ?? 'snapshot stream ended');
    this.openStreams.add(finish);
    call.on('data', (chunk: WireSnapshotChunk) => {
      if (ended) return;
      try {
        assembler.accept(chunk);
        if (chunk.header) {
          const to = chunk.header.message?.to;
          if (to !== selfId) return reject(grpc.status.INVALID_ARGUMENT, `snapshot message addressed to member '${to}', not ${selfId}`);
          logger.info('receiving snapshot', { peer: identity.from, index: chunk.header.message?.snapshot?.metadata?.index });
        }
      } catch (err) {
        if (err instanceof SnapshotStreamError) reject(err.code, err.message);
        else reject(grpc.status.INTERNAL, String(err));
      }
    });
    call.on('end', () => {
      if (ended) return;
      let message: Message;
      try {
        message = assembler.finish();
      } catch (err) {
        if (err instanceof SnapshotStreamError) return reject(err.code, err.message);
        return reject(grpc.status.INTERNAL, String(err));
      }
      ended = true;
      this.openStreams.delete(finish);
      counters.snapshotsReceived++;
      counters.messagesReceived++;
      logger.info('received snapshot', { peer: identity.from, index: message.snapshot!.metadata.index, bytes: message.snapshot!.data.length });
      this.ctx.deliver([message], identity);
      callback(null, { receivedBytes: message.snapshot!.data.length });
    });
    call.on('error', () => reject(grpc.status.CANCELLED, 'snapshot stream failed mid-way'));
    call.on('cancelled', () => reject(grpc.status.CANCELLED, 'snapshot stream cancelled by the sender'));
  };

  private readonly forward = (
    call: grpc.ServerUnaryCall<WireForwardRequest, WireForwardResponse>,
    callback: grpc.sendUnaryData<WireForwardResponse>,
  ): void => {
    const admitted = this.admit(call);
    if ('reason' in admitted) return callback({ code: grpc.status.FAILED_PRECONDITION, details: admitted.message });
    const handler = this.ctx.forwardHandler();
    if (!handler) return callback({ code: grpc.status.UNIMPLEMENTED, details: `member ${this.ctx.options.selfId} does not accept forwarded requests` });
    const request = decodeForwardRequest(call.request);
    handler(request, admitted.from).then(
      (response) => {
        try {
          callback(null, encodeForwardResponse(response));
        } catch (err) {
          callback({ code: grpc.status.INTERNAL, details: (err as Error).message });
        }
      },
      (err: unknown) => {
        this.ctx.options.logger.warn('forward handler failed', { peer: admitted.from, method: request.method, path: request.path, error: String(err) });
        callback({ code: grpc.status.INTERNAL, details: `forward handler failed: ${err instanceof Error ? err.message : String(err)}` });
      },
    );
  };
}
