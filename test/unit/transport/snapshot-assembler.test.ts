import { createHash } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import type { Message } from '../../../node/src/raft/types.js';
import { encodeMessage } from '../../../node/src/transport/codec.js';
import { SnapshotAssembler, SnapshotStreamError } from '../../../node/src/transport/snapshot-assembler.js';
import type { WireSnapshotChunk } from '../../../node/src/transport/wire-types.js';

const snapMessage: Message = {
  type: 'snap',
  from: 'a',
  to: 'b',
  term: 4,
  logTerm: 0,
  index: 0,
  entries: [],
  commit: 0,
  reject: false,
  rejectHint: 0,
  snapshot: { metadata: { index: 10, term: 3, confState: { voters: ['a', 'b'], learners: [] } }, data: new Uint8Array() },
};
const data = Uint8Array.from({ length: 1000 }, (_, i) => i % 251);
const header: WireSnapshotChunk = { header: { message: encodeMessage(snapMessage) } };
const chunk = (offset: number, end: number): WireSnapshotChunk => ({ data: { offset, data: data.subarray(offset, end) } });
const trailer = (total = data.length, bytes: Uint8Array = data): WireSnapshotChunk => ({
  trailer: { totalBytes: total, sha256: createHash('sha256').update(bytes).digest() },
});

function feed(chunks: WireSnapshotChunk[], max = 1 << 20): Message {
  const a = new SnapshotAssembler(max);
  for (const c of chunks) a.accept(c);
  return a.finish();
}

function failure(chunks: WireSnapshotChunk[], max?: number): SnapshotStreamError {
  try {
    feed(chunks, max);
  } catch (err) {
    if (err instanceof SnapshotStreamError) return err;
    throw err;
  }
  throw new Error('expected the stream to be rejected');
}

describe('snapshot assembler', () => {
  it('rebuilds the snap message from header, chunks and trailer', () => {
    const m = feed([header, chunk(0, 400), chunk(400, 800), chunk(800, 1000), trailer()]);
    expect(m).toEqual({ ...snapMessage, snapshot: { ...snapMessage.snapshot!, data } });
  });

  it('rejects a missing chunk, a checksum mismatch, a wrong length and a missing trailer', () => {
    expect(failure([header, chunk(0, 400), chunk(800, 1000), trailer()])).toMatchObject({ code: grpc.status.DATA_LOSS, message: /chunk is missing/ });
    const corrupt = Uint8Array.from(data);
    corrupt[5] = corrupt[5]! ^ 1;
    expect(failure([header, chunk(0, 1000), trailer(1000, corrupt)])).toMatchObject({ code: grpc.status.DATA_LOSS, message: /checksum mismatch/ });
    expect(failure([header, chunk(0, 1000), trailer(999)])).toMatchObject({ code: grpc.status.DATA_LOSS, message: /says 999 bytes but 1000 arrived/ });
    expect(failure([header, chunk(0, 1000)])).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, message: /without a trailer/ });
  });

  it('rejects streams out of shape and snapshots over the size limit', () => {
    expect(failure([chunk(0, 10)])).toMatchObject({ message: /must start with a header/ });
    expect(failure([header, header])).toMatchObject({ message: /second header/ });
    expect(failure([header, chunk(0, 1000), trailer(), chunk(0, 1)])).toMatchObject({ message: /after its trailer/ });
    expect(failure([{ header: { message: encodeMessage({ ...snapMessage, type: 'app', snapshot: undefined }) } }])).toMatchObject({ message: /must carry a snap message/ });
    expect(failure([header, chunk(0, 1000)], 999)).toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED });
    expect(failure([])).toMatchObject({ message: /before its header/ });
  });
});
