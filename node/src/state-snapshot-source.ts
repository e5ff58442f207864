/**
 * A snapshot's data as a leader sends it: the state machine's current state, encoded while it is
 * streamed to the follower (its length is known only at the end). The state is held (a LevelDB
 * snapshot) until the transfer closes the source.
 */
import type { StateMachine } from './node-ports.js';
import type { SnapshotDataSource } from './transport/index.js';

export function stateSnapshotSource(kv: Pick<StateMachine, 'captureSnapshot'>): Promise<SnapshotDataSource> {
  return new Promise<SnapshotDataSource>((resolve, reject) => {
    let release!: () => void;
    const closed = new Promise<void>((r) => (release = r));
    kv.captureSnapshot(async ({ parts }) => {
      resolve({
        length: undefined,
        async *chunks(chunkBytes: number) {
          for await (const part of parts) {
            for (let at = 0; at < part.length; at += chunkBytes) yield part.subarray(at, Math.min(part.length, at + chunkBytes));
          }
        },
        close: async () => release(),
      });
      await closed;
    }).catch(reject);
  });
}
