/**
 * A member told of its removal stays removed across a restart: a REAL single-member node (RawNode,
 * LevelDB, gRPC transport) gets the leader's notice over the internal route, restarts on the same
 * data dir, and must neither campaign (a sole voter otherwise elects itself at once) nor report
 * itself as a member.
 */
import { access, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FORWARDED_HEADER } from '../../../node/src/server/forwarding.js';
import type { RunningNode } from '../../../node/src/start-node.js';
import { REMOVAL_MARK_FILE } from '../../../node/src/storage/index.js';
import { startRealNode } from './start-real-node.js';
import { until } from './until.js';

const ELECTION_MS = 300;
let root: string;

function start(dir: string, bootstrap: boolean): Promise<RunningNode> {
  return startRealNode('r1', dir, [`--election-timeout=${ELECTION_MS}`, '--heartbeat-interval=50', '--shutdown-timeout=0', ...(bootstrap ? ['--bootstrap'] : [])]);
}

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'kuorum-removed-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('a member told of its removal', () => {
  it('records the notice in its data dir and, restarted, stays removed without campaigning', async () => {
    const dir = path.join(root, 'r1');
    let n = await start(dir, true);
    let term: number;
    try {
      await until(() => n.node.isLeader());
      const { id, clusterId } = n.node.status();
      const told = await n.http.inject({ method: 'POST', url: '/v1/internal/removed', headers: { [FORWARDED_HEADER]: '1' }, payload: { clusterId, memberId: id } });
      expect(told.statusCode, told.body).toBe(200);
      await access(path.join(dir, REMOVAL_MARK_FILE)); // durable before the leader hears 200
      term = n.node.status().term;
    } finally {
      await n.shutdown();
    }

    n = await start(dir, true);
    try {
      // A sole voter would elect itself right away; a few election timeouts show it does not.
      await new Promise((r) => setTimeout(r, 4 * ELECTION_MS));
      expect(n.node.isLeader()).toBe(false);
      expect(n.node.status()).toMatchObject({ role: 'removed', removed: true, member: false, term });
      const ready = await n.http.inject({ method: 'GET', url: '/readyz' });
      expect(ready.statusCode).toBe(503);
      expect(ready.json().error).toBe('this node was removed from the cluster');
      const put = await n.http.inject({ method: 'PUT', url: '/v1/kv/x', payload: 'v' });
      expect(put.statusCode).toBe(503);
      expect(put.json().error).toContain('removed');
      expect((await n.http.inject({ method: 'POST', url: '/v1/bootstrap' })).statusCode).toBe(409);
      // Re-adding this member with its old data is refused with what to do instead.
      const { id, clusterId } = n.node.status();
      const intro = await n.http.inject({ method: 'POST', url: '/v1/internal/introduce', headers: { [FORWARDED_HEADER]: '1' }, payload: { clusterId, leaderId: '00000000000000aa', members: [{ id, peerAddress: '127.0.0.1:1' }] } });
      expect(intro.statusCode).toBe(409);
      expect(intro.json()).toMatchObject({ code: 'member_removed', error: expect.stringContaining('empty its data dir') });
    } finally {
      await n.shutdown();
    }
  });
});
