import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DataDirError, REMOVAL_MARK_FILE, openIdentity, readRemovalMark, recordClusterId, writeRemovalMark, type RemovalMark } from '../../../node/src/storage/index.js';
import { useTempDirs } from './temp-dir.js';

const tempDir = useTempDirs('removal-mark');

async function refusal(p: Promise<unknown>): Promise<DataDirError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DataDirError);
  return err as DataDirError;
}

async function joinedDir(): Promise<{ dir: string; mark: RemovalMark; identity: Awaited<ReturnType<typeof openIdentity>>['identity'] }> {
  const dir = await tempDir();
  const { identity: fresh } = await openIdentity(dir, { name: 'kv-0' });
  const identity = await recordClusterId(dir, fresh, '00000000000000ab');
  const mark: RemovalMark = { formatVersion: 1, memberId: identity.memberId, clusterId: '00000000000000ab', learnedBy: 'told', recordedAt: new Date().toISOString() };
  return { dir, mark, identity };
}

describe('the removal mark in the data dir', () => {
  it('is absent in a new or joined data dir, and read back after it is written', async () => {
    const { dir, mark, identity } = await joinedDir();
    expect(await readRemovalMark(dir, identity)).toBeNull();
    await writeRemovalMark(dir, mark);
    expect(await readRemovalMark(dir, identity)).toEqual(mark);
    expect((await readdir(dir)).sort()).toEqual(['member.json', REMOVAL_MARK_FILE]); // no temp file left behind
  });

  it('stays with the data dir only: member.json alone in a fresh dir is not removed', async () => {
    const { dir, mark, identity } = await joinedDir();
    await writeRemovalMark(dir, mark);
    const fresh = await tempDir();
    await writeFile(join(fresh, 'member.json'), await readFile(join(dir, 'member.json')));
    const copied = await openIdentity(fresh, { name: 'kv-0' });
    expect(copied.identity).toEqual(identity);
    expect(await readRemovalMark(fresh, copied.identity)).toBeNull();
  });

  it('accepts a mark without a cluster ID (removed before it learned one)', async () => {
    const dir = await tempDir();
    const { identity } = await openIdentity(dir, { name: 'kv-0' });
    const mark: RemovalMark = { formatVersion: 1, memberId: identity.memberId, clusterId: '', learnedBy: 'told', recordedAt: 'now' };
    await writeRemovalMark(dir, mark);
    expect(await readRemovalMark(dir, identity)).toEqual(mark);
  });

  it('refuses a mark of another member or cluster, or one that is unreadable', async () => {
    const { dir, mark, identity } = await joinedDir();
    const path = join(dir, REMOVAL_MARK_FILE);
    await writeRemovalMark(dir, { ...mark, memberId: '0123456789abcdef' });
    let err = await refusal(readRemovalMark(dir, identity));
    expect(err.code).toBe('removal_mark_corrupt');
    expect(err.message).toContain(path);
    expect(err.message).toContain(`belongs to member 0123456789abcdef, but member.json to member ${identity.memberId}`);

    await writeRemovalMark(dir, { ...mark, clusterId: '00000000000000cd' });
    expect((await refusal(readRemovalMark(dir, identity))).message).toContain('names cluster 00000000000000cd');

    await writeFile(path, '{"formatVersion":1,"memb');
    err = await refusal(readRemovalMark(dir, identity));
    expect(err.code).toBe('removal_mark_corrupt');
    expect(err.message).toMatch(/not valid JSON.*empty the data dir/);
    await writeFile(path, JSON.stringify({ ...mark, learnedBy: 'guessed' }));
    expect((await refusal(readRemovalMark(dir, identity))).message).toContain('learnedBy "guessed"');
    await writeFile(path, JSON.stringify({ ...mark, formatVersion: 2 }));
    expect((await refusal(readRemovalMark(dir, identity))).message).toContain('unsupported formatVersion 2');
  });
});
