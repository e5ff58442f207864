import { describe, expect, it } from 'vitest';
import { MemoryStorage, RawNode, type Message } from '../../../node/src/raft/index.js';
import { enc, fixedRandom, Network, networkFrom, newStorage, storageWithLog } from './network.js';

function voteMsg(type: 'vote' | 'preVote', from: string, to: string, term: number, index: number, logTerm: number, context?: Uint8Array): Message {
  return { type, from, to, term, index, logTerm, entries: [], commit: 0, reject: false, rejectHint: 0, context };
}

describe('leader election', () => {
  it('a single voter bootstraps: campaigns after its election timeout and commits an empty entry at index 1', () => {
    const net = new Network(['a']);
    net.tick('a', 9);
    expect(net.node('a').raw.status().role).toBe('follower');
    net.tick('a', 1);
    const st = net.node('a').raw.status();
    expect(st.role).toBe('leader');
    expect(st.term).toBe(1);
    expect(st.commit).toBe(1);
    expect(net.node('a').applied.map((e) => [e.index, e.term, e.data.length])).toEqual([[1, 1, 0]]);
  });

  it('three nodes elect exactly one leader and replicate proposals (also forwarded ones)', () => {
    const net = new Network(['a', 'b', 'c']);
    net.campaign('a');
    expect(net.leaderIds()).toEqual(['a']);
    net.propose('a', 'x');
    net.propose('b', 'y');
    for (const id of ['a', 'b', 'c']) expect(net.appliedData(id)).toEqual(['x', 'y']);
  });

  it('randomizes the election timeout in [electionTick, 2*electionTick) from randomInt', () => {
    for (const [r, expected] of [[0, 10], [7, 17], [9, 19], [100, 19]] as const) {
      const asked: number[] = [];
      const raw = new RawNode({ id: 'a', storage: newStorage(['a', 'b', 'c']), electionTick: 10, heartbeatTick: 1, randomInt: (n) => { asked.push(n); return fixedRandom(r)(n); } });
      let ticks = 0;
      while (raw.status().role === 'follower' && ticks < 100) {
        raw.tick();
        ticks++;
      }
      expect(ticks).toBe(expected);
      expect(asked.every((n) => n === 10)).toBe(true);
    }
  });

  it('election safety: at most one leader per term across many elections with competing candidates', () => {
    const net = new Network(['a', 'b', 'c', 'd', 'e'], { preVote: false, checkQuorum: false });
    const leadersByTerm = new Map<number, Set<string>>();
    const ids = ['a', 'b', 'c', 'd', 'e'];
    for (let round = 0; round < 30; round++) {
      // Two candidates start at once, messages interleave in FIFO order.
      net.node(ids[round % 5]!).raw.campaign();
      net.node(ids[(round * 3 + 1) % 5]!).raw.campaign();
      net.deliverAll();
      for (const n of net.nodes.values()) {
        const st = n.raw.status();
        if (st.role === 'leader') {
          const set = leadersByTerm.get(st.term) ?? new Set();
          set.add(st.id);
          leadersByTerm.set(st.term, set);
        }
      }
    }
    expect(leadersByTerm.size).toBeGreaterThan(0);
    for (const set of leadersByTerm.values()) expect(set.size).toBe(1);
  });

  it('election restriction: a candidate with a less up-to-date log cannot win', () => {
    const net = networkFrom({
      a: storageWithLog(['a', 'b', 'c'], [1, 2], { term: 2 }),
      b: storageWithLog(['a', 'b', 'c'], [1], { term: 2 }),
      c: storageWithLog(['a', 'b', 'c'], [1, 2], { term: 2 }),
    }, { preVote: false });
    net.campaign('b');
    expect(net.node('b').raw.status().role).not.toBe('leader');
    const grants = net.sent.filter((m) => m.type === 'voteResp' && m.to === 'b' && !m.reject);
    expect(grants).toHaveLength(0);
    net.campaign('a');
    expect(net.leaderIds()).toEqual(['a']);
  });

  it('a longer log with a lower last term is not more up to date', () => {
    const net = networkFrom({
      a: storageWithLog(['a', 'b', 'c'], [1, 1, 1], { term: 3 }),
      b: storageWithLog(['a', 'b', 'c'], [1, 3], { term: 3 }),
      c: storageWithLog(['a', 'b', 'c'], [1, 3], { term: 3 }),
    }, { preVote: false });
    net.campaign('a');
    expect(net.leaderIds()).toEqual([]);
    net.campaign('b');
    expect(net.leaderIds()).toEqual(['b']);
  });

  it('one vote per term, and the vote survives a restart', () => {
    const net = new Network(['a', 'b', 'c'], { preVote: false });
    net.isolate('c');
    net.campaign('a');
    expect(net.node('b').storage.hardStateNow()).toMatchObject({ term: 1, vote: 'a' });
    // b restarts (volatile state lost) and is asked by c for a vote in the same term.
    const b = net.restart('b');
    b.raw.step(voteMsg('vote', 'c', 'b', 1, 10, 1));
    const rd = b.raw.ready();
    const resp = rd.messagesAfterPersist.find((m) => m.type === 'voteResp');
    expect(resp?.reject).toBe(true);
  });

  it('counts the self vote only once it is durable (after advance)', () => {
    const s = newStorage(['a']);
    const raw = new RawNode({ id: 'a', storage: s, electionTick: 10, heartbeatTick: 1, randomInt: fixedRandom(0) });
    raw.campaign();
    expect(raw.status().role).toBe('candidate');
    const rd = raw.ready();
    expect(rd.hardState).toMatchObject({ term: 1, vote: 'a' });
    expect(rd.mustSync).toBe(true);
    expect(raw.status().role).toBe('candidate'); // not yet: the vote is not on disk
    s.setHardState(rd.hardState!);
    raw.advance(rd);
    expect(raw.status().role).toBe('leader');
  });

  it('a candidate does not win with a peer vote alone before its own vote is durable', () => {
    const raw = new RawNode({ id: 'a', storage: newStorage(['a', 'b', 'c']), electionTick: 10, heartbeatTick: 1, randomInt: fixedRandom(0), preVote: false });
    raw.campaign();
    raw.step({ type: 'voteResp', from: 'b', to: 'a', term: 1, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0 });
    expect(raw.status().role).toBe('candidate');
    raw.advance(raw.ready());
    expect(raw.status().role).toBe('leader');
  });

  it('steps down to follower on a message with a higher term', () => {
    const net = new Network(['a', 'b', 'c']);
    net.campaign('a');
    const a = net.node('a').raw;
    a.step({ type: 'appResp', from: 'b', to: 'a', term: 5, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0 });
    expect(a.status()).toMatchObject({ role: 'follower', term: 5, vote: '' });
  });

  it('a stale leader that rejoins learns the new term from the answer to its heartbeat and steps down', () => {
    const net = new Network(['a', 'b', 'c'], { checkQuorum: false });
    net.campaign('a');
    net.isolate('a');
    net.tick('c', 10); // c loses its leader (and its pre-vote is ignored by b, which still has one)
    net.campaign('b');
    expect(net.node('b').raw.status()).toMatchObject({ role: 'leader', term: 2 });
    expect(net.node('a').raw.status()).toMatchObject({ role: 'leader', term: 1 });
    net.heal();
    net.tick('a', 1); // heartbeat at term 1
    expect(net.node('a').raw.status()).toMatchObject({ role: 'follower', term: 2 });
  });

  it('a loser steps back to follower when a majority rejects', () => {
    const net = networkFrom({
      a: storageWithLog(['a', 'b', 'c'], [1], { term: 1 }),
      b: storageWithLog(['a', 'b', 'c'], [1, 1], { term: 1 }),
      c: storageWithLog(['a', 'b', 'c'], [1, 1], { term: 1 }),
    });
    net.campaign('a');
    expect(net.node('a').raw.status()).toMatchObject({ role: 'follower', term: 1 });
  });
});

