/** Why a data dir was refused. Each code names one thing an operator must fix by hand. */
export type DataDirErrorCode =
  | 'name_mismatch' // member.json belongs to a node with another --name
  | 'cluster_mismatch' // member.json records another cluster ID than the one expected
  | 'identity_corrupt' // member.json cannot be parsed or misses fields
  | 'identity_missing' // the data dir holds Raft or state data but no member.json
  | 'removal_mark_corrupt' // removed.json cannot be parsed or names another member or cluster
  | 'log_corrupt' // the Raft log (WAL) is damaged or inconsistent
  | 'log_format' // the Raft log is in a format this version cannot read (an older kuorum's LevelDB log)
  | 'snapshot_corrupt' // a snapshot file is missing, truncated or fails its checksum
  | 'state_behind_snapshot' // the state machine is behind the Raft log's snapshot, whose data is that state
  | 'log_missing' // the Raft log is empty but the state machine has applied entries: the log was lost
  | 'locked' // another running process holds the state machine's LevelDB lock
  | 'io'; // any other failure to read or write the data dir

/**
 * The data dir cannot be used as it is. The node must refuse to start: it never resets or
 * repairs a data dir on its own, because silently losing Raft state can break safety.
 */
export class DataDirError extends Error {
  readonly code: DataDirErrorCode;
  readonly path: string;

  constructor(code: DataDirErrorCode, path: string, problem: string, options?: { cause?: unknown }) {
    super(`data dir refused: ${path}: ${problem}`, options);
    this.name = 'DataDirError';
    this.code = code;
    this.path = path;
  }
}
