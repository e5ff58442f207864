import type { BatchWriter } from '../level-batch.js';
import type { ConfChange, ConfState, Entry, NodeId } from '../raft/index.js';
import { decodeCommand, type Command } from './command.js';
import { applyMemberChange, encodeConfState, encodeMembers, type Member } from './members.js';
import {
  CONF_STATE_KEY,
  MEMBERS_KEY,
  PROGRESS_KEY,
  encodeKeyRecord,
  encodeProgress,
  stateKey,
  type HistoryRecord,
  type KeyMeta,
  type Progress,
} from './records.js';

/** A committed entry to apply. A confChange entry carries the ConfChange the node decoded and the ConfState the core returned for it. */
export interface CommittedEntry extends Entry {
  confChange?: ConfChange | undefined;
  confState?: ConfState | undefined;
}

/** The outcome of one entry, deterministic on every member. */
export type ApplyResult =
  | { index: number; kind: 'ok'; requestId: string; revision: number } // a put or delete that took effect
  | { index: number; kind: 'precondition'; requestId: string; currentModRevision: number } // If-Match / If-None-Match failed
  | { index: number; kind: 'notFound'; requestId: string } // delete of an absent key
  | { index: number; kind: 'noop'; requestId?: string; revision: number } // empty entry or noop command
  | { index: number; kind: 'invalid'; message: string } // undecodable data: nothing changed
  | { index: number; kind: 'confChange'; revision: number }
  | { index: number; kind: 'alreadyApplied' }; // index ≤ applied index: ignored

/** The state apply() moves forward, besides the keys. */
export interface ApplyState {
  progress: Progress;
  members: ReadonlyMap<NodeId, Member>;
  confState: ConfState;
}

export interface ApplyPlan {
  results: ApplyResult[];
  /** Changes for watchers, in revision order. */
  events: HistoryRecord[];
  state: { progress: Progress; members: Map<NodeId, Member>; confState: ConfState };
}

/**
 * Decodes the commands of the entries not yet applied and lists the keys they touch.
 * Refuses a batch that would leave a gap after the applied index (a bug in the caller).
 */
export function decodeBatch(entries: CommittedEntry[], applied: number): { commands: Map<number, Command | Error>; keys: string[] } {
  let next = applied + 1;
  for (const e of entries) {
    if (e.index < next) continue;
    if (e.index !== next) throw new Error(`cannot apply entry ${e.index}: the next entry to apply is ${next}`);
    next++;
  }
  const commands = new Map<number, Command | Error>();
  const keys = new Set<string>();
  for (const e of entries) {
    if (e.index <= applied || e.type !== 'normal' || e.data.length === 0) continue;
    try {
      const cmd = decodeCommand(e.data);
      commands.set(e.index, cmd);
      if (cmd.op !== 'noop') keys.add(cmd.key);
    } catch (err) {
      commands.set(e.index, err as Error);
    }
  }
  return { commands, keys: [...keys] };
}

/**
 * Works out, without I/O, what applying `entries` does: given the decoded commands and the
 * current metadata of every key they touch (null: absent; updated in place to what it is after
 * the batch, with new objects: the ones passed in are never changed), puts everything to write into `batch`
 * (key changes, progress, membership: written as one) and returns the per-entry results, the
 * changes (the watch events, which the store also appends to its history log) and the next state.
 */
export function planApply(
  entries: CommittedEntry[],
  commands: ReadonlyMap<number, Command | Error>,
  current: Map<string, KeyMeta | null>,
  before: ApplyState,
  historyWindow: number,
  batch: BatchWriter,
): ApplyPlan {
  const results: ApplyResult[] = [];
  const events: HistoryRecord[] = [];
  let applied = before.progress.applied;
  let revision = before.progress.revision;
  let members = new Map(before.members);
  let confState = before.confState;
  let confChanged = false;

  for (const e of entries) {
    const index = e.index;
    if (index <= before.progress.applied) {
      results.push({ index, kind: 'alreadyApplied' });
      continue;
    }
    applied = index;
    if (e.type === 'confChange') {
      if (e.confState) {
        members = applyMemberChange(members, e.confChange, e.confState);
        confState = { voters: [...e.confState.voters], learners: [...e.confState.learners] };
        confChanged = true;
      }
      results.push({ index, kind: 'confChange', revision });
      continue;
    }
    const cmd = commands.get(index);
    if (cmd === undefined) {
      results.push({ index, kind: 'noop', revision });
      continue;
    }
    if (cmd instanceof Error) {
      results.push({ index, kind: 'invalid', message: cmd.message });
      continue;
    }
    if (cmd.op === 'noop') {
      results.push({ index, kind: 'noop', requestId: cmd.requestId, revision });
      continue;
    }
    const cur = current.get(cmd.key) ?? null;
    const modRevision = cur?.modRevision ?? 0;
    const failsIfMatch = cmd.ifMatch !== undefined && cmd.ifMatch !== modRevision;
    const failsIfNoneMatch = cmd.op === 'put' && cmd.ifNoneMatch === true && cur !== null;
    if (failsIfMatch || failsIfNoneMatch) {
      results.push({ index, kind: 'precondition', requestId: cmd.requestId, currentModRevision: modRevision });
      continue;
    }
    if (cmd.op === 'delete' && cur === null) {
      results.push({ index, kind: 'notFound', requestId: cmd.requestId });
      continue;
    }
    revision++;
    let event: HistoryRecord;
    if (cmd.op === 'put') {
      const meta: KeyMeta = { createRevision: cur?.createRevision ?? revision, modRevision: revision, version: (cur?.version ?? 0) + 1 };
      current.set(cmd.key, meta);
      batch.put(stateKey(cmd.key), encodeKeyRecord(meta, cmd.value));
      event = { type: 'put', key: cmd.key, revision, createRevision: meta.createRevision, version: meta.version, value: cmd.value };
    } else {
      current.set(cmd.key, null);
      batch.del(stateKey(cmd.key));
      event = { type: 'delete', key: cmd.key, revision, createRevision: 0, version: 0, value: new Uint8Array() };
    }
    events.push(event);
    results.push({ index, kind: 'ok', requestId: cmd.requestId, revision });
  }

  // The history itself is not in this batch: the store appends `events` to its history log.
  const compactRevision = Math.max(before.progress.compactRevision, revision - historyWindow);
  const progress: Progress = { applied, revision, compactRevision };
  batch.put(PROGRESS_KEY, encodeProgress(progress));
  if (confChanged) {
    batch.put(CONF_STATE_KEY, encodeConfState(confState));
    batch.put(MEMBERS_KEY, encodeMembers(members));
  }
  return { results, events, state: { progress, members, confState } };
}
