// Durable Raft state of one member, in its data dir:
//   member.json   identity (openIdentity / recordClusterId): member ID, name, cluster ID
//   wal/          write-ahead log segments: hard state, entries, snapshot metadata (RaftLogStore)
//   snap/         the current snapshot's data, checksummed (empty when the state machine's own
//                 LevelDB holds it; a snapshot received from the leader is kept whole)
//   removed.json  present once the member knows it was removed (readRemovalMark / writeRemovalMark)
// Wiring, per Ready: `await log.save({ hardState, entries, snapshot }, { sync: ready.mustSync })`
// before sending messagesAfterPersist; the core reads `log.storage` (a MemoryStorage mirror).
// Every refusal is a DataDirError naming the path and what is wrong; never reset a data dir.
export { DataDirError, type DataDirErrorCode } from './errors.js';
export { IDENTITY_FILE, IDENTITY_FORMAT_VERSION, openIdentity, randomId64, recordClusterId, type MemberIdentity, type OpenIdentityOptions } from './identity.js';
export { REMOVAL_MARK_FILE, readRemovalMark, writeRemovalMark, type RemovalMark } from './removal-mark.js';
export { RaftLogStore, WAL_SEGMENT_BYTES, type LogUpdate, type RaftLogStoreOptions, type SaveOptions } from './raft-log-store.js';