describe('PreVote', () => {
  it('a pre-candidate does not bump its term', () => {
    const net = new Network(['a', 'b', 'c']);
    net.isolate('a');
    net.campaign('a');
    expect(net.node('a').raw.status()).toMatchObject({ role: 'precandidate', term: 0 });
    expect(net.sent.filter((m) => m.type === 'preVote').every((m) => m.term === 1)).toBe(true);
  });

  it('a partitioned node that rejoins does not disrupt a stable cluster', () => {
    const net = new Network(['a', 'b', 'c']);
    net.campaign('a');
    net.propose('a', 'x');
    net.isolate('c');
    net.tickAll(50); // c times out repeatedly while cut off; a and b keep heartbeating
    expect(net.node('c').raw.status().term).toBe(1);
    net.heal();
    net.tickAll(30);
    expect(net.leaderIds()).toEqual(['a']);
    expect(net.node('a').raw.status().term).toBe(1);
    expect(net.node('c').raw.status()).toMatchObject({ role: 'follower', term: 1, leader: 'a' });
  });

  it('without PreVote the same rejoin disrupts the cluster (shows what PreVote prevents)', () => {
    const net = new Network(['a', 'b', 'c'], { preVote: false, checkQuorum: false });
    net.campaign('a');
    net.isolate('c');
    net.tickAll(50);
    expect(net.node('c').raw.status().term).toBeGreaterThan(1);
    net.heal();
    net.tickAll(30);
    expect(net.node('a').raw.status().term).toBeGreaterThan(1);
  });

  it('grants a pre-vote only with an up-to-date log and no recent leader', () => {
    const net = new Network(['a', 'b', 'c']);
    net.campaign('a');
    const b = net.node('b').raw;
    // A live leader: the request is ignored (no answer at all).
    b.step(voteMsg('preVote', 'c', 'b', 2, 1, 1));
    expect(b.ready().messagesAfterPersist).toEqual([]);
    // After an election timeout without leader contact: up-to-date log → granted, term unchanged.
    for (let i = 0; i < 10; i++) b.tick();
    net.deliverAll();
    const fresh = new Network(['a', 'b', 'c']);
    const f = fresh.node('b').raw;
    f.step(voteMsg('preVote', 'c', 'b', 1, 0, 0));
    let rd = f.ready();
    expect(rd.messagesAfterPersist[0]).toMatchObject({ type: 'preVoteResp', reject: false, term: 1 });
    expect(f.status().term).toBe(0);
    f.advance(rd);
    // A stale log → rejected.
    const g = networkFrom({ b: storageWithLog(['a', 'b', 'c'], [1, 1], { term: 1 }) }).node('b').raw;
    g.step(voteMsg('preVote', 'c', 'b', 2, 1, 1));
    rd = g.ready();
    expect(rd.messagesAfterPersist[0]).toMatchObject({ type: 'preVoteResp', reject: true });
  });

  it('rejects a pre-vote from a lower term and the pre-candidate gives up', () => {
    const g = networkFrom({ b: storageWithLog(['a', 'b', 'c'], [1], { term: 5 }) }).node('b').raw;
    g.step(voteMsg('preVote', 'c', 'b', 3, 1, 1));
    const rd = g.ready();
    expect(rd.messagesAfterPersist[0]).toMatchObject({ type: 'preVoteResp', reject: true, term: 5 });
  });
});

