// Streams one 'snap' message to a peer: header (the message, snapshot data left out), the data
// in chunks, then a trailer with the total length and SHA-256. Each chunk is written only after
// gRPC took the previous one, so at most one chunk is buffered beyond the snapshot itself. The
// data is the message's own or, when it carries none, read chunk by chunk from a source (e.g.
// the state machine's state, encoded as it is sent, or a snapshot file that verifies its
// checksum: a damaged file fails the transfer before its trailer).
import { createHash } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { Message } from '../raft/types.js';
import { encodeMessage } from './codec.js';
import type { PeerTransportOptions, SnapshotDataSource } from './options.js';
import { METHOD, peerMethod } from './peer-service.js';
import type { WireSnapshotAck, WireSnapshotChunk } from './wire-types.js';

export interface SnapshotSendOptions {
  chunkBytes: number;
  timeoutMs: number;
  /** Reads the data of a message whose snapshot carries none (see PeerTransportOptions.snapshotData). */
  snapshotData?: PeerTransportOptions['snapshotData'];
}

/** A started snapshot transfer; `done` settles when the receiver accepted or refused it. */
export interface SnapshotTransfer {
  done: Promise<void>;
  cancel(): void;
}

function inMemory(data: Uint8Array): SnapshotDataSource {
  return {
    length: data.length,
    async *chunks(chunkBytes: number) {
      for (let offset = 0; offset < data.length; offset += chunkBytes) yield data.subarray(offset, Math.min(data.length, offset + chunkBytes));
    },
    close: async () => {},
  };
}

export function sendSnapshot(client: grpc.Client, metadata: grpc.Metadata, message: Message, opts: SnapshotSendOptions): SnapshotTransfer {
  const snapshot = message.snapshot;
  if (message.type !== 'snap' || !snapshot) {
    return { done: Promise.reject(new Error(`not a snapshot message: type ${message.type}`)), cancel() {} };
  }
  const header = encodeMessage({ ...message, snapshot: { metadata: snapshot.metadata, data: new Uint8Array() } });
  const fromSource = snapshot.data.length === 0 && opts.snapshotData !== undefined;
  const method = peerMethod(METHOD.sendSnapshot);

  let finished = false;
  let onFinished: () => void = () => {};
  const finishedSignal = new Promise<void>((resolve) => (onFinished = resolve));
  let call: grpc.ClientWritableStream<WireSnapshotChunk> | undefined;
  let total = fromSource ? -1 : snapshot.data.length;
  /** Why this side gave up (the source could not be read or its data is damaged). */
  let failure: Error | undefined;

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
        if (failure) return reject(failure);
        if (err) return reject(err);
        const received = Number(ack?.receivedBytes ?? -1);
        if (received !== total) return reject(new Error(`receiver acknowledged ${received} of ${total} snapshot bytes`));
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
    const source = fromSource ? await opts.snapshotData!(snapshot.metadata) : inMemory(snapshot.data);
    try {
      const expected = source.length;
      if (!(await write({ header: { message: header } }))) return;
      const hash = createHash('sha256');
      let offset = 0;
      for await (const part of source.chunks(opts.chunkBytes)) {
        hash.update(part);
        if (!(await write({ data: { offset, data: part } }))) return;
        offset += part.length;
      }
      if (expected !== undefined && offset !== expected) throw new Error(`snapshot source gave ${offset} of ${expected} bytes`);
      total = offset;
      if (!(await write({ trailer: { totalBytes: total, sha256: hash.digest() } }))) return;
      call?.end();
    } finally {
      await source.close();
    }
  })().catch((err: unknown) => {
    // No trailer went out: the receiver drops what arrived. The status callback then rejects `done` with this reason.
    failure = new Error(`cannot send snapshot ${snapshot.metadata.index}: ${(err as Error).message ?? String(err)}`, { cause: err });
    call?.cancel();
  });

  return {
    done,
    cancel: () => {
      if (!finished) call?.cancel();
    },
  };
}
