import { describe, expect, it } from 'vitest';
import type { Message, Status } from '../../../node/src/raft/index.js';
import { isRemovedSender, RemovedSenderNotices } from '../../../node/src/removed-senders.js';

const leader = (over: Partial<Status> = {}): Status => ({
  id: 'a',
  term: 3,
  vote: 'a',
  commit: 20,
  applied: 20,
  lastIndex: 20,
  leader: 'a',
  role: 'leader',
  leadTransferee: '',
  config: { voters: ['a', 'b'], learners: ['c'] },
  progress: new Map(),
  pendingConfIndex: 12,
  ...over,
});

const preVote = (from: string, index: number, logTerm: number): Message =>
  ({ type: 'preVote', from, to: 'a', term: 4, logTerm, index, entries: [], commit: 0, reject: false, rejectHint: 0 });

describe('isRemovedSender', () => {
  it('a sender with a log that is not in the up-to-date leader’s configuration was removed', () => {
    expect(isRemovedSender(leader(), 'x', [preVote('x', 15, 2)])).toBe(true);
    expect(isRemovedSender(leader(), 'x', [preVote('x', 0, 1)])).toBe(true);
  });

  it('voters and learners of the configuration are members', () => {
    expect(isRemovedSender(leader(), 'b', [preVote('b', 15, 2)])).toBe(false);
    expect(isRemovedSender(leader(), 'c', [preVote('c', 15, 2)])).toBe(false);
  });

  it('only a leader decides, and only once it has applied every conf change its log may hold', () => {
    expect(isRemovedSender(leader({ role: 'follower', leader: 'b' }), 'x', [preVote('x', 15, 2)])).toBe(false);
    expect(isRemovedSender(leader({ role: 'candidate', pendingConfIndex: undefined }), 'x', [preVote('x', 15, 2)])).toBe(false);
    // An addition of x may sit committed but unapplied in the new leader's log.
    expect(isRemovedSender(leader({ applied: 11, pendingConfIndex: 12 }), 'x', [preVote('x', 15, 2)])).toBe(false);
    expect(isRemovedSender(leader({ applied: 12, pendingConfIndex: 12 }), 'x', [preVote('x', 15, 2)])).toBe(true);
  });

  it('a sender without a log of its own never belonged to the cluster', () => {
    expect(isRemovedSender(leader(), 'x', [preVote('x', 0, 0)])).toBe(false);
    expect(isRemovedSender(leader(), 'x', [])).toBe(false);
    // Messages relayed under another ID do not count for the stream's sender.
    expect(isRemovedSender(leader(), 'x', [preVote('y', 15, 2)])).toBe(false);
  });
});

describe('RemovedSenderNotices', () => {
  it('lets one notice per sender through per interval', () => {
    const n = new RemovedSenderNotices(1000);
    expect(n.take('x', 0)).toBe(true);
    expect(n.take('x', 10)).toBe(false);
    expect(n.take('x', 999)).toBe(false);
    expect(n.take('y', 10)).toBe(true);
    expect(n.take('x', 1000)).toBe(true);
    expect(n.take('x', 1500)).toBe(false);
  });

  it('remembers a bounded number of senders, forgetting those whose interval ended', () => {
    const n = new RemovedSenderNotices(1000, 2);
    expect(n.take('x', 0)).toBe(true);
    expect(n.take('y', 0)).toBe(true);
    expect(n.take('z', 500)).toBe(false); // full, and x and y are still within their interval
    expect(n.take('z', 1000)).toBe(true); // x and y forgotten
    expect(n.take('x', 1000)).toBe(true);
    expect(n.take('z', 1500)).toBe(false);
  });
});
