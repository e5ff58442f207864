// Rebuilds a snapshot from the chunks of one SendSnapshot stream and verifies it. Nothing is
// handed out unless header, contiguous chunks and a matching trailer all arrived.
import { createHash, type Hash } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { Message } from '../raft/types.js';
import { CodecError, decodeMessage } from './codec.js';
import type { WireSnapshotChunk, WireU64 } from './wire-types.js';

export class SnapshotStreamError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
    this.name = 'SnapshotStreamError';
  }
}

function invalid(message: string): SnapshotStreamError {
  return new SnapshotStreamError(grpc.status.INVALID_ARGUMENT, message);
}

function toCount(v: WireU64 | undefined, field: string): number {
  const n = Number(v ?? 0);
  if (!Number.isSafeInteger(n) || n < 0) throw invalid(`snapshot ${field} out of range: ${String(v)}`);
  return n;
}

export class SnapshotAssembler {
  private header: Message | undefined;
  private readonly chunks: Uint8Array[] = [];
  private received = 0;
  private readonly hash: Hash = createHash('sha256');
  private complete = false;

  constructor(private readonly maxBytes: number) {}

  get receivedBytes(): number {
    return this.received;
  }

  /** Throws SnapshotStreamError when the chunk does not fit the stream so far. */
  accept(chunk: WireSnapshotChunk): void {
    if (this.complete) throw invalid('snapshot stream continues after its trailer');
    if (chunk.header) return this.acceptHeader(chunk.header.message);
    if (!this.header) throw invalid('snapshot stream must start with a header');
    if (chunk.data) return this.acceptData(toCount(chunk.data.offset, 'chunk offset'), chunk.data.data);
    if (chunk.trailer) return this.acceptTrailer(toCount(chunk.trailer.totalBytes, 'total length'), chunk.trailer.sha256);
    throw invalid('empty snapshot chunk');
  }

  /** The verified 'snap' message with its data; throws if the stream ended early. */
  finish(): Message {
    if (!this.header) throw invalid('snapshot stream ended before its header');
    if (!this.complete) throw invalid(`snapshot stream ended after ${this.received} bytes without a trailer`);
    const data = new Uint8Array(this.received);
    let at = 0;
    for (const c of this.chunks) {
      data.set(c, at);
      at += c.length;
    }
    this.chunks.length = 0;
    const snapshot = this.header.snapshot!;
    return { ...this.header, snapshot: { metadata: snapshot.metadata, data } };
  }

  private acceptHeader(wire: Parameters<typeof decodeMessage>[0] | null): void {
    if (this.header) throw invalid('snapshot stream has a second header');
    if (!wire) throw invalid('snapshot header without a message');
    let message: Message;
    try {
      message = decodeMessage(wire);
    } catch (err) {
      if (err instanceof CodecError) throw invalid(`bad snapshot header: ${err.message}`);
      throw err;
    }
    if (message.type !== 'snap' || !message.snapshot) throw invalid(`snapshot header must carry a snap message with metadata, got ${message.type}`);
    this.header = message;
  }

  private acceptData(offset: number, data: Uint8Array): void {
    if (offset !== this.received) throw new SnapshotStreamError(grpc.status.DATA_LOSS, `snapshot chunk at offset ${offset}, expected ${this.received}: a chunk is missing or out of order`);
    if (this.received + data.length > this.maxBytes) {
      throw new SnapshotStreamError(grpc.status.RESOURCE_EXHAUSTED, `snapshot exceeds the limit of ${this.maxBytes} bytes`);
    }
    this.chunks.push(data);
    this.hash.update(data);
    this.received += data.length;
  }

  private acceptTrailer(totalBytes: number, sha256: Uint8Array): void {
    if (totalBytes !== this.received) {
      throw new SnapshotStreamError(grpc.status.DATA_LOSS, `snapshot trailer says ${totalBytes} bytes but ${this.received} arrived`);
    }
    const actual = this.hash.digest();
    if (!actual.equals(sha256)) throw new SnapshotStreamError(grpc.status.DATA_LOSS, 'snapshot checksum mismatch: data corrupted in transit');
    this.complete = true;
  }
}
