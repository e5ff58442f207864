// A follower told that its connection to the leader ended (RawNode.suspectLeader) campaigns after
// a short grace instead of a whole election timeout; the lease and PreVote still protect a live leader.
import { describe, expect, it } from 'vitest';
import { LEADER_LOSS_GRACE_TICKS } from '../../../node/src/raft/raft.js';
import { fixedRandom, Network } from './network.js';

const GRACE = LEADER_LOSS_GRACE_TICKS;

/** a leads b and c (election timeout 10 ticks, heartbeat every tick); per-node randomInt values. */
function cluster(random: Record<string, number> = {}): Network {
  const net = new Network(['a', 'b', 'c']);
  for (const [id, r] of Object.entries(random)) net.add(id, net.node(id).storage, { randomInt: fixedRandom(r) });
  net.campaign('a');
  expect(net.leaderIds()).toEqual(['a']);
  return net;
}

/** Ticks the given nodes together until one of them leaves the follower role; returns the ticks taken. */
function ticksUntilCampaign(net: Network, ids: string[], max = 100): number {
  for (let t = 1; t <= max; t++) {
    for (const id of ids) net.node(id).raw.tick();
    net.deliverAll();
    if (ids.some((id) => net.node(id).raw.status().role !== 'follower')) return t;
  }
  return -1;
}

function preVotesFrom(net: Network, id: string): number {
  return net.sent.filter((m) => m.type === 'preVote' && m.from === id).length;
}

describe('a follower that lost its connection to the leader (suspectLeader)', () => {
  it('when both followers saw the leader die, one campaigns after the grace and wins, long before the election timeout', () => {
    const net = cluster({ b: 0, c: 2 });
    net.isolate('a'); // the leader's process died
    expect(net.node('b').raw.suspectLeader('a')).toBe(GRACE);
    expect(net.node('c').raw.suspectLeader('a')).toBe(GRACE + 2);
    const ticks = ticksUntilCampaign(net, ['b', 'c']);
    expect(ticks).toBe(GRACE); // without the hint: the election timeout, 10
    expect(net.leaderIds()).toEqual(['a', 'b']); // a is cut off; b won term 2
    expect(net.node('b').raw.status().term).toBe(2);
    expect(net.node('c').raw.status()).toMatchObject({ term: 2, leader: 'b' });
  });

  it('campaigns within grace..2*grace ticks, spread by randomInt(grace)', () => {
    for (const [r, expected] of [[0, GRACE], [1, GRACE + 1], [GRACE - 1, 2 * GRACE - 1], [100, 2 * GRACE - 1]] as const) {
      const asked: number[] = [];
      const net = cluster();
      net.add('b', net.node('b').storage, { randomInt: (n) => { asked.push(n); return fixedRandom(r)(n); } });
      net.tick('a'); // b (a fresh core) follows a again on its heartbeat
      net.isolate('a');
      asked.length = 0;
      expect(net.node('b').raw.suspectLeader('a')).toBe(expected);
      expect(asked).toEqual([GRACE]);
      expect(ticksUntilCampaign(net, ['b'])).toBe(expected);
    }
  });

  it('a follower that granted a pre-vote while suspecting waits a grace before campaigning itself (no split vote)', () => {
    const net = cluster({ b: 0, c: 1 });
    net.isolate('a');
    net.node('b').raw.suspectLeader('a'); // campaigns after 3 ticks
    net.node('c').raw.suspectLeader('a'); // would campaign after 4
    net.tick('c', GRACE); // c is out of lease now
    net.filter = (m) => !(m.type === 'vote' && m.from === 'b'); // b's real vote is slow to reach c
    net.tick('b', GRACE);
    expect(net.node('b').raw.status().role).toBe('candidate');
    expect(net.sent.some((m) => m.type === 'preVoteResp' && m.from === 'c' && m.to === 'b' && !m.reject)).toBe(true);
    net.tick('c', GRACE - 1);
    expect(net.node('c').raw.status().role).toBe('follower'); // without the rule: a pre-candidate after 1 tick
    expect(preVotesFrom(net, 'c')).toBe(0);
    net.tick('c');
    expect(preVotesFrom(net, 'c')).toBe(2); // b did not win in time: c campaigns (to a and b)
  });

  it('a message from the leader meanwhile cancels it: lease and full randomized timeout are back', () => {
    const net = cluster({ b: 5 }); // b's own timeout: 15 ticks
    const b = net.node('b').raw;
    expect(b.suspectLeader('a')).toBe(2 * GRACE - 1); // min(15, 10 + min(5, GRACE - 1)) - (10 - GRACE)
    net.tick('a'); // a heartbeat reaches b
    net.isolate('a');
    expect(ticksUntilCampaign(net, ['b'])).toBe(15);
  });

  it('is ignored when the peer is not our leader, on the leader itself, and while already suspecting', () => {
    const net = cluster({ b: 0 });
    const b = net.node('b').raw;
    expect(b.suspectLeader('c')).toBeUndefined();
    expect(b.suspectLeader('')).toBeUndefined();
    expect(net.node('a').raw.suspectLeader('b')).toBeUndefined();
    net.isolate('a');
    expect(ticksUntilCampaign(net, ['b'], 9)).toBe(-1); // no early campaign: only the election timeout
    expect(ticksUntilCampaign(net, ['b'])).toBe(1);
    const net2 = cluster({ b: 2 });
    expect(net2.node('b').raw.suspectLeader('a')).toBe(GRACE + 2);
    expect(net2.node('b').raw.suspectLeader('a')).toBeUndefined();
  });

  it('a follower that alone lost its connection cannot disrupt: the other follower, in lease, refuses its pre-vote', () => {
    const net = cluster();
    net.filter = (m) => !(m.from === 'a' && m.to === 'b'); // only the a -> b direction is broken
    expect(net.node('b').raw.suspectLeader('a')).toBe(GRACE);
    for (let t = 1; t <= GRACE; t++) net.tickAll();
    expect(preVotesFrom(net, 'b')).toBe(2); // it did campaign early (to a and c)...
    net.tickAll(50);
    expect(net.leaderIds()).toEqual(['a']); // ...but nobody granted it, and no term moved
    for (const id of ['a', 'b', 'c']) expect(net.node(id).raw.status().term).toBe(1);
    expect(net.node('c').raw.status().leader).toBe('a');
    expect(net.sent.some((m) => m.type === 'preVoteResp' && m.to === 'b' && !m.reject)).toBe(false);
  });
});
