import { describe, expect, it } from 'vitest';
import {
  decodeConfChange, encodeConfChange, MemoryStorage, ProposalDroppedError, RawNode, type ConfChange,
} from '../../../node/src/raft/index.js';
import { enc, fixedRandom, Network, newStorage } from './network.js';

const cc = (type: ConfChange['type'], nodeId: string): ConfChange => ({ type, nodeId, context: enc(`ctx-${nodeId}`) });

function threeWithLeader(opts = {}): Network {
  const net = new Network(['a', 'b', 'c'], opts);
  net.campaign('a');
  return net;
}

describe('conf change encoding', () => {
  it('round-trips and rejects garbage with a clear error', () => {
    const c = cc('promote', 'node-ä1');
    expect(decodeConfChange(encodeConfChange(c))).toEqual(c);
    expect(() => decodeConfChange(new Uint8Array([1, 2, 3]))).toThrow(/invalid conf change encoding/);
    expect(() => decodeConfChange(new Uint8Array([9, 0, 0, 1, 65, 0, 0, 0, 0]))).toThrow(/version/);
    expect(() => decodeConfChange(new Uint8Array([1, 7, 0, 1, 65, 0, 0, 0, 0]))).toThrow(/type/);
    expect(() => decodeConfChange(new Uint8Array([1, 0, 0, 1, 65, 0, 0, 0, 5]))).toThrow(/context length/);
    expect(() => encodeConfChange({ type: 'bogus' as never, nodeId: 'x', context: new Uint8Array() })).toThrow();
  });
});

