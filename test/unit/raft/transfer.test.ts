import { describe, expect, it } from 'vitest';
import { ProposalDroppedError } from '../../../node/src/raft/index.js';
import { enc, Network } from './network.js';

function cluster(): Network {
  const net = new Network(['a', 'b', 'c']);
  net.campaign('a');
  net.propose('a', 'x');
  return net;
}

describe('leadership transfer', () => {
  it('hands leadership to a caught-up voter with timeoutNow, bypassing PreVote and the lease', () => {
    const net = cluster();
    const since = net.sent.length;
    net.node('a').raw.transferLeadership('b');
    net.deliverAll();
    expect(net.leaderIds()).toEqual(['b']);
    expect(net.node('b').raw.status().term).toBe(2);
    const sent = net.sent.slice(since);
    expect(sent.filter((m) => m.type === 'timeoutNow')).toHaveLength(1);
    expect(sent.filter((m) => m.type === 'preVote')).toHaveLength(0);
    const votes = sent.filter((m) => m.type === 'vote' && m.from === 'b');
    expect(votes).toHaveLength(2);
    expect(votes.every((m) => m.context !== undefined)).toBe(true);
  });

  it('brings a lagging transferee up to date first, and drops proposals meanwhile', () => {
    const net = cluster();
    net.filter = (m) => !(m.to === 'c' && m.type === 'app');
    for (let i = 0; i < 3; i++) net.propose('a', `p${i}`);
    const a = net.node('a').raw;
    expect(a.status().progress!.get('c')!.match).toBeLessThan(a.status().lastIndex);
    net.manual.add('a');
    a.transferLeadership('c');
    expect(a.status().leadTransferee).toBe('c');
    expect(() => a.propose(enc('during'))).toThrow(ProposalDroppedError);
    expect(net.sent.filter((m) => m.type === 'timeoutNow')).toHaveLength(0);
    net.manual.clear();
    net.filter = () => true;
    net.deliverAll();
    net.tickAll(2);
    expect(net.leaderIds()).toEqual(['c']);
    expect(net.appliedData('c')).toEqual(['x', 'p0', 'p1', 'p2']);
  });

  it('aborts after an election timeout if the transferee does not take over', () => {
    const net = cluster();
    net.isolate('c');
    const a = net.node('a').raw;
    net.propose('a', 'y');
    a.transferLeadership('c');
    expect(a.status().leadTransferee).toBe('c');
    net.tick('a', 9);
    expect(a.status().leadTransferee).toBe('c');
    net.tickAll(1);
    expect(a.status()).toMatchObject({ role: 'leader', leadTransferee: '' });
    expect(() => a.propose(enc('after'))).not.toThrow();
  });

  it('refuses a transfer to a learner or an unknown node (no-op)', () => {
    const net = new Network(['a', 'b', 'c'], {}, ['d']);
    net.campaign('a');
    const a = net.node('a').raw;
    a.transferLeadership('d');
    expect(a.status().leadTransferee).toBe('');
    a.transferLeadership('zz');
    expect(a.status().leadTransferee).toBe('');
    net.deliverAll();
    expect(net.leaderIds()).toEqual(['a']);
  });

  it('a follower forwards a transfer request to the leader', () => {
    const net = cluster();
    net.node('c').raw.transferLeadership('c');
    net.deliverAll();
    expect(net.leaderIds()).toEqual(['c']);
    expect(net.sent.some((m) => m.type === 'transferLeader' && m.to === 'a' && m.from === 'c')).toBe(true);
  });
});
