import { describe, expect, it } from 'vitest';
import type { Entry } from '../../node/src/raft/index.js';
import { mixDigest } from './kv-machine.js';
import { InvariantViolation, SafetyChecker, type Rule } from './safety-checker.js';

function fires(rule: Rule, history: (c: SafetyChecker) => void): void {
  const c = new SafetyChecker();
  let caught: unknown;
  try {
    history(c);
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected ${rule} to fire`).toBeInstanceOf(InvariantViolation);
  expect((caught as InvariantViolation).rule).toBe(rule);
}

describe('SafetyChecker fires on hand-made violating histories', () => {
  it('Election Safety: two leaders in one term', () => {
    const ok = new SafetyChecker();
    ok.observeLeader('a', 3);
    ok.observeLeader('a', 3);
    ok.observeLeader('b', 4);
    fires('ElectionSafety', (c) => {
      c.observeLeader('a', 3);
      c.observeLeader('b', 3);
    });
  });

  it('learners never stand for election', () => {
    new SafetyChecker().observeRole('x', 'follower', ['x']);
    fires('LearnerCampaign', (c) => c.observeRole('x', 'precandidate', ['x']));
  });

  it('Log Matching: one (index, term) names one entry and one predecessor', () => {
    const ok = new SafetyChecker();
    ok.observeLogEntry('a', 5, 2, 1, 111, 0);
    ok.observeLogEntry('b', 5, 2, 1, 111, 0);
    fires('LogMatching', (c) => {
      c.observeLogEntry('a', 5, 2, 1, 111, 0);
      c.observeLogEntry('b', 5, 2, 1, 222, 0);
    });
    fires('LogMatching', (c) => {
      c.observeLogEntry('a', 5, 2, 1, 111, 0);
      c.observeLogEntry('b', 5, 2, 2, 111, 0);
    });
  });

  it('State Machine Safety: committed terms, applied histories, snapshots and writes agree', () => {
    fires('StateMachineSafety', (c) => {
      c.observeCommitted('a', 7, 3);
      c.observeCommitted('b', 7, 4);
    });
    fires('StateMachineSafety', (c) => {
      c.observeApply('a', 7, 0xabc);
      c.observeApply('b', 7, 0xdef);
    });
    fires('StateMachineSafety', (c) => {
      c.observeApply('a', 7, 0xabc);
      c.observeSnapshotInstall('b', 7, 0xdef);
    });
    fires('StateMachineSafety', (c) => {
      c.observeWriteApplied('w1', 7);
      c.observeWriteApplied('w1', 9);
    });
  });

  it('a skipped entry leaves the state alone and is the entry the cluster applied there', () => {
    const e = (index: number, data: number[]): Entry => ({ index, term: 2, type: 'normal', data: new Uint8Array(data) });
    const ok = new SafetyChecker();
    ok.observeApply('a', 6, 100);
    ok.observeApply('a', 7, mixDigest(100, e(7, [1])));
    ok.observeSkip('b', e(7, [1]), { applied: 9, digest: 5 }, { applied: 9, digest: 5 });
    ok.observeSkip('b', e(8, [2]), { applied: 9, digest: 5 }, { applied: 9, digest: 5 }); // 7 and 8 not both known: nothing to compare
    fires('StateMachineSafety', (c) => c.observeSkip('b', e(7, [1]), { applied: 9, digest: 5 }, { applied: 7, digest: 6 }));
    fires('StateMachineSafety', (c) => {
      c.observeApply('a', 6, 100);
      c.observeApply('a', 7, mixDigest(100, e(7, [1])));
      c.observeSkip('b', e(7, [9]), { applied: 9, digest: 5 }, { applied: 9, digest: 5 });
    });
  });

  it('every core gets the same configuration from a conf change, and a configuration as of an index is the one the conf changes up to it made', () => {
    const three = { voters: ['a', 'b', 'c'], learners: [] };
    const withD = { voters: ['a', 'b', 'c'], learners: ['d'] };
    const ok = new SafetyChecker();
    ok.observeConfigSet('a', 0, three);
    ok.observeConfigSet('a', 5, withD);
    ok.observeConfigSet('b', 5, { voters: ['c', 'b', 'a'], learners: ['d'] }); // order does not matter
    ok.checkConfigAsOf('b', 4, three, 'its core');
    ok.checkConfigAsOf('b', 9, withD, 'its core');
    fires('ConfChangeSafety', (c) => {
      c.observeConfigSet('a', 5, withD);
      c.observeConfigSet('b', 5, three);
    });
    fires('ConfChangeSafety', (c) => {
      c.observeConfigSet('a', 0, three);
      c.observeConfigSet('a', 5, withD);
      c.checkConfigAsOf('b', 7, three, 'its core'); // missed the conf change at 5
    });
    fires('ConfChangeSafety', (c) => {
      c.observeConfigSet('a', 0, three);
      c.observeConfigSet('a', 5, withD);
      c.checkConfigAsOf('b', 4, withD, 'a snapshot'); // claims the change before it happened
    });
  });

  it('a node never rewrites an index it knows is committed, but a stale node may', () => {
    const ok = new SafetyChecker();
    ok.observeCommitted('a', 7, 4);
    ok.observeLogEntry('stale-leader', 7, 3, 3, 1, 6); // its own commit is 6: legal
    fires('StateMachineSafety', (c) => {
      c.observeCommitted('a', 7, 4);
      c.observeLogEntry('b', 7, 3, 3, 1, 7);
    });
  });

  it('Leader Completeness: a new leader lacking a committed entry', () => {
    const ok = new SafetyChecker();
    ok.observeCommitted('a', 5, 2);
    ok.observeNewLeader('b', 3, (i) => (i === 5 ? 2 : undefined));
    ok.observeNewLeader('c', 4, () => 'compacted');
    fires('LeaderCompleteness', (c) => {
      c.observeCommitted('a', 5, 2);
      c.observeNewLeader('b', 3, (i) => (i === 5 ? 1 : undefined));
    });
    fires('LeaderCompleteness', (c) => {
      c.observeCommitted('a', 5, 2);
      c.observeNewLeader('b', 3, () => undefined);
    });
  });

  it('commit by counting only entries of the current term (§5.4.2)', () => {
    fires('CommitRule', (c) => c.observeLeaderCommit('a', 3, 9, 2, ['a', 'b', 'c'], () => true));
  });

  it('commit needs a durable majority of voters; learners and unsynced copies do not count', () => {
    new SafetyChecker().observeLeaderCommit('a', 3, 9, 3, ['a', 'b', 'c'], (v) => v !== 'c');
    // Leader a and learner d hold it; voters b and c do not: 1 of 3 voters.
    fires('CommitQuorum', (c) => c.observeLeaderCommit('a', 3, 9, 3, ['a', 'b', 'c'], (v) => v === 'a' || v === 'd'));
    // Even number of voters: 2 of 4 is not a majority.
    fires('CommitQuorum', (c) => c.observeLeaderCommit('a', 3, 9, 3, ['a', 'b', 'c', 'd'], (v) => v === 'a' || v === 'b'));
  });

  it('linearizable reads: never stale, never an unwritten value', () => {
    const ok = new SafetyChecker();
    ok.proposeWrite('w1', 'k', 'v1');
    ok.observeWriteApplied('w1', 4);
    ok.ackWrite('w1');
    ok.beginRead('r1', 'n1', 'k');
    ok.serveRead('r1', { value: 'v1', id: 'w1' });
    fires('LinearizableRead', (c) => {
      c.proposeWrite('w1', 'k', 'v1');
      c.proposeWrite('w2', 'k', 'v2');
      c.observeWriteApplied('w1', 4);
      c.observeWriteApplied('w2', 6);
      c.ackWrite('w2');
      c.beginRead('r1', 'n1', 'k');
      c.serveRead('r1', { value: 'v1', id: 'w1' });
    });
    fires('LinearizableRead', (c) => {
      c.proposeWrite('w1', 'k', 'v1');
      c.observeWriteApplied('w1', 4);
      c.ackWrite('w1');
      c.beginRead('r1', 'n1', 'k');
      c.serveRead('r1', undefined);
    });
    fires('LinearizableRead', (c) => {
      c.beginRead('r1', 'n1', 'k');
      c.serveRead('r1', { value: 'forged', id: 'w9' });
    });
  });

  it('a write acknowledged after a read began does not make that read stale', () => {
    const c = new SafetyChecker();
    c.proposeWrite('w1', 'k', 'v1');
    c.beginRead('r1', 'n1', 'k');
    c.observeWriteApplied('w1', 4);
    c.ackWrite('w1');
    c.serveRead('r1', undefined);
  });

  it('at most one uncommitted conf change in a leader log', () => {
    new SafetyChecker().observePendingConfChanges('a', 2, [8]);
    fires('ConfChangeSafety', (c) => c.observePendingConfChanges('a', 2, [8, 9]));
  });
});
