/**
 * A control for the checker on a real history: a copy of the history in which one successful read
 * is rewritten to return an older value of its key, one that had been overwritten by an
 * acknowledged write before the read was even sent. That read is stale, so the copy must be rejected.
 */
import type { RecordedOp } from './history-recorder.js';

export function withStaleRead(ops: readonly RecordedOp[]): RecordedOp[] | undefined {
  const copy = ops.map((o) => ({ ...o, result: { ...o.result } }));
  const acked = copy.filter((o) => o.op !== 'get' && o.return !== undefined && o.result.revision !== undefined);
  for (const read of copy) {
    if (read.op !== 'get' || !read.result.found || read.result.revision === undefined) continue;
    // Two acknowledged writes to this key that both completed before the read: the older is stale.
    const before = acked.filter((w) => w.key === read.key && w.return! < read.call).sort((a, b) => a.result.revision! - b.result.revision!);
    if (before.length < 2) continue;
    const old = before[0]!;
    if (old.result.revision! >= before[before.length - 1]!.result.revision!) continue;
    read.result.value = old.value;
    read.result.revision = old.result.revision;
    return copy;
  }
  return undefined;
}
