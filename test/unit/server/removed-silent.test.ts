/**
 * A member that knows it was removed never answers Raft messages (a REAL node: RawNode, LevelDB,
 * gRPC transport). If its ID is added again, the leader must see it unmatched, so that it keeps
 * introducing it (which it refuses) instead of replicating to it as a member.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStateMachine } from '../../../node/src/kv-adapter.js';
import type { Transport } from '../../../node/src/node-ports.js';
import type { KuorumNode } from '../../../node/src/node.js';
import type { Message } from '../../../node/src/raft/index.js';
import { RaftLogStore, openIdentity } from '../../../node/src/storage/index.js';
import { newLoopNode } from './loop-node.js';
import { until } from './until.js';

const LEADER = '00000000000000aa';
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** The real transport, except that the test delivers peer messages and sees every send. */
function watched(t: Transport): { transport: Transport; sent: Message[]; deliver: (msgs: Message[]) => void } {
  const sent: Message[] = [];
  let handler: ((msgs: Message[], from: string, address: string | undefined) => void) | undefined;
  const transport = Object.create(t) as Transport;
  transport.send = (msgs) => {
    sent.push(...msgs);
    t.send(msgs);
  };
  transport.onMessages = (fn) => {
    handler = fn;
    t.onMessages(fn);
  };
  return { transport, sent, deliver: (msgs) => handler!(msgs, LEADER, '127.0.0.1:1') };
}

async function startNode(removed: boolean): Promise<{ node: KuorumNode; sent: Message[]; deliver: (msgs: Message[]) => void }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kuorum-silent-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  const { identity } = await openIdentity(dir, { name: 'n1' });
  const store = await RaftLogStore.open(dir);
  const kv = await openStateMachine(dir, { historyWindow: 100 });
  let w!: ReturnType<typeof watched>;
  const node = newLoopNode({
    memberId: identity.memberId,
    store,
    kv,
    snapshotThreshold: 1000,
    removed,
    wrapTransport: (t) => (w = watched(t)).transport,
    onFatal: (err) => {
      throw err;
    },
  });
  await node.start();
  cleanup.push(() => node.stop());
  return { node, sent: w.sent, deliver: w.deliver };
}

function heartbeat(to: string, term: number): Message {
  return { type: 'heartbeat', from: LEADER, to, term, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0 };
}

describe('a member that knows it was removed', () => {
  it('takes in a leader heartbeat without answering it', async () => {
    const { node, sent, deliver } = await startNode(true);
    const id = node.status().id;
    deliver([heartbeat(id, 7)]);
    // The core took the message in (it follows the leader's term) but nothing went out.
    await until(() => node.status().term === 7, 'the heartbeat to be stepped');
    await new Promise((r) => setTimeout(r, 100));
    expect(sent).toEqual([]);
  });

  it('is answered by a member that was not removed (the check above can fail)', async () => {
    const { node, sent, deliver } = await startNode(false);
    deliver([heartbeat(node.status().id, 7)]);
    await until(() => sent.some((m) => m.type === 'heartbeatResp' && m.to === LEADER), 'the heartbeat answer');
  });
});
