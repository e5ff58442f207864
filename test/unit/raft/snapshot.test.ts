import { describe, expect, it } from 'vitest';
import { MemoryStorage, RawNode, type Message, type Snapshot } from '../../../node/src/raft/index.js';
import { enc, fixedRandom, Network, storageWithLog, type TestNode } from './network.js';

function compact(n: TestNode): number {
  const applied = n.raw.status().applied;
  n.storage.createSnapshot(applied, n.confState, enc(`state@${applied}`));
  n.storage.compact(applied);
  return applied;
}

function snapMsg(from: string, to: string, term: number, snapshot: Snapshot): Message {
  return { type: 'snap', from, to, term, logTerm: snapshot.metadata.term, index: snapshot.metadata.index, entries: [], commit: 0, reject: false, rejectHint: 0, snapshot };
}

describe('snapshots and compaction', () => {
  it('sends a snapshot to a follower whose needed entries were compacted, then resumes appends', () => {
    const net = new Network(['a', 'b', 'c']);
    net.campaign('a');
    net.isolate('c');
    for (let i = 0; i < 10; i++) net.propose('a', `p${i}`);
    const snapIndex = compact(net.node('a'));
    expect(snapIndex).toBe(11);
    net.heal();
    net.tickAll(3);
    const c = net.node('c');
    const snaps = net.sent.filter((m) => m.type === 'snap' && m.to === 'c');
    expect(snaps).toHaveLength(1);
    expect(c.storage.snapshot().metadata).toMatchObject({ index: 11, confState: { voters: ['a', 'b', 'c'], learners: [] } });
    expect(c.raw.status()).toMatchObject({ commit: 11, applied: 11 });
    net.propose('a', 'after');
    expect(net.appliedData('c')).toEqual(['after']);
    expect(net.node('a').raw.status().progress!.get('c')).toMatchObject({ state: 'replicate', match: 12 });
  });

  it('keeps the follower in snapshot state until it answers or the app reports the outcome', () => {
    const net = new Network(['a', 'b', 'c']);
    net.campaign('a');
    net.isolate('c');
    for (let i = 0; i < 5; i++) net.propose('a', `p${i}`);
    compact(net.node('a'));
    net.heal();
    net.filter = (m) => m.type !== 'snap';
    net.tickAll(2);
    const a = net.node('a').raw;
    expect(a.status().progress!.get('c')!.state).toBe('snapshot');
    const apps = net.sent.filter((m) => m.type === 'app' && m.to === 'c').length;
    net.propose('a', 'x');
    expect(net.sent.filter((m) => m.type === 'app' && m.to === 'c').length).toBe(apps); // paused
    a.reportSnapshot('c', false);
    expect(a.status().progress!.get('c')!.state).toBe('probe');
    net.filter = () => true;
    net.tickAll(3);
    expect(net.appliedData('c')).toEqual(['x']);
  });

  it('reportSnapshot(ok) moves on to probing after the snapshot', () => {
    const net = new Network(['a', 'b', 'c']);
    net.campaign('a');
    net.isolate('c');
    for (let i = 0; i < 5; i++) net.propose('a', `p${i}`);
    const idx = compact(net.node('a'));
    net.heal();
    net.filter = (m) => !(m.type === 'appResp' && m.from === 'c' && !m.reject); // the snapshot's ack is lost
    net.tickAll(2);
    const a = net.node('a').raw;
    expect(a.status().progress!.get('c')!.state).toBe('snapshot');
    a.reportSnapshot('c', true);
    expect(a.status().progress!.get('c')).toMatchObject({ state: 'probe', next: idx + 1 });
  });

  it('sends a newer snapshot when the log was compacted past the one the follower just installed', () => {
    const net = new Network(['a', 'b', 'c']);
    net.campaign('a');
    net.isolate('c');
    for (let i = 0; i < 5; i++) net.propose('a', `p${i}`);
    const first = compact(net.node('a'));
    net.heal();
    const held: Message[] = [];
    net.filter = (m) => {
      if (m.type === 'appResp' && m.from === 'c' && !m.reject && m.index === first) {
        held.push(m); // the ack of the first snapshot is delayed…
        return false;
      }
      return true;
    };
    net.tickAll(2);
    expect(held).toHaveLength(1);
    for (let i = 0; i < 5; i++) net.propose('a', `q${i}`);
    const second = compact(net.node('a')); // …while the leader compacts past it
    net.filter = () => true;
    net.send(held);
    net.deliverAll();
    const snaps = net.sent.filter((m) => m.type === 'snap' && m.to === 'c').map((m) => m.snapshot!.metadata.index);
    expect(snaps).toEqual([first, second]);
    net.propose('a', 'z');
    expect(net.appliedData('c')).toEqual(['z']);
  });

  it('a follower ignores a snapshot that is not ahead of its commit', () => {
    // b has committed 4 entries and compacted its own log up to 3, so it cannot even check index 2.
    const s = storageWithLog(['a', 'b', 'c'], [1, 1, 1, 1], { term: 1, commit: 4 });
    s.createSnapshot(3, { voters: ['a', 'b', 'c'], learners: [] }, enc('mine'));
    s.compact(3);
    const raw = new RawNode({ id: 'b', storage: s, electionTick: 10, heartbeatTick: 1, randomInt: fixedRandom(0) });
    raw.step(snapMsg('a', 'b', 1, { metadata: { index: 2, term: 1, confState: { voters: ['a', 'b', 'c'], learners: [] } }, data: enc('old') }));
    const rd = raw.ready();
    expect(rd.snapshot).toBeUndefined();
    expect(rd.messagesAfterPersist[0]).toMatchObject({ type: 'appResp', index: 4, reject: false });
    expect(raw.status()).toMatchObject({ commit: 4, lastIndex: 4 });
  });

  it('fast-forwards the commit instead of restoring when it already has the snapshot entry', () => {
    const s = storageWithLog(['a', 'b', 'c'], [1, 1, 1, 1], { term: 1, commit: 1 });
    const raw = new RawNode({ id: 'b', storage: s, electionTick: 10, heartbeatTick: 1, randomInt: fixedRandom(0) });
    raw.step(snapMsg('a', 'b', 1, { metadata: { index: 3, term: 1, confState: { voters: ['a', 'b', 'c'], learners: [] } }, data: enc('s') }));
    const rd = raw.ready();
    expect(rd.snapshot).toBeUndefined();
    expect(rd.hardState?.commit).toBe(3);
    expect(raw.status().lastIndex).toBe(4);
  });

  it('installs a snapshot: it appears in Ready.snapshot, the confState comes from it, applied jumps to it', () => {
    const storage = new MemoryStorage(); // a joining node: no configuration at all
    const raw = new RawNode({ id: 'd', storage, electionTick: 10, heartbeatTick: 1, randomInt: fixedRandom(0) });
    const snap: Snapshot = { metadata: { index: 20, term: 3, confState: { voters: ['a', 'b', 'c'], learners: ['d'] } }, data: enc('sm') };
    raw.step(snapMsg('a', 'd', 3, snap));
    const rd = raw.ready();
    expect(rd.snapshot).toEqual(snap);
    expect(rd.mustSync).toBe(true);
    expect(rd.committedEntries).toEqual([]);
    expect(rd.messagesAfterPersist[0]).toMatchObject({ type: 'appResp', index: 20 });
    storage.applySnapshot(rd.snapshot!);
    if (rd.hardState) storage.setHardState(rd.hardState);
    raw.advance(rd);
    expect(raw.status()).toMatchObject({ commit: 20, applied: 20, lastIndex: 20, leader: 'a', config: { voters: ['a', 'b', 'c'], learners: ['d'] } });
    // Appends continue right after the snapshot.
    raw.step({ type: 'app', from: 'a', to: 'd', term: 3, index: 20, logTerm: 3, commit: 21, reject: false, rejectHint: 0, entries: [{ index: 21, term: 3, type: 'normal', data: enc('x') }] });
    const rd2 = raw.ready();
    expect(rd2.messagesAfterPersist[0]).toMatchObject({ type: 'appResp', index: 21, reject: false });
  });

  it('a restarted node resumes from its compacted storage', () => {
    const net = new Network(['a']);
    net.campaign('a');
    for (let i = 0; i < 3; i++) net.propose('a', `p${i}`);
    compact(net.node('a'));
    net.propose('a', 'q');
    const a = net.restart('a', { applied: 4 });
    expect(a.raw.status()).toMatchObject({ commit: 5, applied: 4, lastIndex: 5, config: { voters: ['a'], learners: [] } });
    net.tick('a', 20);
    expect(a.raw.status().role).toBe('leader');
    expect(net.appliedData('a')).toEqual(['q']);
  });
});
