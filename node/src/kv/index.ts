// The replicated state machine (`<dataDir>/state`, LevelDB). Wiring:
//   proposals:  encodeCommand({ op, requestId, ... }) as the data of a normal entry
//   committed:  { results, landed } = await kv.applyPlanned(entries) (confChange entries carry
//               confChange + confState); resolve the waiter of each result's requestId (resultError()
//               gives the typed error), then await landed; reads that do not wait for appliedIndex
//               await kv.settled() first (kv.apply(entries) answers only once landed)
//   restart:    replay committed entries after kv.appliedIndex (a received snapshot's data in the
//               log's snapshot file is restored first if kv.appliedIndex is below its index)
//   snapshots:  { index, confState } = await kv.syncState(); the log's createSnapshot(index,
//               confState, no data), then compact(index - tail): the state on disk is the snapshot
//   sending:    kv.streamSnapshot(({ index, parts }) => stream the parts): the state as of sending
//   received:   kv.restore(ready.snapshot.data, ready.snapshot.metadata.index); the data may be
//               ahead of that index (the entries in between are then skipped as already applied)
export { decodeCommand, encodeCommand, type Command, type DeleteCommand, type NoopCommand, type PutCommand } from './command.js';
export { CompactedRevisionError, InvalidCommandError, KeyNotFoundError, PreconditionFailedError, StateStoreError } from './errors.js';
export type { ApplyResult, CommittedEntry } from './apply-plan.js';
export { DEFAULT_KEY_CACHE_BYTES } from './key-cache.js';
export { DEFAULT_HISTORY_WINDOW, KvStore, type KeyValue, type KvStoreOptions, type ListResult, type PlannedApply } from './kv-store.js';
export { applyMemberChange, encodeMemberContext, parseMemberContext, type Member, type MemberContext, type MemberRole } from './members.js';
export { resultError } from './result-error.js';
export type { ChangeType, HistoryRecord } from './records.js';
export type { WatchEvent, WatchOptions, Watcher } from './watch.js';
