import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DataDirError } from './errors.js';
import { writeFileAtomic } from './fs-atomic.js';
import type { MemberIdentity } from './identity.js';

export const REMOVAL_MARK_FILE = 'removed.json';
export const REMOVAL_MARK_FORMAT_VERSION = 1;

/**
 * Written once this member knows its removal committed, so that it never campaigns again after a
 * restart. Kept apart from member.json: a data dir holding only member.json starts as a member.
 */
export interface RemovalMark {
  formatVersion: number;
  memberId: string;
  /** Empty when the member was removed before it learned the cluster ID. */
  clusterId: string;
  /** told: the leader's notice; applied: this member applied its own removal from its log. */
  learnedBy: 'told' | 'applied';
  /** ISO time of the recording, for the operator reading the file. */
  recordedAt: string;
}

const HEX16 = /^[0-9a-f]{16}$/;

/** Writes the mark atomically (a crash leaves no mark or the whole mark). */
export async function writeRemovalMark(dataDir: string, mark: RemovalMark): Promise<void> {
  const path = join(dataDir, REMOVAL_MARK_FILE);
  try {
    await writeFileAtomic(path, `${JSON.stringify(mark, null, 2)}\n`);
  } catch (err) {
    throw new DataDirError('io', path, `cannot write ${REMOVAL_MARK_FILE}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The data dir's removal mark, or null when it has none. A mark that is unreadable or names
 * another member or cluster than member.json is refused: the data dir was tampered with or mixed.
 */
export async function readRemovalMark(dataDir: string, identity: MemberIdentity): Promise<RemovalMark | null> {
  const path = join(dataDir, REMOVAL_MARK_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new DataDirError('io', path, `cannot read ${REMOVAL_MARK_FILE}: ${(err as Error).message}`, { cause: err });
  }
  const mark = parseRemovalMark(path, text);
  const bad = (what: string): DataDirError => new DataDirError('removal_mark_corrupt', path, `${REMOVAL_MARK_FILE} ${what}; this data dir is not usable as it is (empty it to start as a new member)`);
  if (mark.memberId !== identity.memberId) throw bad(`belongs to member ${mark.memberId}, but member.json to member ${identity.memberId}`);
  if (mark.clusterId !== '' && identity.clusterId !== null && mark.clusterId !== identity.clusterId) {
    throw bad(`names cluster ${mark.clusterId}, but member.json cluster ${identity.clusterId}`);
  }
  return mark;
}

function parseRemovalMark(path: string, text: string): RemovalMark {
  const bad = (what: string, cause?: unknown): DataDirError =>
    new DataDirError('removal_mark_corrupt', path, `${REMOVAL_MARK_FILE} is unreadable: ${what}; this member was removed from its cluster, so empty the data dir to start it as a new member`, { cause });
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw bad(`not valid JSON: ${(err as Error).message}`, err);
  }
  if (typeof raw !== 'object' || raw === null) throw bad('not a JSON object');
  const r = raw as Record<string, unknown>;
  if (r.formatVersion !== REMOVAL_MARK_FORMAT_VERSION) throw bad(`unsupported formatVersion ${JSON.stringify(r.formatVersion)} (this build reads ${REMOVAL_MARK_FORMAT_VERSION})`);
  if (typeof r.memberId !== 'string' || !HEX16.test(r.memberId)) throw bad(`memberId ${JSON.stringify(r.memberId)} is not 16 hex digits`);
  if (typeof r.clusterId !== 'string' || (r.clusterId !== '' && !HEX16.test(r.clusterId))) throw bad(`clusterId ${JSON.stringify(r.clusterId)} is neither empty nor 16 hex digits`);
  if (r.learnedBy !== 'told' && r.learnedBy !== 'applied') throw bad(`learnedBy ${JSON.stringify(r.learnedBy)} is neither "told" nor "applied"`);
  if (typeof r.recordedAt !== 'string') throw bad('recordedAt is missing');
  return { formatVersion: r.formatVersion, memberId: r.memberId, clusterId: r.clusterId, learnedBy: r.learnedBy, recordedAt: r.recordedAt };
}
