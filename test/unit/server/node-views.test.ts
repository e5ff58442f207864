import { describe, expect, it } from 'vitest';
import { memberList, mostCaughtUpVoter, quorumContactReadiness } from '../../../node/src/node-views.js';
import type { ProgressStatus, Status } from '../../../node/src/raft/index.js';

function progress(match: number, isLearner = false): ProgressStatus {
  return { match, next: match + 1, state: 'replicate', recentActive: true, isLearner, inflight: 0 };
}

function status(over: Partial<Status>): Status {
  return { id: 'a', term: 2, vote: 'a', commit: 10, applied: 10, lastIndex: 10, leader: 'a', role: 'leader', leadTransferee: '', config: { voters: ['a', 'b', 'c'], learners: [] }, ...over };
}

describe('readiness', () => {
  const now = 100_000;
  it('a leader needs a quorum of voters heard from within the window', () => {
    const st = status({});
    expect(quorumContactReadiness(st, 'a', new Map([['b', now - 100]]), now, 1000).ready).toBe(true);
    const r = quorumContactReadiness(st, 'a', new Map([['b', now - 5000]]), now, 1000);
    expect(r).toEqual({ ready: false, reason: 'leader without a quorum: 1 of 3 voters heard from recently' });
  });
  it('a follower needs recent contact with a known leader', () => {
    const st = status({ id: 'b', role: 'follower', leader: 'a' });
    expect(quorumContactReadiness(st, 'b', new Map([['a', now - 10]]), now, 1000).ready).toBe(true);
    expect(quorumContactReadiness(st, 'b', new Map([['a', now - 2000]]), now, 1000).ready).toBe(false);
    expect(quorumContactReadiness({ ...st, leader: '' }, 'b', new Map(), now, 1000)).toEqual({ ready: false, reason: 'no leader' });
  });
});

describe('member list', () => {
  it('joins the configuration with the registry; match index and last contact only on the leader', () => {
    const st = status({ config: { voters: ['a', 'b'], learners: ['c'] }, progress: new Map([['a', progress(10)], ['b', progress(9)], ['c', progress(0, true)]]) });
    const registry = [
      { id: 'a', name: 'n1', peerAddress: 'h1:1', role: 'voter' as const },
      { id: 'b', name: 'n2', peerAddress: 'h2:1', role: 'voter' as const },
      { id: 'c', name: 'n3', peerAddress: 'h3:1', role: 'learner' as const },
      { id: 'gone', name: 'old', peerAddress: 'h4:1', role: 'voter' as const },
    ];
    const list = memberList(st, registry, { id: 'a', name: 'n1', peerAddress: 'h1:1' }, new Map([['b', 5000]]), 9000);
    expect(list).toEqual([
      { id: 'a', name: 'n1', peerAddress: 'h1:1', role: 'voter', isLeader: true, matchIndex: 10, lastContact: new Date(9000).toISOString() },
      { id: 'b', name: 'n2', peerAddress: 'h2:1', role: 'voter', isLeader: false, matchIndex: 9, lastContact: new Date(5000).toISOString() },
      { id: 'c', name: 'n3', peerAddress: 'h3:1', role: 'learner', isLeader: false, matchIndex: 0, lastContact: null },
    ]);
    const onFollower = memberList(status({ role: 'follower', leader: 'b' }), registry, { id: 'a', name: 'n1', peerAddress: 'h1:1' }, new Map(), 0);
    expect(onFollower[0]).not.toHaveProperty('matchIndex');
    expect(onFollower.find((m) => m.isLeader)?.id).toBe('b');
  });
});

describe('transfer target', () => {
  it('is the voter with the highest match, never self nor a learner', () => {
    const st = status({ config: { voters: ['a', 'b', 'c'], learners: ['d'] }, progress: new Map([['a', progress(50)], ['b', progress(7)], ['c', progress(9)], ['d', progress(60, true)]]) });
    expect(mostCaughtUpVoter(st, 'a')).toBe('c');
    expect(mostCaughtUpVoter(status({ config: { voters: ['a'], learners: [] } }), 'a')).toBeUndefined();
  });
});
