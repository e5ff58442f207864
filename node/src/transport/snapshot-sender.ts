// Streams one 'snap' message to a peer: header (the message, snapshot data left out), the data
// in chunks, then a trailer with the total length and SHA-256. Each chunk is written only after
// gRPC took the previous one, so at most one chunk is buffered beyond the snapshot itself.
import { createHash } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { Message } from '../raft/types.js';
import { encodeMessage } from './codec.js';
import { METHOD, peerMethod } from './peer-service.js';
import type { WireSnapshotAck, WireSnapshotChunk } from './wire-types.js';

export interface SnapshotSendOptions {
  chunkBytes: number;
  timeoutMs: number;
}

/** A started snapshot transfer; `done` settles when the receiver accepted or refused it. */
export interface SnapshotTransfer {
  done: Promise<void>;
  cancel(): void;
}

export function sendSnapshot(client: grpc.Client, metadata: grpc.Metadata, message: Message, opts: SnapshotSendOptions): SnapshotTransfer {
  const snapshot = message.snapshot;
  if (message.type !== 'snap' || !snapshot) {
    return { done: Promise.reject(new Error(`not a snapshot message: type ${message.type}`)), cancel() {} };
  }
  const header = encodeMessage({ ...message, snapshot: { metadata: snapshot.metadata, data: new Uint8Array() } });
  const data = snapshot.data;
  const method = peerMethod(METHOD.sendSnapshot);

  let finished = false;
  let onFinished: () => void = () => {};
  const finishedSignal = new Promise<void>((resolve) => (onFinished = resolve));
  let call: grpc.ClientWritableStream<WireSnapshotChunk> | undefined;

  const done = new Promise<void>((resolve, reject) => {
    call = client.makeClientStreamRequest<WireSnapshotChunk, WireSnapshotAck>(
      method.path,
      method.requestSerialize as (v: WireSnapshotChunk) => Buffer,
      method.responseDeserialize as (b: Buffer) => WireSnapshotAck,
      metadata,
      { deadline: Date.now() + opts.timeoutMs },
      (err, ack) => {
        finished = true;
        onFinished();
        if (err) return reject(err);
        const received = Number(ack?.receivedBytes ?? -1);
        if (received !== data.length) return reject(new Error(`receiver acknowledged ${received} of ${data.length} snapshot bytes`));
        resolve();
      },
    );
    call.on('error', () => {}); // reported through the status callback
  });

  const write = async (chunk: WireSnapshotChunk): Promise<boolean> => {
    if (finished || !call) return false;
    const c = call;
    const written = new Promise<void>((resolve) => c.write(chunk, () => resolve()));
    await Promise.race([written, finishedSignal]);
    return !finished;
  };

  void (async () => {
    if (!(await write({ header: { message: header } }))) return;
    const hash = createHash('sha256');
    for (let offset = 0; offset < data.length; offset += opts.chunkBytes) {
      const part = data.subarray(offset, Math.min(data.length, offset + opts.chunkBytes));
      hash.update(part);
      if (!(await write({ data: { offset, data: part } }))) return;
    }
    if (!(await write({ trailer: { totalBytes: data.length, sha256: hash.digest() } }))) return;
    call?.end();
  })().catch(() => call?.cancel()); // the status callback then rejects `done`

  return {
    done,
    cancel: () => {
      if (!finished) call?.cancel();
    },
  };
}
