import { describe, expect, it } from 'vitest';
import { ProposalDroppedError } from '../../../node/src/raft/index.js';
import { enc, Network } from './network.js';

describe('proposals', () => {
  it('throws ProposalDroppedError with no leader', () => {
    const net = new Network(['a', 'b', 'c']);
    expect(() => net.node('a').raw.propose(enc('x'))).toThrow(ProposalDroppedError);
    net.isolate('a');
    net.campaign('a');
    expect(() => net.node('a').raw.propose(enc('x'))).toThrow(/no leader/);
  });

  it('a follower forwards proposals, unless forwarding is disabled', () => {
    const net = new Network(['a', 'b', 'c']);
    net.campaign('a');
    net.propose('c', 'via-c');
    expect(net.appliedData('a')).toEqual(['via-c']);
    const off = new Network(['a', 'b', 'c'], { disableProposalForwarding: true });
    off.campaign('a');
    expect(() => off.node('c').raw.propose(enc('x'))).toThrow(/forwarding is disabled/);
  });

  it('proposeBatch appends all entries in order in one go', () => {
    const net = new Network(['a', 'b', 'c']);
    net.campaign('a');
    net.node('a').raw.proposeBatch([enc('1'), enc('2'), enc('3')]);
    net.deliverAll();
    expect(net.appliedData('b')).toEqual(['1', '2', '3']);
  });

  it('caps uncommitted bytes while quorum is lost; an empty entry always passes; the cap frees as entries commit', () => {
    const net = new Network(['a', 'b', 'c'], { maxUncommittedEntriesSize: 250 });
    net.campaign('a');
    const a = net.node('a').raw;
    net.isolate('a');
    a.propose(new Uint8Array(100));
    a.propose(new Uint8Array(100));
    expect(() => a.propose(new Uint8Array(100))).toThrow(/uncommitted/);
    expect(() => a.propose(new Uint8Array(0))).not.toThrow();
    net.heal();
    net.tickAll(2);
    expect(a.status().commit).toBe(4);
    expect(() => a.propose(new Uint8Array(100))).not.toThrow();
  });

  it('a single oversized proposal is accepted when nothing is uncommitted', () => {
    const net = new Network(['a', 'b', 'c'], { maxUncommittedEntriesSize: 10 });
    net.campaign('a');
    expect(() => net.node('a').raw.propose(new Uint8Array(100))).not.toThrow();
  });
});
