import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DataDirError, openIdentity, recordClusterId } from '../../../node/src/storage/index.js';
import { useTempDirs } from './temp-dir.js';

const tempDir = useTempDirs('identity');

async function refusal(p: Promise<unknown>): Promise<DataDirError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DataDirError);
  return err as DataDirError;
}

describe('data dir identity', () => {
  it('creates member.json once with a random 64-bit member ID and keeps it', async () => {
    const dir = await tempDir();
    const first = await openIdentity(dir, { name: 'kv-0' });
    expect(first.created).toBe(true);
    expect(first.identity).toEqual({ formatVersion: 1, memberId: expect.stringMatching(/^[0-9a-f]{16}$/), name: 'kv-0', clusterId: null });
    const again = await openIdentity(dir, { name: 'kv-0' });
    expect(again.created).toBe(false);
    expect(again.identity).toEqual(first.identity);
    const other = await openIdentity(await tempDir(), { name: 'kv-0' });
    expect(other.identity.memberId).not.toBe(first.identity.memberId);
  });

  it('records the cluster ID once and checks it on later starts', async () => {
    const dir = await tempDir();
    const { identity } = await openIdentity(dir, { name: 'kv-0' });
    const joined = await recordClusterId(dir, identity, '00000000000000ab');
    expect(joined.clusterId).toBe('00000000000000ab');
    expect((await openIdentity(dir, { name: 'kv-0', expectedClusterId: '00000000000000ab' })).identity).toEqual(joined);
    expect(JSON.parse(await readFile(join(dir, 'member.json'), 'utf8')).clusterId).toBe('00000000000000ab');
    const moved = await refusal(recordClusterId(dir, joined, '00000000000000cd'));
    expect(moved.code).toBe('cluster_mismatch');
  });

  it('refuses a data dir created under another --name', async () => {
    const dir = await tempDir();
    await openIdentity(dir, { name: 'kv-0' });
    const err = await refusal(openIdentity(dir, { name: 'kv-1' }));
    expect(err.code).toBe('name_mismatch');
    expect(err.message).toContain(join(dir, 'member.json'));
    expect(err.message).toMatch(/"kv-0".*"kv-1"/);
  });

  it('refuses a data dir of another cluster', async () => {
    const dir = await tempDir();
    const { identity } = await openIdentity(dir, { name: 'kv-0' });
    await recordClusterId(dir, identity, '1111111111111111');
    const err = await refusal(openIdentity(dir, { name: 'kv-0', expectedClusterId: '2222222222222222' }));
    expect(err.code).toBe('cluster_mismatch');
    expect(err.message).toMatch(/belongs to cluster 1111111111111111.*2222222222222222/);
  });

  it('refuses a truncated or unparsable member.json and never rewrites it', async () => {
    const dir = await tempDir();
    await openIdentity(dir, { name: 'kv-0' });
    const path = join(dir, 'member.json');
    const full = await readFile(path, 'utf8');
    await writeFile(path, full.slice(0, 20));
    const err = await refusal(openIdentity(dir, { name: 'kv-0' }));
    expect(err.code).toBe('identity_corrupt');
    expect(err.message).toContain(path);
    expect(err.message).toMatch(/not valid JSON/);
    expect(await readFile(path, 'utf8')).toBe(full.slice(0, 20));

    await writeFile(path, JSON.stringify({ formatVersion: 1, memberId: 'xyz', name: 'kv-0', clusterId: null }));
    expect((await refusal(openIdentity(dir, { name: 'kv-0' }))).message).toMatch(/memberId "xyz" is not 16 hex digits/);
    await writeFile(path, JSON.stringify({ formatVersion: 99, memberId: '0123456789abcdef', name: 'kv-0', clusterId: null }));
    expect((await refusal(openIdentity(dir, { name: 'kv-0' }))).message).toMatch(/unsupported formatVersion 99/);
  });

  it('refuses data without a member.json instead of minting a new identity', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'raft'));
    const err = await refusal(openIdentity(dir, { name: 'kv-0' }));
    expect(err.code).toBe('identity_missing');
    expect(err.message).toContain('raft');
  });

  it('counts a watch history alone as data of a member too', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'state-history'));
    const err = await refusal(openIdentity(dir, { name: 'kv-0' }));
    expect(err.code).toBe('identity_missing');
    expect(err.message).toContain('state-history');
  });
});
