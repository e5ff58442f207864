import { afterEach, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { encodeMessage } from '../../../node/src/transport/codec.js';
import { identityMetadata } from '../../../node/src/transport/identity.js';
import type { RefusedCall } from '../../../node/src/transport/index.js';
import { msg, startNode, tick, waitFor, type TestNode } from './helpers.js';
import { openRawMessageStream, rawClient } from './raw-client.js';

const nodes: TestNode[] = [];
async function node(id: string, clusterId: string): Promise<TestNode> {
  const n = await startNode(id, { clusterId });
  nodes.push(n);
  return n;
}

afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.transport.stop()));
});

describe('cluster and target identity checks over gRPC', () => {
  it('refuses and counts messages from another cluster; the sender sees the peer as unreachable', async () => {
    const a = await node('a', 'cluster-A');
    const b = await node('b', 'cluster-B');
    const refusals: RefusedCall[] = [];
    b.transport.onRefused((r) => refusals.push(r));
    a.transport.addPeer('b', b.address);
    a.transport.send([msg('a', 'b', { type: 'heartbeat' })]);
    await waitFor('refusal', () => refusals.length > 0);
    await waitFor('sender notices', () => a.unreachable.includes('b'));
    expect(refusals[0]).toMatchObject({ reason: 'clusterMismatch', clusterId: 'cluster-A', from: 'a', to: 'b' });
    expect(refusals[0]!.message).toMatch(/cluster ID mismatch/);
    expect(b.transport.stats().refused.clusterMismatch).toBeGreaterThan(0);
    expect(b.received).toEqual([]);
    expect(a.transport.stats().peers['b']!.sendErrors).toBeGreaterThan(0);
    expect(a.log.lines.some((l) => l.msg === 'peer refused the message stream' && String(l.fields?.['error']).includes('cluster ID mismatch'))).toBe(true);
    expect(b.log.lines.some((l) => l.msg === 'refused peer call' && l.fields?.['reason'] === 'clusterMismatch')).toBe(true);

    // Refused again and again, the sender backs off further each time (20 ms doubling, ±20%).
    const retryDelays = () => a.log.lines.filter((l) => l.msg === 'peer refused the message stream').map((l) => l.fields?.['retryInMs'] as number);
    await waitFor('four refusals', () => {
      a.transport.send([msg('a', 'b', { type: 'heartbeat' })]);
      return retryDelays().length >= 4;
    });
    const delays = retryDelays().slice(0, 4);
    expect(delays).toEqual([...delays].sort((x, y) => x - y));
    expect(delays[3]!).toBeGreaterThan(delays[0]! * 4);
  });

  it('refuses a call meant for another member ID at this address', async () => {
    const a = await node('a', 'c1');
    const b = await node('b', 'c1');
    a.transport.addPeer('old-b', b.address); // b's address, but a previous member ID
    a.transport.send([msg('a', 'old-b')]);
    await waitFor('refusal counted', () => b.transport.stats().refused.wrongTarget > 0);
    expect(b.received).toEqual([]);
    await expect(a.transport.forward('old-b', { method: 'GET', path: '/', headers: [], body: new Uint8Array() }, 2000)).rejects.toMatchObject({
      kind: 'refused',
      message: expect.stringMatching(/meant to reach member 'old-b' but this is member b/),
    });
  });

  it('lets an unjoined member learn its cluster ID from the first leader contact, then refuse others', async () => {
    const leader = await node('a', 'c1');
    const joiner = await node('b', '');
    const stranger = await node('x', 'c2');
    const learned: string[] = [];
    joiner.transport.onClusterIdLearned((id) => learned.push(id));

    // A vote request is not leader contact: nothing is learned yet.
    stranger.transport.addPeer('b', joiner.address);
    stranger.transport.send([msg('x', 'b', { type: 'preVote' })]);
    await waitFor('prevote delivered', () => joiner.received.length === 1);
    expect(joiner.transport.clusterId).toBe('');

    leader.transport.addPeer('b', joiner.address);
    leader.transport.send([msg('a', 'b', { type: 'app', index: 5 })]);
    await waitFor('app delivered', () => joiner.received.length === 2);
    expect(learned).toEqual(['c1']);
    expect(joiner.transport.clusterId).toBe('c1');

    // The stranger's open stream was admitted before; a new call is checked against c1.
    await expect(stranger.transport.forward('b', { method: 'GET', path: '/', headers: [], body: new Uint8Array() }, 2000)).rejects.toMatchObject({
      kind: 'refused',
    });
    expect(joiner.transport.stats().refused.clusterMismatch).toBe(1);

    // Responses from the joiner now carry c1, which the leader accepts.
    joiner.transport.addPeer('a', leader.address);
    joiner.transport.send([msg('b', 'a', { type: 'appResp', index: 5 })]);
    await waitFor('response delivered', () => leader.received.length === 1);
    await tick();
    expect(leader.transport.stats().refused.clusterMismatch).toBe(0);
  });

  it('drops messages inside an admitted stream that are addressed to another member', async () => {
    const b = await node('b', 'c1');
    const client = rawClient(b.address);
    const { call, status } = openRawMessageStream(client, identityMetadata({ clusterId: 'c1', from: 'a', to: 'b' }));
    call.write({ messages: [encodeMessage(msg('a', 'b', { index: 1 })), encodeMessage(msg('a', 'c', { index: 2 }))] });
    await waitFor('delivery', () => b.received.length === 1);
    expect(b.received[0]!.index).toBe(1);
    expect(b.transport.stats().peers['a']!.messagesRejected).toBe(1);

    // A message the codec cannot represent closes the stream with INVALID_ARGUMENT; the server keeps serving.
    call.write({ messages: [{ ...encodeMessage(msg('a', 'b')), term: '18446744073709551615' }] });
    expect(await status).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringMatching(/term is out of range/) });
    client.close();

    const a = await node('a', 'c1');
    a.transport.addPeer('b', b.address);
    a.transport.send([msg('a', 'b', { index: 3 })]);
    await waitFor('still serving', () => b.received.length === 2);
  });
});