describe('membership changes', () => {
  it('a joining node with an empty configuration never campaigns and learns the config from the log', () => {
    const net = threeWithLeader();
    const d = net.add('d', new MemoryStorage());
    net.tick('d', 50);
    expect(d.raw.status()).toMatchObject({ role: 'follower', term: 0 });
    net.node('a').raw.proposeConfChange(cc('addLearner', 'd'));
    net.deliverAll();
    net.tickAll(2);
    expect(d.raw.status().config).toEqual({ voters: ['a', 'b', 'c'], learners: ['d'] });
    expect(net.node('a').raw.status().progress!.get('d')).toMatchObject({ isLearner: true, match: 2 });
    net.propose('a', 'x');
    expect(net.appliedData('d')).toEqual(['x']);
  });

  it('learners are replicated to but never count toward commit; after promotion they do', () => {
    const net = new Network(['a', 'b', 'c'], {}, ['d']);
    net.campaign('a');
    net.isolate('b');
    net.isolate('c');
    net.cutLink('a', 'a'); // no-op; a and d still talk
    net.heal();
    net.filter = (m) => m.from !== 'b' && m.from !== 'c' && m.to !== 'b' && m.to !== 'c';
    net.propose('a', 'x');
    expect(net.node('a').raw.status().progress!.get('d')!.match).toBe(2);
    expect(net.node('a').raw.status().commit).toBe(1);
    // Promote d with b's help, then a and d alone (2 of 4 voters) still cannot commit, but a, b, d can.
    net.filter = () => true;
    net.deliverAll();
    net.node('a').raw.proposeConfChange(cc('promote', 'd'));
    net.deliverAll();
    expect(net.node('a').raw.status().config).toEqual({ voters: ['a', 'b', 'c', 'd'], learners: [] });
    net.filter = (m) => m.from !== 'c' && m.to !== 'c';
    const before = net.node('a').raw.status().commit;
    net.propose('a', 'y');
    expect(net.node('a').raw.status().commit).toBe(before + 1);
  });

  it('learners never campaign and their votes never count', () => {
    const net = new Network(['a', 'b', 'c'], {}, ['d']);
    net.tick('d', 50);
    expect(net.node('d').raw.status()).toMatchObject({ role: 'follower', term: 0 });
    net.node('d').raw.campaign();
    expect(net.node('d').raw.status().role).toBe('follower');
    const raw = new RawNode({ id: 'a', storage: newStorage(['a', 'b', 'c'], ['d']), electionTick: 10, heartbeatTick: 1, randomInt: fixedRandom(0), preVote: false });
    raw.campaign();
    raw.advance(raw.ready()); // own vote durable: 1 of 3
    expect(raw.ready().messages.map((m) => m.to)).not.toContain('d'); // no vote request to a learner
    raw.step({ type: 'voteResp', from: 'd', to: 'a', term: 1, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0 });
    expect(raw.status().role).toBe('candidate');
    raw.step({ type: 'voteResp', from: 'b', to: 'a', term: 1, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0 });
    expect(raw.status().role).toBe('leader');
  });

  it('allows only one pending conf change at a time', () => {
    const net = threeWithLeader();
    const a = net.node('a').raw;
    a.proposeConfChange(cc('addLearner', 'd'));
    expect(() => a.proposeConfChange(cc('addLearner', 'e'))).toThrow(ProposalDroppedError);
    net.deliverAll(); // committed and applied
    expect(() => a.proposeConfChange(cc('addLearner', 'e'))).not.toThrow();
    net.deliverAll();
    expect(a.status().config.learners).toEqual(['d', 'e']);
  });

  it('replaces a refused forwarded conf change with a no-op instead of failing the follower', () => {
    const net = threeWithLeader();
    net.node('a').raw.proposeConfChange(cc('addLearner', 'd'));
    net.node('b').raw.proposeConfChange(cc('addLearner', 'e')); // forwarded while d is pending
    net.deliverAll();
    expect(net.node('a').raw.status().config.learners).toEqual(['d']);
  });

  it('refuses nonsensical changes at proposal time', () => {
    const net = threeWithLeader();
    const a = net.node('a').raw;
    expect(() => a.proposeConfChange(cc('addLearner', 'b'))).toThrow(/is a voter/);
    expect(() => a.proposeConfChange(cc('promote', 'zz'))).toThrow(/not a learner/);
    expect(() => a.proposeConfChange(cc('remove', 'zz'))).toThrow(/not a member/);
    const single = new Network(['a']);
    single.campaign('a');
    expect(() => single.node('a').raw.proposeConfChange(cc('remove', 'a'))).toThrow(/last voter/);
  });

  it('does not campaign while a committed conf change is not applied', () => {
    const storage = newStorage(['a', 'b', 'c']);
    storage.append([
      { index: 1, term: 1, type: 'normal', data: new Uint8Array() },
      { index: 2, term: 1, type: 'confChange', data: encodeConfChange(cc('addLearner', 'd')) },
    ]);
    storage.setHardState({ term: 1, vote: '', commit: 2 });
    const raw = new RawNode({ id: 'a', storage, electionTick: 10, heartbeatTick: 1, randomInt: fixedRandom(0), applied: 1 });
    raw.campaign();
    for (let i = 0; i < 30; i++) raw.tick();
    expect(raw.status()).toMatchObject({ role: 'follower', term: 1 });
    const rd = raw.ready();
    expect(rd.committedEntries.map((e) => e.type)).toEqual(['confChange']);
    raw.applyConfChange(decodeConfChange(rd.committedEntries[0]!.data));
    raw.advance(rd);
    raw.campaign();
    expect(raw.status().role).toBe('precandidate');
  });

  it('removing a follower stops replication to it', () => {
    const net = threeWithLeader();
    net.node('a').raw.proposeConfChange(cc('remove', 'c'));
    net.deliverAll();
    expect(net.node('a').raw.status().config.voters).toEqual(['a', 'b']);
    expect([...net.node('a').raw.status().progress!.keys()].sort()).toEqual(['a', 'b']);
    const since = net.sent.length;
    net.propose('a', 'x');
    net.tickAll(3);
    expect(net.sent.slice(since).filter((m) => m.to === 'c')).toEqual([]);
    expect(net.node('a').raw.status().commit).toBeGreaterThan(0);
  });

  it('a leader that removes itself steps down when the change is applied; the rest elect a new leader', () => {
    let k = 0;
    const net = threeWithLeader({ randomInt: (n: number) => (k++ * 7) % n });
    net.node('a').raw.proposeConfChange(cc('remove', 'a'));
    net.deliverAll();
    expect(net.node('a').raw.status()).toMatchObject({ role: 'follower', config: { voters: ['b', 'c'] } });
    net.tickAll(25);
    const leaders = net.leaderIds();
    expect(leaders).toHaveLength(1);
    expect(['b', 'c']).toContain(leaders[0]);
  });

  it('a leader removing itself from two voters stays until the survivor knows the removal is committed', () => {
    const net = new Network(['a', 'b']);
    net.campaign('a');
    net.propose('a', 'x');
    // Everything that would tell b the new commit index is lost for a while.
    net.filter = (m) => !(m.from === 'a' && m.commit >= 3);
    net.node('a').raw.proposeConfChange(cc('remove', 'a'));
    net.deliverAll();
    const a = net.node('a').raw;
    expect(a.status().config.voters).toEqual(['b']);
    expect(a.status().role).toBe('leader'); // applied, but b does not know the commit yet
    expect(() => a.propose(enc('y'))).toThrow(ProposalDroppedError);
    net.tickAll(3);
    expect(a.status().role).toBe('leader');
    net.filter = () => true;
    net.tickAll(1);
    expect(a.status().role).toBe('follower');
    expect(net.node('b').raw.status().config.voters).toEqual(['b']);
    // a is gone for good: b alone must be able to lead.
    net.isolate('a');
    net.tickAll(25);
    expect(net.leaderIds()).toEqual(['b']);
  });

  it('a leader removing itself accepts no more entries, so the survivor can still win its vote after a crash', () => {
    const net = new Network(['a', 'b']);
    net.campaign('a');
    net.propose('a', 'x');
    const a = net.node('a').raw;
    a.proposeConfChange(cc('remove', 'a'));
    expect(() => a.propose(enc('late'))).toThrow(/removing itself/);
    net.filter = (m) => !(m.from === 'a' && m.commit >= 3); // b never learns that the removal committed
    net.deliverAll();
    expect(a.status()).toMatchObject({ role: 'leader', config: { voters: ['b'] } });
    // a crashes while leaving and comes back as a removed follower; b must still be able to lead.
    net.restart('a'); // re-applies its log, including its own removal
    net.filter = () => true;
    let k = 0;
    net.restart('b', { randomInt: (n) => (k++ * 3) % n });
    net.tickAll(40);
    expect(net.leaderIds()).toEqual(['b']);
    expect(net.node('b').raw.status().config.voters).toEqual(['b']);
  });

  it('a leaving leader outlasts a survivor that is down for longer than an election timeout', () => {
    const net = new Network(['a', 'b']);
    net.campaign('a');
    net.propose('a', 'x');
    net.filter = (m) => !(m.from === 'a' && m.commit >= 3);
    net.node('a').raw.proposeConfChange(cc('remove', 'a'));
    net.deliverAll();
    net.isolate('b'); // b is down before it learns that the removal committed
    net.tick('a', 30);
    expect(net.node('a').raw.status()).toMatchObject({ role: 'leader', config: { voters: ['b'] } });
    net.filter = () => true;
    net.heal();
    net.restart('b');
    net.tickAll(3);
    expect(net.node('a').raw.status().role).toBe('follower');
    net.isolate('a');
    net.tickAll(25);
    expect(net.leaderIds()).toEqual(['b']);
  });

  it('a candidate whose own removal gets applied abandons its campaign', () => {
    const storage = newStorage(['a', 'b', 'c']);
    storage.append([
      { index: 1, term: 1, type: 'normal', data: new Uint8Array() },
      { index: 2, term: 1, type: 'confChange', data: encodeConfChange(cc('remove', 'a')) },
    ]);
    storage.setHardState({ term: 1, vote: '', commit: 1 });
    const raw = new RawNode({ id: 'a', storage, electionTick: 10, heartbeatTick: 1, randomInt: fixedRandom(0), preVote: false, applied: 1 });
    raw.campaign();
    expect(raw.status().role).toBe('candidate');
    raw.step({ type: 'app', from: 'b', to: 'a', term: 1, index: 2, logTerm: 1, commit: 2, entries: [], reject: false, rejectHint: 0 }); // stale term: ignored
    expect(raw.applyConfChange(cc('remove', 'a')).voters).toEqual(['b', 'c']);
    expect(raw.status().role).toBe('follower');
  });

  it('a removed node that keeps ticking does not disrupt the cluster', () => {
    const net = threeWithLeader();
    net.isolate('c'); // c never learns that it was removed
    net.node('a').raw.proposeConfChange(cc('remove', 'c'));
    net.deliverAll();
    expect(net.node('a').raw.status().config.voters).toEqual(['a', 'b']);
    net.tickAll(40);
    net.heal();
    net.tickAll(60);
    expect(net.leaderIds()).toEqual(['a']);
    expect(net.node('a').raw.status().term).toBe(1);
    expect(net.node('b').raw.status().term).toBe(1);
  });

  it('re-checks the commit when a conf change shrinks the quorum', () => {
    const net = new Network(['a', 'b']);
    net.campaign('a');
    net.isolate('b');
    net.propose('a', 'x');
    const a = net.node('a').raw;
    expect(a.status().commit).toBe(1);
    a.applyConfChange(cc('remove', 'b'));
    expect(a.status().commit).toBe(2);
  });

  it('applyConfChange returns the new configuration and is a no-op for repeated changes', () => {
    const net = threeWithLeader();
    const b = net.node('b').raw;
    expect(b.applyConfChange(cc('addLearner', 'd'))).toEqual({ voters: ['a', 'b', 'c'], learners: ['d'] });
    expect(b.applyConfChange(cc('addLearner', 'd'))).toEqual({ voters: ['a', 'b', 'c'], learners: ['d'] });
    expect(b.applyConfChange(cc('promote', 'd'))).toEqual({ voters: ['a', 'b', 'c', 'd'], learners: [] });
    expect(b.applyConfChange(cc('addVoter', 'e'))).toEqual({ voters: ['a', 'b', 'c', 'd', 'e'], learners: [] });
    expect(b.applyConfChange(cc('remove', 'd'))).toEqual({ voters: ['a', 'b', 'c', 'e'], learners: [] });
  });
});

