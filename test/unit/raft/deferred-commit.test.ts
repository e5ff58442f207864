import { describe, expect, it } from 'vitest';
import { decodeConfChange, type Message } from '../../../node/src/raft/index.js';
import { Network } from './network.js';

const commitOnlyApps = (msgs: Message[]): Message[] => msgs.filter((m) => m.type === 'app' && m.entries.length === 0);

describe('deferCommitBroadcast: the commit index waits for the next message to a follower', () => {
  it('a commit sends no commit-only append; commitNoticeDue() says one is owed and broadcastCommit() sends it', () => {
    const net = new Network(['a', 'b', 'c'], { deferCommitBroadcast: true });
    net.campaign('a');
    net.node('a').raw.broadcastCommit(); // the election's empty entry
    net.deliverAll();
    const a = net.node('a');
    const since = net.sent.length;
    net.propose('a', 'x');
    expect(commitOnlyApps(net.sent.slice(since))).toEqual([]);
    const commit = a.raw.status().commit;
    for (const id of ['b', 'c']) expect(net.node(id).raw.status().commit).toBeLessThan(commit);
    expect(a.raw.commitNoticeDue()).toBe(true);

    const before = net.sent.length;
    a.raw.broadcastCommit();
    net.deliverAll();
    const notices = commitOnlyApps(net.sent.slice(before));
    expect(notices.map((m) => m.to).sort()).toEqual(['b', 'c']);
    expect(notices.every((m) => m.noAck === true)).toBe(true);
    for (const id of ['b', 'c']) {
      expect(net.node(id).raw.status().commit).toBe(commit);
      expect(net.appliedData(id)).toContain('x');
    }
    expect(a.raw.commitNoticeDue()).toBe(false);
  });

  it('the next append carries the commit: nothing is owed for it afterwards', () => {
    const net = new Network(['a', 'b', 'c'], { deferCommitBroadcast: true });
    net.campaign('a');
    net.propose('a', 'x');
    const a = net.node('a');
    expect(a.raw.commitNoticeDue()).toBe(true);
    const xCommit = a.raw.status().commit;
    // y is appended but not committed (its acknowledgements are lost): its append carried x's commit.
    net.filter = (m) => m.type !== 'appResp';
    net.propose('a', 'y');
    expect(a.raw.status().commit).toBe(xCommit);
    for (const id of ['b', 'c']) expect(net.node(id).raw.status().commit).toBe(xCommit);
    expect(a.raw.commitNoticeDue()).toBe(false);
  });

  it('a heartbeat carries the commit too', () => {
    const net = new Network(['a', 'b', 'c'], { deferCommitBroadcast: true });
    net.campaign('a');
    net.propose('a', 'x');
    const a = net.node('a');
    expect(a.raw.commitNoticeDue()).toBe(true);
    net.tick('a'); // heartbeatTick 1
    expect(a.raw.commitNoticeDue()).toBe(false);
    for (const id of ['b', 'c']) expect(net.appliedData(id)).toContain('x');
  });

  it('a follower that forwarded the committed entries is told at once (its writers wait for it); the other is not', () => {
    const net = new Network(['a', 'b', 'c'], { deferCommitBroadcast: true });
    net.campaign('a');
    net.node('a').raw.broadcastCommit();
    net.deliverAll();
    const since = net.sent.length;
    net.propose('b', 'from-b'); // forwarded to the leader
    const notices = commitOnlyApps(net.sent.slice(since));
    expect(notices.map((m) => m.to)).toEqual(['b']);
    expect(net.appliedData('b')).toContain('from-b');
    expect(net.appliedData('c')).not.toContain('from-b');
    expect(net.node('a').raw.commitNoticeDue()).toBe(true);
  });

  it('a committed conf change goes out to every follower at once, also to the member it removes', () => {
    const net = new Network(['a', 'b', 'c'], { deferCommitBroadcast: true });
    net.campaign('a');
    net.node('a').raw.broadcastCommit();
    net.deliverAll();
    const a = net.node('a');
    const since = net.sent.length;
    a.raw.proposeConfChange({ type: 'remove', nodeId: 'c', context: new Uint8Array() });
    net.deliverAll();
    expect(commitOnlyApps(net.sent.slice(since)).map((m) => m.to).sort()).toEqual(['b', 'c']);
    // c applied its own removal from its log: the leader no longer sends it anything.
    expect(net.node('c').applied.some((e) => e.type === 'confChange' && decodeConfChange(e.data).nodeId === 'c')).toBe(true);
    expect(a.raw.status().config.voters).toEqual(['a', 'b']);
    // The next plain write is deferred again.
    const before = net.sent.length;
    net.propose('a', 'x');
    expect(commitOnlyApps(net.sent.slice(before))).toEqual([]);
  });

  it('nothing is owed to a follower being probed: the next probe carries the commit', () => {
    const net = new Network(['a', 'b', 'c'], { deferCommitBroadcast: true });
    net.campaign('a');
    net.propose('a', 'x');
    const a = net.node('a');
    expect(a.raw.commitNoticeDue()).toBe(true);
    a.raw.reportUnreachable('b');
    a.raw.reportUnreachable('c');
    expect(a.raw.status().progress!.get('b')).toMatchObject({ state: 'probe' });
    expect(a.raw.commitNoticeDue()).toBe(false);
    net.tick('a'); // the heartbeat's answer makes the leader probe, and the probe carries the commit
    for (const id of ['b', 'c']) expect(net.appliedData(id)).toContain('x');
  });

  it('without the option, every commit goes out at once and nothing is ever owed', () => {
    const net = new Network(['a', 'b', 'c']);
    net.campaign('a');
    const since = net.sent.length;
    net.propose('a', 'x');
    expect(commitOnlyApps(net.sent.slice(since)).map((m) => m.to).sort()).toEqual(['b', 'c']);
    expect(net.node('a').raw.commitNoticeDue()).toBe(false);
    for (const id of ['b', 'c']) expect(net.appliedData(id)).toContain('x');
  });

  it('a follower that forwarded entries is told as soon as it acknowledges them, also after they committed through another', () => {
    const net = new Network(['a', 'b', 'c'], { deferCommitBroadcast: true });
    net.campaign('a');
    net.node('a').raw.broadcastCommit();
    net.deliverAll();
    const held: Message[] = [];
    net.filter = (m) => {
      if (m.type !== 'appResp' || m.from !== 'b') return true;
      held.push(m);
      return false;
    };
    net.propose('b', 'from-b'); // committed through c's acknowledgement; b's is held back
    expect(net.appliedData('a')).toContain('from-b');
    expect(net.appliedData('b')).not.toContain('from-b');
    net.filter = () => true;
    const since = net.sent.length;
    for (const m of held) net.node('a').raw.step(m);
    net.deliverAll();
    expect(commitOnlyApps(net.sent.slice(since)).map((m) => m.to)).toEqual(['b']);
    expect(net.appliedData('b')).toContain('from-b');
  });

  it('nothing is owed by a follower, nor to a follower not yet holding entries beyond the commit it was sent', () => {
    const net = new Network(['a', 'b', 'c'], { deferCommitBroadcast: true, maxInflightMsgs: 1 });
    net.campaign('a');
    net.propose('a', 'x');
    expect(net.node('b').raw.commitNoticeDue()).toBe(false);
    // c stops answering: y's append to c carried x's commit, and c has acknowledged nothing since.
    net.filter = (m) => !(m.type === 'appResp' && m.from === 'c');
    net.propose('a', 'y');
    const a = net.node('a');
    expect(a.raw.status().progress!.get('c')).toMatchObject({ state: 'replicate', inflight: 1 });
    const before = net.sent.length;
    a.raw.broadcastCommit();
    net.deliverAll();
    expect(commitOnlyApps(net.sent.slice(before)).map((m) => m.to)).toEqual(['b']);
  });
});
