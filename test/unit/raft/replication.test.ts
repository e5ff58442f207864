import { describe, expect, it } from 'vitest';
import { RawNode, type Message } from '../../../node/src/raft/index.js';
import { dec, enc, fixedRandom, logTerms, Network, networkFrom, newStorage, storageWithLog } from './network.js';

function app(from: string, to: string, term: number, index: number, logTerm: number, entries: [number, number][], commit: number): Message {
  return {
    type: 'app', from, to, term, index, logTerm, commit, reject: false, rejectHint: 0,
    entries: entries.map(([i, t]) => ({ index: i, term: t, type: 'normal', data: enc(`x${i}`) })),
  };
}

/** 'app' messages carrying entries (commit-only appends are left out). */
const appsTo = (net: Network, to: string, since: number) => net.sent.slice(since).filter((m) => m.type === 'app' && m.to === to && m.entries.length > 0);

describe('log replication', () => {
  it('log matching: a follower truncates a conflicting uncommitted suffix and converges on the leader log', () => {
    const net = networkFrom({
      a: storageWithLog(['a', 'b', 'c'], [1, 1, 3], { term: 3, commit: 2 }),
      b: storageWithLog(['a', 'b', 'c'], [1, 1, 2, 2, 2], { term: 2, commit: 2 }),
      c: storageWithLog(['a', 'b', 'c'], [1, 1, 3], { term: 3, commit: 2 }),
    });
    net.campaign('a');
    expect(net.leaderIds()).toEqual(['a']);
    net.propose('a', 'p');
    for (const id of ['a', 'b', 'c']) expect(logTerms(net.node(id))).toEqual([1, 1, 3, 4, 4]);
    expect(net.appliedData('b')).toEqual(['t1i1', 't1i2', 't3i3', 'p']);
  });

  it('a follower never truncates committed entries', () => {
    const net = networkFrom({ b: storageWithLog(['a', 'b', 'c'], [1, 1, 1], { term: 1, commit: 3 }) });
    const b = net.node('b');
    // A (bogus) leader claims index 2 has term 2: that would overwrite committed entries.
    b.raw.step(app('x', 'b', 2, 1, 1, [[2, 2], [3, 2]], 3));
    net.deliverAll();
    expect(logTerms(b)).toEqual([1, 1, 1]);
    // A stale append below the commit is answered with the commit index.
    b.raw.step(app('x', 'b', 2, 0, 0, [[1, 1]], 0));
    const rd = b.raw.ready();
    expect(rd.messagesAfterPersist.at(-1)).toMatchObject({ type: 'appResp', index: 3, reject: false });
  });

  it('leader append-only: a leader never rewrites its own log, even on odd input', () => {
    const net = new Network(['a', 'b', 'c']);
    net.campaign('a');
    net.propose('a', 'x');
    const before = logTerms(net.node('a'));
    net.node('a').raw.step(app('b', 'a', 1, 0, 0, [[1, 1], [2, 1], [3, 1]], 0)); // same term: impossible, must be ignored
    net.node('a').raw.step({ type: 'appResp', from: 'b', to: 'a', term: 1, logTerm: 0, index: 1, entries: [], commit: 0, reject: true, rejectHint: 0 });
    net.deliverAll();
    expect(logTerms(net.node('a'))).toEqual(before);
    expect(net.node('a').raw.status().role).toBe('leader');
  });

  it('fast backtracking: a long divergent follower log is found in a couple of round trips', () => {
    const net = networkFrom({
      a: storageWithLog(['a', 'b', 'c'], [1, ...Array(30).fill(3)], { term: 3, commit: 1 }),
      b: storageWithLog(['a', 'b', 'c'], [1, ...Array(40).fill(2)], { term: 2, commit: 1 }),
      c: storageWithLog(['a', 'b', 'c'], [1, ...Array(30).fill(3)], { term: 3, commit: 1 }),
    });
    net.campaign('a');
    net.propose('a', 'p');
    const rejects = net.sent.filter((m) => m.type === 'appResp' && m.from === 'b' && m.reject);
    expect(rejects.length).toBeGreaterThan(0);
    expect(rejects.length).toBeLessThanOrEqual(2);
    expect(logTerms(net.node('b'))).toEqual(logTerms(net.node('a')));
  });

  it('probe state sends one message at a time', () => {
    const net = new Network(['a', 'b', 'c']);
    net.campaign('a');
    net.isolate('c');
    // c's messages are lost; after an election-timeout-free while it is still probed.
    const a = net.node('a').raw;
    a.reportUnreachable('c'); // replicate → probe
    const since = net.sent.length;
    for (let i = 0; i < 5; i++) net.propose('a', `p${i}`);
    expect(a.status().progress!.get('c')!.state).toBe('probe');
    expect(appsTo(net, 'c', since)).toHaveLength(1);
  });

  it('replicate state pipelines up to maxInflightMsgs unacknowledged messages', () => {
    const net = new Network(['a', 'b', 'c'], { maxInflightMsgs: 3 });
    net.campaign('a');
    net.propose('a', 'warm'); // b and c are now in replicate
    net.filter = (m) => !(m.type === 'appResp' && m.from === 'b');
    const since = net.sent.length;
    for (let i = 0; i < 10; i++) net.propose('a', `p${i}`);
    expect(net.node('a').raw.status().progress!.get('b')).toMatchObject({ state: 'replicate', inflight: 3 });
    expect(appsTo(net, 'b', since)).toHaveLength(3);
    expect(appsTo(net, 'c', since)).toHaveLength(10);
  });

  it('replicate state is also bounded by maxInflightBytes', () => {
    const net = new Network(['a', 'b', 'c'], { maxInflightBytes: 200 });
    net.campaign('a');
    net.propose('a', 'warm');
    net.filter = (m) => !(m.type === 'appResp' && m.from === 'b');
    const since = net.sent.length;
    for (let i = 0; i < 10; i++) net.node('a').raw.propose(new Uint8Array(100));
    net.deliverAll();
    expect(appsTo(net, 'b', since)).toHaveLength(2); // 2 × (100 + 24 overhead) ≥ 200
  });

  it('batches entries of several proposals into one app, split by maxSizePerMsg', () => {
    const net = new Network(['a', 'b', 'c'], { maxInflightMsgs: 1 });
    net.campaign('a');
    net.propose('a', 'warm');
    const a = net.node('a').raw;
    let since = net.sent.length;
    for (let i = 0; i < 5; i++) a.propose(enc(`p${i}`)); // the first fills the single inflight slot
    net.deliverAll();
    expect(appsTo(net, 'b', since).map((m) => m.entries.length)).toEqual([1, 4]);
    // maxSizePerMsg: 20 entries of 100 bytes with a 1000-byte limit → 8 per message.
    const small = new Network(['a', 'b', 'c'], { maxSizePerMsg: 1000 });
    small.campaign('a');
    small.propose('a', 'warm');
    since = small.sent.length;
    small.node('a').raw.proposeBatch(Array.from({ length: 20 }, () => new Uint8Array(100)));
    small.deliverAll();
    expect(appsTo(small, 'b', since).filter((m) => m.entries.length > 0).map((m) => m.entries.length)).toEqual([8, 8, 4]);
  });

  it('Figure 8: a leader does not commit an entry of an earlier term by counting replicas', () => {
    const net = networkFrom({
      a: storageWithLog(['a', 'b', 'c'], [1, 2], { term: 2, commit: 1 }),
      b: storageWithLog(['a', 'b', 'c'], [1], { term: 2, commit: 1 }),
      c: storageWithLog(['a', 'b', 'c'], [1], { term: 2, commit: 1 }),
    }, { maxSizePerMsg: 1 });
    // Entries of the new term (index 3, the leader's empty entry) never reach anyone.
    net.filter = (m) => {
      if (m.type === 'app') m.entries = m.entries.filter((e) => e.index < 3);
      return true;
    };
    net.campaign('a');
    const a = net.node('a').raw;
    expect(a.status()).toMatchObject({ role: 'leader', term: 3 });
    net.tickAll(3);
    expect(a.status().progress!.get('b')!.match).toBe(2); // index 2 (term 2) is on a majority…
    expect(a.status().commit).toBe(1); // …but must not be committed by counting
    net.filter = () => true;
    net.tickAll(3);
    expect(a.status().commit).toBe(3); // once index 3 (term 3) is replicated, both commit
  });

  it('the leader counts its own entries only once they are durable', () => {
    const net = new Network(['a', 'b', 'c']);
    net.campaign('a');
    net.isolate('c');
    net.manual.add('a');
    const a = net.node('a');
    a.raw.propose(enc('x'));
    const rd = a.raw.ready();
    expect(rd.entries).toHaveLength(1);
    net.send(rd.messages); // the leader replicates in parallel with its own fsync
    net.deliverAll(); // b persists and acks
    expect(a.raw.status().progress!.get('b')!.match).toBe(2);
    expect(a.raw.status().commit).toBe(1); // b + a's unpersisted entry is not a quorum
    a.storage.append(rd.entries);
    if (rd.hardState) a.storage.setHardState(rd.hardState);
    net.send(rd.messagesAfterPersist);
    a.raw.advance(rd);
    expect(a.raw.status().commit).toBe(2);
    net.manual.clear();
    net.deliverAll();
    expect(net.appliedData('a')).toEqual(['x']);
  });

  it('a single voter commits only after its own entry is durable', () => {
    const net = new Network(['a']);
    net.campaign('a');
    const a = net.node('a').raw;
    a.propose(enc('x'));
    expect(a.status().commit).toBe(1);
    const rd = a.ready();
    expect(rd.committedEntries).toHaveLength(0);
    net.node('a').storage.append(rd.entries);
    a.advance(rd);
    expect(a.status().commit).toBe(2);
    expect(a.ready().committedEntries.map((e) => dec(e.data))).toEqual(['x']);
  });

  it('heartbeats carry min(match, commit) so a lagging follower never commits what it may not have', () => {
    const net = new Network(['a', 'b', 'c']);
    net.campaign('a');
    net.filter = (m) => !(m.type === 'app' && m.to === 'c');
    for (let i = 0; i < 3; i++) net.propose('a', `p${i}`);
    const since = net.sent.length;
    net.tickAll(1);
    const hb = net.sent.slice(since).filter((m) => m.type === 'heartbeat');
    expect(hb.find((m) => m.to === 'b')!.commit).toBe(4);
    expect(hb.find((m) => m.to === 'c')!.commit).toBe(1);
    expect(net.node('c').raw.status().commit).toBe(1);
  });

  it('classifies messages: appends/heartbeats go at once, acks and votes after persistence', () => {
    const net = new Network(['a', 'b', 'c'], { preVote: false });
    net.manual.add('a');
    net.manual.add('b');
    const a = net.node('a');
    const b = net.node('b');
    a.raw.campaign();
    let rd = a.raw.ready();
    expect(rd.messages.map((m) => m.type)).toEqual(['vote', 'vote']);
    a.raw.advance(rd);
    b.raw.step(rd.messages.find((m) => m.to === 'b')!);
    rd = b.raw.ready();
    expect(rd.messages).toEqual([]);
    expect(rd.messagesAfterPersist.map((m) => m.type)).toEqual(['voteResp']);
    expect(rd.hardState).toMatchObject({ term: 1, vote: 'a' });
    b.raw.advance(rd);
    a.raw.step(rd.messagesAfterPersist[0]!);
    rd = a.raw.ready();
    expect(rd.messages.map((m) => m.type)).toEqual(['app', 'app']);
    expect(rd.messagesAfterPersist).toEqual([]);
    a.raw.advance(rd);
    b.raw.step(rd.messages.find((m) => m.to === 'b')!);
    rd = b.raw.ready();
    expect(rd.entries).toHaveLength(1);
    expect(rd.messages).toEqual([]);
    expect(rd.messagesAfterPersist.map((m) => m.type)).toEqual(['appResp']);
    b.raw.advance(rd);
    b.raw.step({ type: 'heartbeat', from: 'a', to: 'b', term: 1, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0 });
    expect(b.raw.ready().messages.map((m) => m.type)).toEqual(['heartbeatResp']);
  });

  it('committedEntries never include entries that are not durable on this node', () => {
    const storage = newStorage(['a', 'b', 'c']);
    const raw = new RawNode({ id: 'b', storage, electionTick: 10, heartbeatTick: 1, randomInt: fixedRandom(0) });
    raw.step(app('a', 'b', 1, 0, 0, [[1, 1], [2, 1]], 2));
    const rd = raw.ready();
    expect(rd.entries).toHaveLength(2);
    expect(rd.hardState!.commit).toBe(2);
    expect(rd.committedEntries).toEqual([]);
    storage.append(rd.entries);
    raw.advance(rd);
    expect(raw.ready().committedEntries.map((e) => e.index)).toEqual([1, 2]);
  });

  it('respects maxCommittedSizePerReady and sets applied to the last handed-out entry on advance', () => {
    const s = storageWithLog(['a', 'b', 'c'], [1, 1, 1, 1, 1], { term: 1, commit: 5 });
    const raw = new RawNode({ id: 'b', storage: s, electionTick: 10, heartbeatTick: 1, randomInt: fixedRandom(0), maxCommittedSizePerReady: 60 });
    const sizes: number[] = [];
    while (raw.hasReady()) {
      const rd = raw.ready();
      sizes.push(rd.committedEntries.length);
      raw.advance(rd);
      expect(raw.status().applied).toBe(rd.committedEntries.at(-1)?.index ?? raw.status().applied);
    }
    expect(sizes).toEqual([2, 2, 1]);
    expect(raw.status().applied).toBe(5);
  });

  it('does not hand out entries again on restart up to config.applied', () => {
    const s = storageWithLog(['a', 'b', 'c'], [1, 1, 1, 1], { term: 1, commit: 4 });
    const raw = new RawNode({ id: 'b', storage: s, electionTick: 10, heartbeatTick: 1, randomInt: fixedRandom(0), applied: 2 });
    expect(raw.ready().committedEntries.map((e) => e.index)).toEqual([3, 4]);
  });
});