describe('CheckQuorum and the leader lease', () => {
  it('a leader cut off from the quorum steps down after an election timeout', () => {
    const net = new Network(['a', 'b', 'c']);
    net.campaign('a');
    net.isolate('a');
    net.tick('a', 9);
    expect(net.node('a').raw.status().role).toBe('leader');
    net.tick('a', 11);
    expect(net.node('a').raw.status().role).toBe('follower');
  });

  it('a leader that hears from a quorum stays leader', () => {
    const net = new Network(['a', 'b', 'c']);
    net.campaign('a');
    net.cutLink('a', 'c');
    net.tickAll(50);
    expect(net.node('a').raw.status().role).toBe('leader');
  });

  it('without CheckQuorum a cut-off leader stays leader (what the rule changes)', () => {
    const net = new Network(['a', 'b', 'c'], { checkQuorum: false });
    net.campaign('a');
    net.isolate('a');
    net.tick('a', 50);
    expect(net.node('a').raw.status().role).toBe('leader');
  });

  it('a follower with a live leader ignores a higher-term vote request unless it is a transfer', () => {
    const net = new Network(['a', 'b', 'c'], { preVote: false });
    net.campaign('a');
    const b = net.node('b').raw;
    b.step(voteMsg('vote', 'c', 'b', 2, 1, 1));
    expect(b.status()).toMatchObject({ term: 1, leader: 'a' });
    b.step(voteMsg('vote', 'c', 'b', 2, 1, 1, enc('transfer')));
    expect(b.status()).toMatchObject({ term: 2, vote: 'c' });
  });

  it('a vote request is honoured once the lease expired', () => {
    const net = new Network(['a', 'b', 'c'], { preVote: false, randomInt: fixedRandom(5) });
    net.campaign('a');
    net.isolate('b');
    net.tick('b', 10); // lease over, own timeout (15) not yet
    const b = net.node('b').raw;
    expect(b.status().term).toBe(1);
    b.step(voteMsg('vote', 'c', 'b', 2, 1, 1));
    expect(b.status()).toMatchObject({ term: 2, vote: 'c' });
  });
});

describe('input that is odd or stale never throws', () => {
  it('drops malformed and misaddressed messages', () => {
    const raw = new RawNode({ id: 'a', storage: new MemoryStorage(), electionTick: 10, heartbeatTick: 1, randomInt: fixedRandom(0) });
    const bad: unknown[] = [
      null, 42, {}, { type: 'nope', from: 'b', to: 'a', term: 1 },
      { type: 'app', from: 'b', to: 'a', term: 1, logTerm: 0, index: 0, entries: 'x', commit: 0, reject: false, rejectHint: 0 },
      { type: 'app', from: 'b', to: 'a', term: -1, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0 },
      { type: 'app', from: 'b', to: 'a', term: 1, logTerm: 0, index: 0, entries: [{ term: 1, index: 5, type: 'normal', data: new Uint8Array() }], commit: 0, reject: false, rejectHint: 0 },
      { type: 'app', from: 'b', to: 'a', term: 1, logTerm: 7, index: 9, entries: [], commit: 99, reject: false, rejectHint: 0 },
      { type: 'heartbeat', from: 'b', to: 'a', term: 1, logTerm: 0, index: 0, entries: [], commit: 99, reject: false, rejectHint: 0 },
      { type: 'snap', from: 'b', to: 'a', term: 1, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0 },
      { type: 'readIndexResp', from: 'b', to: 'a', term: 1, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0 },
      { type: 'appResp', from: 'b', to: 'zz', term: 1, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0 },
    ];
    for (const m of bad) expect(() => raw.step(m as Message)).not.toThrow();
    expect(raw.status().commit).toBe(0);
  });
});