describe('bootstrap and join (the node layer flow)', () => {
  it('a one-member bootstrap grows by learner + promote; joiners learn the bootstrap voter from the index-0 snapshot', () => {
    const net = new Network(['a']);
    net.tick('a', 10);
    expect(net.leaderIds()).toEqual(['a']);
    for (const id of ['b', 'c']) {
      net.add(id, new MemoryStorage());
      net.node('a').raw.proposeConfChange(cc('addLearner', id));
      net.deliverAll();
      net.tickAll(2);
      net.node('a').raw.proposeConfChange(cc('promote', id));
      net.deliverAll();
    }
    net.tickAll(2);
    for (const id of ['a', 'b', 'c']) expect(net.node(id).raw.status().config).toEqual({ voters: ['a', 'b', 'c'], learners: [] });
    // The joiners now form a quorum without a: they must know a is a voter (2 of 3, not 2 of 2).
    net.isolate('a');
    let k = 0;
    for (const id of ['b', 'c']) net.restart(id, { randomInt: (n) => (k++ * 3) % n });
    net.tickAll(40);
    const leaders = net.leaderIds().filter((id) => id !== 'a');
    expect(leaders).toHaveLength(1);
    expect(net.node(leaders[0]!).raw.status().term).toBeGreaterThan(1);
  });
});
