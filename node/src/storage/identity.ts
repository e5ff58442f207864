import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DataDirError } from './errors.js';
import { makeDirDurable, writeFileAtomic } from './fs-atomic.js';

export const IDENTITY_FILE = 'member.json';
export const IDENTITY_FORMAT_VERSION = 1;

/** Who this data dir belongs to. Created once, on the first start with an empty data dir. */
export interface MemberIdentity {
  formatVersion: number;
  /** Random 64-bit ID, 16 lowercase hex digits; never reused (a wiped data dir gets a new one). */
  memberId: string;
  /** The node's --name at creation. */
  name: string;
  /** 16 hex digits, recorded when the member bootstraps or joins a cluster; null until then. */
  clusterId: string | null;
}

export interface OpenIdentityOptions {
  /** The node's --name: must equal the recorded one. */
  name: string;
  /** When known (e.g. from configuration), the recorded cluster ID must equal it. */
  expectedClusterId?: string | undefined;
}

const HEX16 = /^[0-9a-f]{16}$/;
/** Directories whose presence means the data dir is in use. */
const DATA_SUBDIRS = ['wal', 'raft', 'state', 'state-history', 'snap'];

/** A random 64-bit ID as 16 hex digits (member and cluster IDs). Never all zeros. */
export function randomId64(): string {
  for (;;) {
    const id = randomBytes(8).toString('hex');
    if (id !== '0000000000000000') return id;
  }
}

/**
 * Loads `<dataDir>/member.json`, or creates it (atomically) when the data dir is new. Refuses,
 * with a DataDirError naming the path and the problem, a data dir that belongs to another name
 * or cluster, an unreadable member.json, or data without a member.json.
 */
export async function openIdentity(dataDir: string, opts: OpenIdentityOptions): Promise<{ identity: MemberIdentity; created: boolean }> {
  if (opts.name.length === 0) throw new Error('the node name must not be empty');
  const path = join(dataDir, IDENTITY_FILE);
  let text: string | null;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new DataDirError('io', path, `cannot read member.json: ${(err as Error).message}`, { cause: err });
    }
    text = null;
  }

  if (text === null) {
    // Durably: a power loss must not take back the data dir (and the identity in it) of a member
    // that already answered as itself.
    await makeDirDurable(dataDir);
    const present = (await readdir(dataDir)).filter((n) => DATA_SUBDIRS.includes(n));
    if (present.length > 0) {
      throw new DataDirError(
        'identity_missing',
        path,
        `member.json is missing but the data dir holds ${present.join(', ')}; refusing to start with a new identity on old data (restore member.json or empty the data dir)`,
      );
    }
    const identity: MemberIdentity = { formatVersion: IDENTITY_FORMAT_VERSION, memberId: randomId64(), name: opts.name, clusterId: null };
    if (opts.expectedClusterId !== undefined) checkClusterIdFormat(path, opts.expectedClusterId);
    await writeIdentity(path, identity);
    return { identity, created: true };
  }

  const identity = parseIdentity(path, text);
  if (identity.name !== opts.name) {
    throw new DataDirError('name_mismatch', path, `the data dir belongs to the node named "${identity.name}", but this node is started with --name "${opts.name}"`);
  }
  if (opts.expectedClusterId !== undefined && identity.clusterId !== null && identity.clusterId !== opts.expectedClusterId) {
    throw new DataDirError('cluster_mismatch', path, `the data dir belongs to cluster ${identity.clusterId}, but cluster ${opts.expectedClusterId} is expected`);
  }
  return { identity, created: false };
}

/**
 * Records the cluster ID once the member bootstraps or joins. Recording the same ID again is a
 * no-op; a different one is refused (a member never moves between clusters).
 */
export async function recordClusterId(dataDir: string, identity: MemberIdentity, clusterId: string): Promise<MemberIdentity> {
  const path = join(dataDir, IDENTITY_FILE);
  checkClusterIdFormat(path, clusterId);
  if (identity.clusterId === clusterId) return identity;
  if (identity.clusterId !== null) {
    throw new DataDirError('cluster_mismatch', path, `the data dir already belongs to cluster ${identity.clusterId}; refusing to record cluster ${clusterId}`);
  }
  const updated = { ...identity, clusterId };
  await writeIdentity(path, updated);
  return updated;
}

function checkClusterIdFormat(path: string, clusterId: string): void {
  if (!HEX16.test(clusterId)) throw new DataDirError('cluster_mismatch', path, `cluster ID "${clusterId}" is not 16 lowercase hex digits`);
}

async function writeIdentity(path: string, identity: MemberIdentity): Promise<void> {
  try {
    await writeFileAtomic(path, `${JSON.stringify(identity, null, 2)}\n`);
  } catch (err) {
    throw new DataDirError('io', path, `cannot write member.json: ${(err as Error).message}`, { cause: err });
  }
}

function parseIdentity(path: string, text: string): MemberIdentity {
  const bad = (what: string, cause?: unknown): DataDirError =>
    new DataDirError('identity_corrupt', path, `member.json is unreadable: ${what}; it must be restored by hand (never regenerated, the member ID must not change)`, { cause });
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw bad(`not valid JSON (truncated?): ${(err as Error).message}`, err);
  }
  if (typeof raw !== 'object' || raw === null) throw bad('not a JSON object');
  const r = raw as Record<string, unknown>;
  if (r.formatVersion !== IDENTITY_FORMAT_VERSION) throw bad(`unsupported formatVersion ${JSON.stringify(r.formatVersion)} (this build reads ${IDENTITY_FORMAT_VERSION})`);
  if (typeof r.memberId !== 'string' || !HEX16.test(r.memberId)) throw bad(`memberId ${JSON.stringify(r.memberId)} is not 16 hex digits`);
  if (typeof r.name !== 'string' || r.name.length === 0) throw bad('name is missing');
  if (r.clusterId !== null && (typeof r.clusterId !== 'string' || !HEX16.test(r.clusterId))) {
    throw bad(`clusterId ${JSON.stringify(r.clusterId)} is neither null nor 16 hex digits`);
  }
  return { formatVersion: r.formatVersion, memberId: r.memberId, name: r.name, clusterId: r.clusterId as string | null };
}