describe('recovery from lost messages', () => {
  it('a follower in replicate state whose appends were all lost catches up after heartbeats', () => {
    const net = new Network(['a', 'b', 'c'], { maxInflightMsgs: 2 });
    net.campaign('a');
    net.propose('a', 'warm');
    net.filter = (m) => !(m.type === 'app' && m.to === 'c');
    for (let i = 0; i < 5; i++) net.propose('a', `p${i}`);
    expect(net.node('a').raw.status().progress!.get('c')).toMatchObject({ state: 'replicate', inflight: 2 });
    net.filter = () => true;
    net.tickAll(5);
    expect(net.appliedData('c')).toEqual(['warm', 'p0', 'p1', 'p2', 'p3', 'p4']);
  });
});

describe('commit-only appends to followers that hold the whole log', () => {
  it('go out marked noAck, and the followers take the commit without answering', () => {
    const net = new Network(['a', 'b', 'c']);
    net.campaign('a');
    net.propose('a', 'x');
    const since = net.sent.length;
    net.propose('a', 'y');
    const sent = net.sent.slice(since);
    // The first ack commits y; c's ack is still on its way then, but y was sent to c already.
    const commitOnly = sent.filter((m) => m.type === 'app' && m.entries.length === 0);
    expect(commitOnly.map((m) => m.to).sort()).toEqual(['b', 'c']);
    expect(commitOnly.every((m) => m.noAck === true)).toBe(true);
    // Each follower answered the append with the entry, and nothing else.
    const answers = sent.filter((m) => m.type === 'appResp');
    expect(answers.map((m) => m.from).sort()).toEqual(['b', 'c']);
    for (const id of ['b', 'c']) expect(net.node(id).raw.status().commit).toBe(net.node('a').raw.status().commit);
    expect(net.appliedData('c')).toEqual(['x', 'y']);
  });

  it('still answer a rejection, and a follower still behind gets an append that asks for an answer', () => {
    const net = networkFrom({ b: storageWithLog(['a', 'b', 'c'], [1, 1, 1], { term: 1, commit: 1 }) });
    const b = net.node('b');
    // An append that does not match b's log, even marked noAck, is answered: the leader must back off.
    b.raw.step({ ...app('x', 'b', 2, 3, 2, [], 1), noAck: true });
    expect(b.raw.ready().messagesAfterPersist).toMatchObject([{ type: 'appResp', reject: true }]);
  });
});
