import { describe, expect, it } from 'vitest';
import { MemoryStorage, RAFT_DEFAULTS, RawNode, type RaftConfig } from '../../../node/src/raft/index.js';
import { fixedRandom, Network } from './network.js';

const base = (): RaftConfig => ({ id: 'a', storage: new MemoryStorage(), electionTick: 10, heartbeatTick: 1, randomInt: fixedRandom(0) });

describe('config validation', () => {
  it('documents sensible defaults', () => {
    expect(RAFT_DEFAULTS).toMatchObject({ maxSizePerMsg: 1024 * 1024, maxInflightMsgs: 256, maxInflightBytes: 0, maxUncommittedEntriesSize: 0, preVote: true, checkQuorum: true });
  });

  it.each([
    [{ heartbeatTick: 10 }, /electionTick .* greater than heartbeatTick/],
    [{ heartbeatTick: 0 }, /heartbeatTick must be >= 1/],
    [{ electionTick: 1.5 }, /electionTick must be a non-negative integer/],
    [{ id: '' }, /id must be a non-empty string/],
    [{ maxInflightMsgs: 0 }, /maxInflightMsgs/],
    [{ maxSizePerMsg: -1 }, /maxSizePerMsg/],
    [{ randomInt: undefined }, /randomInt/],
    [{ storage: undefined }, /storage/],
  ] as [Partial<RaftConfig>, RegExp][])('rejects %o', (patch, msg) => {
    expect(() => new RawNode({ ...base(), ...patch } as RaftConfig)).toThrow(msg);
  });

  it('rejects a stored commit beyond the log and an applied index beyond the commit', () => {
    const s = new MemoryStorage();
    s.setHardState({ term: 1, vote: '', commit: 5 });
    expect(() => new RawNode({ ...base(), storage: s })).toThrow(/commit 5 is out of range/);
    expect(() => new RawNode({ ...base(), applied: 3 })).toThrow(/applied 3 is above the stored commit/);
  });
});

describe('status', () => {
  it('reports progress only on the leader', () => {
    const net = new Network(['a', 'b', 'c']);
    net.campaign('a');
    net.propose('a', 'x');
    const st = net.node('a').raw.status();
    expect(st).toMatchObject({ id: 'a', term: 1, vote: 'a', commit: 2, applied: 2, lastIndex: 2, leader: 'a', role: 'leader', leadTransferee: '', config: { voters: ['a', 'b', 'c'], learners: [] } });
    expect(st.progress!.get('b')).toEqual({ match: 2, next: 3, state: 'replicate', recentActive: true, isLearner: false, inflight: 0 });
    expect(net.node('b').raw.status().progress).toBeUndefined();
    expect(net.node('b').raw.status()).toMatchObject({ leader: 'a', role: 'follower', vote: 'a' });
  });

  it('reports on the leader the last index that may hold a conf change it has not applied', () => {
    const net = new Network(['a', 'b', 'c']);
    net.campaign('a');
    // At election the whole log counts (here: empty); the leader's own empty entry is not a conf change.
    expect(net.node('a').raw.status()).toMatchObject({ pendingConfIndex: 0, applied: 1 });
    net.node('a').raw.proposeConfChange({ type: 'addLearner', nodeId: 'd', context: new Uint8Array() });
    const proposed = net.node('a').raw.status();
    expect(proposed.pendingConfIndex).toBe(2);
    expect(proposed.applied).toBeLessThan(2);
    net.deliverAll();
    expect(net.node('a').raw.status()).toMatchObject({ pendingConfIndex: 2, applied: 2, config: { learners: ['d'] } });
    expect(net.node('b').raw.status().pendingConfIndex).toBeUndefined();
  });

  it('ready() reports softState only when it changed, and advance rejects a foreign Ready', () => {
    const net = new Network(['a']);
    const a = net.node('a').raw;
    a.campaign();
    const rd = a.ready();
    expect(rd.softState).toEqual({ leader: '', role: 'candidate' });
    net.node('a').storage.setHardState(rd.hardState!);
    a.advance(rd);
    expect(() => a.advance(rd)).toThrow(/advance/);
    const rd2 = a.ready();
    expect(rd2.softState).toEqual({ leader: 'a', role: 'leader' });
    net.node('a').storage.append(rd2.entries);
    a.advance(rd2);
    const rd3 = a.ready();
    expect(rd3.softState).toBeUndefined();
    a.advance(rd3);
    expect(a.hasReady()).toBe(false);
  });
});
