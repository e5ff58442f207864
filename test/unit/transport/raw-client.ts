// A bare gRPC client of the Peer service, for sending what a well-behaved transport never would.
import * as grpc from '@grpc/grpc-js';
import { METHOD, peerMethod } from '../../../node/src/transport/peer-service.js';
import type { WireMessageBatch, WireSnapshotAck, WireSnapshotChunk, WireStreamClosed } from '../../../node/src/transport/wire-types.js';

export function rawClient(address: string): grpc.Client {
  return new grpc.Client(address, grpc.credentials.createInsecure(), { 'grpc.enable_retries': 0 });
}

export interface RawStream<Req> {
  call: grpc.ClientWritableStream<Req>;
  /** Resolves with the call's final status (never rejects). */
  status: Promise<{ code: grpc.status; details: string }>;
}

function open<Req, Res>(client: grpc.Client, name: (typeof METHOD)[keyof typeof METHOD], md: grpc.Metadata): RawStream<Req> {
  const m = peerMethod(name);
  let call!: grpc.ClientWritableStream<Req>;
  const status = new Promise<{ code: grpc.status; details: string }>((resolve) => {
    call = client.makeClientStreamRequest<Req, Res>(
      m.path,
      m.requestSerialize as (v: Req) => Buffer,
      m.responseDeserialize as (b: Buffer) => Res,
      md,
      {},
      (err) => resolve(err ? { code: err.code, details: err.details } : { code: grpc.status.OK, details: '' }),
    );
  });
  call.on('error', () => {});
  return { call, status };
}

export function openRawMessageStream(client: grpc.Client, md: grpc.Metadata): RawStream<WireMessageBatch> {
  return open<WireMessageBatch, WireStreamClosed>(client, METHOD.messageStream, md);
}

export function openRawSnapshotStream(client: grpc.Client, md: grpc.Metadata): RawStream<WireSnapshotChunk> {
  return open<WireSnapshotChunk, WireSnapshotAck>(client, METHOD.sendSnapshot, md);
}
