import { describe, expect, it } from 'vitest';
import { newMessage } from '../../../node/src/raft/messages.js';
import { dec, enc, Network, networkFrom, storageWithLog } from './network.js';

describe('ReadIndex', () => {
  it('the leader answers after a quorum of heartbeat acks echo the context', () => {
    const net = new Network(['a', 'b', 'c']);
    net.campaign('a');
    net.propose('a', 'x');
    net.manual.add('a');
    const a = net.node('a');
    a.raw.readIndex(enc('r1'));
    let rd = a.raw.ready();
    expect(rd.readStates).toEqual([]);
    const hbs = rd.messages.filter((m) => m.type === 'heartbeat');
    expect(hbs).toHaveLength(1); // one follower + self = quorum of 3
    expect(dec(hbs[0]!.context!)).toBe('r1');
    a.raw.advance(rd);
    net.send(hbs);
    net.deliverAll();
    rd = a.raw.ready();
    expect(rd.readStates).toEqual([{ index: 2, context: enc('r1') }]);
    a.raw.advance(rd);
  });

  it('does not answer without a quorum of acks', () => {
    const net = new Network(['a', 'b', 'c']);
    net.campaign('a');
    net.isolate('a');
    net.node('a').raw.readIndex(enc('r'));
    net.deliverAll();
    net.tick('a', 5);
    expect(net.node('a').readStates).toEqual([]);
  });

  it('waits for a quorum of voters: one ack in five is not enough', () => {
    const net = new Network(['a', 'b', 'c', 'd', 'e']);
    net.campaign('a');
    for (const id of ['c', 'd', 'e']) net.cutLink('a', id);
    net.node('a').raw.readIndex(enc('r'));
    net.deliverAll();
    expect(net.sent.filter((m) => m.type === 'heartbeatResp' && m.context !== undefined && m.from === 'b')).toHaveLength(1);
    expect(net.node('a').readStates).toEqual([]);
    net.heal();
    net.tick('a', 1); // the pending context is re-sent with the next heartbeats
    expect(net.node('a').readStates).toEqual([{ index: 1, context: enc('r') }]);
  });

  describe('the read heartbeat goes to just enough voters for a quorum', () => {
    /** Heartbeats carrying `ctx` sent since `from` (an index into net.sent), as "a>b". */
    const readHeartbeats = (net: Network, ctx: string, from = 0): string[] =>
      net.sent.slice(from).filter((m) => m.type === 'heartbeat' && m.context && dec(m.context) === ctx).map((m) => `${m.from}>${m.to}`);

    it('asks whoever acknowledged a read most recently; if it does not answer, the next heartbeat asks everyone', () => {
      const net = new Network(['a', 'b', 'c']);
      net.campaign('a');
      net.node('a').raw.readIndex(enc('r1'));
      net.deliverAll();
      expect(readHeartbeats(net, 'r1')).toEqual(['a>b']);
      expect(net.node('a').readStates).toEqual([{ index: 1, context: enc('r1') }]);

      net.cutLink('a', 'b');
      net.node('a').raw.readIndex(enc('r2'));
      net.deliverAll();
      expect(readHeartbeats(net, 'r2')).toEqual(['a>b']);
      expect(net.node('a').readStates).toHaveLength(1); // b never got it: no quorum yet
      net.tick('a', 1);
      expect(readHeartbeats(net, 'r2')).toEqual(['a>b', 'a>b', 'a>c']);
      expect(net.node('a').readStates[1]).toEqual({ index: 1, context: enc('r2') });

      const before = net.sent.length;
      net.node('a').raw.readIndex(enc('r3'));
      net.deliverAll();
      expect(readHeartbeats(net, 'r3', before)).toEqual(['a>c']); // c answered last
      expect(net.node('a').readStates[2]).toEqual({ index: 1, context: enc('r3') });
    });

    it('with 5 voters it asks two followers, and one ack of them is not enough', () => {
      const net = new Network(['a', 'b', 'c', 'd', 'e']);
      net.campaign('a');
      net.cutLink('a', 'c');
      net.node('a').raw.readIndex(enc('r'));
      net.deliverAll();
      expect(readHeartbeats(net, 'r')).toEqual(['a>b', 'a>c']);
      expect(net.sent.filter((m) => m.type === 'heartbeatResp' && m.context !== undefined).map((m) => m.from)).toEqual(['b']);
      expect(net.node('a').readStates).toEqual([]);
      net.tick('a', 1);
      expect(net.node('a').readStates).toEqual([{ index: 1, context: enc('r') }]);
    });

    it('never asks a learner in place of a voter, even one that acknowledged a read last', () => {
      const net = new Network(['a', 'b', 'c'], {}, ['d']);
      net.campaign('a');
      net.cutLink('a', 'b');
      net.cutLink('a', 'c');
      net.node('a').raw.readIndex(enc('r1'));
      net.tick('a', 1); // only the learner acks the pending context
      expect(net.sent.filter((m) => m.type === 'heartbeatResp' && m.context !== undefined).map((m) => m.from)).toEqual(['d']);
      expect(net.node('a').readStates).toEqual([]);
      net.heal();
      net.tick('a', 1);
      expect(net.node('a').readStates).toEqual([{ index: 1, context: enc('r1') }]);
      const before = net.sent.length;
      net.node('a').raw.readIndex(enc('r2'));
      net.deliverAll();
      expect(readHeartbeats(net, 'r2', before)).toHaveLength(1);
      expect(readHeartbeats(net, 'r2', before)[0]).not.toBe('a>d');
      expect(net.node('a').readStates[1]).toEqual({ index: 1, context: enc('r2') });
    });
  });

  it('a single-voter cluster answers at once', () => {
    const net = new Network(['a']);
    net.campaign('a');
    net.node('a').raw.readIndex(enc('r'));
    net.deliverAll();
    expect(net.node('a').readStates).toEqual([{ index: 1, context: enc('r') }]);
  });

  it('a new leader delays reads until it has committed an entry of its own term', () => {
    const net = networkFrom({
      a: storageWithLog(['a', 'b', 'c'], [1, 1], { term: 1, commit: 1 }),
      b: storageWithLog(['a', 'b', 'c'], [1, 1], { term: 1, commit: 1 }),
      c: storageWithLog(['a', 'b', 'c'], [1, 1], { term: 1, commit: 1 }),
    });
    net.filter = (m) => m.type !== 'appResp'; // nothing of term 2 commits
    net.campaign('a');
    const a = net.node('a');
    expect(a.raw.status()).toMatchObject({ role: 'leader', term: 2, commit: 1 });
    a.raw.readIndex(enc('r'));
    net.tickAll(2); // heartbeats are acked, but the read must wait
    expect(a.readStates).toEqual([]);
    net.filter = () => true;
    net.tickAll(2);
    expect(a.raw.status().commit).toBe(3);
    expect(a.readStates).toEqual([{ index: 3, context: enc('r') }]);
  });

  it('a follower forwards the request and turns the answer into a ReadState', () => {
    const net = new Network(['a', 'b', 'c']);
    net.campaign('a');
    net.propose('a', 'x');
    net.node('b').raw.readIndex(enc('fr'));
    net.deliverAll();
    expect(net.node('b').readStates).toEqual([{ index: 2, context: enc('fr') }]);
    expect(net.node('a').readStates).toEqual([]);
    expect(net.sent.some((m) => m.type === 'readIndex' && m.to === 'a' && m.from === 'b')).toBe(true);
  });

  describe('a voter that forwards a request acknowledges the leadership itself', () => {
    const withoutHeartbeats = (net: Network): void => {
      net.filter = (m) => m.type !== 'heartbeat' && m.type !== 'heartbeatResp';
    };
    /** `requester`'s read stays unanswered until heartbeats flow again, then gets the commit index. */
    const expectHeldForHeartbeatRound = (net: Network, requester: string, ctx: string): void => {
      withoutHeartbeats(net);
      net.node(requester).raw.readIndex(enc(ctx));
      net.deliverAll();
      expect(net.node(requester).readStates).toEqual([]);
      net.filter = () => true;
      net.tick('a', 1);
      expect(net.node(requester).readStates).toEqual([{ index: 1, context: enc(ctx) }]);
    };

    it('with 3 voters the leader answers a forwarded request at once, with no heartbeat round', () => {
      const net = new Network(['a', 'b', 'c']);
      net.campaign('a');
      net.propose('a', 'x');
      withoutHeartbeats(net);
      const before = net.sent.length;
      net.node('b').raw.readIndex(enc('fr'));
      net.deliverAll();
      expect(net.node('b').readStates).toEqual([{ index: 2, context: enc('fr') }]);
      expect(net.sent.slice(before).map((m) => `${m.type} ${m.from}>${m.to}`)).toEqual(['readIndex b>a', 'readIndexResp a>b']);
    });

    it('with 5 voters the requester and the leader are no quorum: a heartbeat round is still needed', () => {
      const net = new Network(['a', 'b', 'c', 'd', 'e']);
      net.campaign('a');
      expectHeldForHeartbeatRound(net, 'b', 'fr');
    });

    it('a learner does not count: its request waits for a heartbeat round', () => {
      const net = new Network(['a', 'b', 'c'], {}, ['d']);
      net.campaign('a');
      expectHeldForHeartbeatRound(net, 'd', 'lr');
    });

    it('vouches for its own request only: a read queued before it still waits for its acks', () => {
      const net = new Network(['a', 'b', 'c']);
      net.campaign('a');
      withoutHeartbeats(net);
      net.node('a').raw.readIndex(enc('local'));
      net.node('b').raw.readIndex(enc('fr'));
      net.deliverAll();
      expect(net.node('b').readStates).toEqual([{ index: 1, context: enc('fr') }]);
      expect(net.node('a').readStates).toEqual([]);
      net.filter = () => true;
      net.tick('a', 1);
      expect(net.node('a').readStates).toEqual([{ index: 1, context: enc('local') }]);
    });

    it('the requester drops an answer from an older term: a deposed leader cannot serve it a stale index', () => {
      const net = new Network(['a', 'b', 'c'], { preVote: false, checkQuorum: false });
      net.campaign('a');
      net.isolate('a');
      net.campaign('b'); // term 2 with c's vote
      net.propose('b', 'newer');
      expect(net.node('c').raw.status()).toMatchObject({ term: 2, commit: 3 });
      // c's request reaches a, which still believes it leads term 1, and is answered at once...
      const forwarded = { ...newMessage('readIndex', 'a', { entries: [{ term: 0, index: 0, type: 'normal', data: enc('stale') }] }), from: 'c' };
      net.node('a').raw.step(forwarded);
      net.heal();
      net.deliverAll();
      const answer = net.sent.find((m) => m.type === 'readIndexResp' && m.to === 'c');
      expect(answer).toMatchObject({ from: 'a', term: 1, index: 1 });
      // ...but c is at term 2 and ignores it.
      expect(net.node('c').readStates).toEqual([]);
    });
  });

  it('drops the request when there is no leader', () => {
    const net = new Network(['a', 'b', 'c']);
    net.node('b').raw.readIndex(enc('r'));
    net.deliverAll();
    expect(net.node('b').readStates).toEqual([]);
    expect(net.sent).toEqual([]);
  });
});
