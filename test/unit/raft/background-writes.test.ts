// acceptReady / persisted: a Ready's state written in the background while the loop goes on.
import { describe, expect, it } from 'vitest';
import { RawNode, type MemoryStorage, type Message, type Ready } from '../../../node/src/raft/index.js';
import { enc, fixedRandom, newStorage, storageWithLog } from './network.js';

/** Writes an accepted Ready to the node's storage, as the log store would when its write completes. */
function write(storage: MemoryStorage, rd: Ready): void {
  storage.append(rd.entries);
  if (rd.hardState) storage.setHardState(rd.hardState);
}

function node(id: string, storage: MemoryStorage, extra: { preVote?: boolean } = {}): RawNode {
  return new RawNode({ id, storage, electionTick: 10, heartbeatTick: 1, randomInt: fixedRandom(0), ...extra });
}

/** A candidate of a 3-voter cluster whose vote is being written (accepted, not persisted). */
function candidateWritingItsVote(): { raw: RawNode; storage: MemoryStorage; voteWrite: Ready; term: number } {
  const storage = newStorage(['a', 'b', 'c']);
  const raw = node('a', storage, { preVote: false });
  raw.campaign();
  const voteWrite = raw.ready();
  expect(voteWrite.hardState).toMatchObject({ vote: 'a' });
  raw.acceptReady(voteWrite);
  return { raw, storage, voteWrite, term: raw.status().term };
}

/** b's grant of a's vote request in `term`. */
function grantFromB(term: number): Message {
  return { type: 'voteResp', from: 'b', to: 'a', term, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0 };
}

function soleLeader(): { raw: RawNode; storage: MemoryStorage } {
  const storage = newStorage(['a']);
  const raw = node('a', storage);
  raw.campaign();
  for (let i = 0; i < 5 && raw.hasReady(); i++) {
    const rd = raw.ready();
    write(storage, rd);
    raw.advance(rd);
  }
  expect(raw.status().role).toBe('leader');
  return { raw, storage };
}

function app(term: number, index: number, logTerm: number, entries: [number, number][], commit: number): Message {
  return {
    type: 'app', from: 'x', to: 'b', term, index, logTerm, commit, reject: false, rejectHint: 0,
    entries: entries.map(([i, t]) => ({ index: i, term: t, type: 'normal', data: enc(`e${i}t${t}`) })),
  };
}

describe('background writes (acceptReady, then persisted)', () => {
  it('a leader counts its own entries toward commit only once their write completed', () => {
    const { raw, storage } = soleLeader();
    const before = raw.status().commit;
    raw.propose(enc('p'));
    const rd = raw.ready();
    expect(rd.entries).toHaveLength(1);
    expect(rd.mustSync).toBe(true);
    raw.acceptReady(rd);
    expect(raw.status().commit).toBe(before); // its only vote is not durable yet
    expect(raw.hasReady()).toBe(false);
    write(storage, rd);
    raw.persisted(rd);
    expect(raw.status().commit).toBe(before + 1);
    const next = raw.ready();
    expect(next.committedEntries.map((e) => e.index)).toEqual([before + 1]);
    expect(next.entries).toHaveLength(0);
    raw.advance(next);
  });

  it('entries being written are handed out once; the next Ready holds only newer ones', () => {
    const { raw, storage } = soleLeader();
    raw.propose(enc('one'));
    const first = raw.ready();
    raw.acceptReady(first);
    raw.propose(enc('two'));
    const second = raw.ready();
    expect(second.entries.map((e) => e.index)).toEqual([first.entries[0]!.index + 1]);
    expect(second.committedEntries).toHaveLength(0); // nothing is durable yet
    raw.acceptReady(second);
    write(storage, first);
    raw.persisted(first);
    write(storage, second);
    raw.persisted(second);
    const third = raw.ready();
    expect(third.committedEntries.map((e) => e.index)).toEqual([first.entries[0]!.index, second.entries[0]!.index]);
  });

  it('committed entries are handed out only once durable here, even when a quorum of others has them', () => {
    const storage = newStorage(['a', 'b', 'c']);
    const raw = node('b', storage);
    // A follower gets entries 1..2 with commit 2 from the leader: committed, but being written here.
    raw.step({ ...app(1, 0, 0, [[1, 1], [2, 1]], 2), to: 'b' });
    const rd = raw.ready();
    expect(rd.entries).toHaveLength(2);
    expect(rd.committedEntries).toHaveLength(0);
    raw.acceptReady(rd);
    expect(raw.hasReady()).toBe(false);
    write(storage, rd);
    raw.persisted(rd);
    expect(raw.ready().committedEntries.map((e) => e.index)).toEqual([1, 2]);
  });

  it('entries replaced while being written are handed out again, and the old write does not make the new ones stable', () => {
    const storage = storageWithLog(['a', 'b', 'c'], [1], { term: 1, commit: 1 });
    const raw = node('b', storage);
    raw.step(app(1, 1, 1, [[2, 1], [3, 1]], 1));
    const old = raw.ready();
    expect(old.entries.map((e) => [e.index, e.term])).toEqual([[2, 1], [3, 1]]);
    raw.acceptReady(old);
    // A new leader (term 2) replaces index 3 while the write of 2..3 is in flight.
    raw.step(app(2, 2, 1, [[3, 2]], 1));
    const replacing = raw.ready();
    expect(replacing.entries.map((e) => [e.index, e.term])).toEqual([[3, 2]]);
    raw.acceptReady(replacing);
    write(storage, old);
    raw.persisted(old);
    // The leader commits 3. Entry 3 of term 2 is not durable here, whatever the old write held (and
    // entry 2 counts as durable only with the write that covers the current entry 3).
    raw.step(app(2, 3, 2, [], 3));
    const early = raw.ready();
    expect(early.committedEntries).toEqual([]);
    raw.acceptReady(early); // it writes the new commit index, behind the write in flight
    write(storage, replacing);
    raw.persisted(replacing);
    write(storage, early);
    raw.persisted(early);
    expect(storage.term(3)).toBe(2);
    expect(raw.ready().committedEntries.map((e) => [e.index, e.term])).toEqual([[2, 1], [3, 2]]);
  });

  it('a candidate counts its own vote only once the write of that vote completed', () => {
    const { raw, storage, voteWrite, term } = candidateWritingItsVote();
    // One grant from b: with a's own vote that is a quorum, but a's vote is not durable yet.
    raw.step(grantFromB(term));
    expect(raw.status().role).toBe('candidate');
    write(storage, voteWrite);
    raw.persisted(voteWrite);
    expect(raw.status().role).toBe('leader');
  });

  it('a Ready advanced while the write of the vote is still in flight does not make the vote count', () => {
    const { raw, storage, voteWrite, term } = candidateWritingItsVote();
    raw.step(grantFromB(term));
    // An append from a deposed leader of an older term: answered at once, nothing to write.
    raw.step({ type: 'app', from: 'c', to: 'a', term: term - 1, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0 });
    const nothingToWrite = raw.ready();
    expect(nothingToWrite.hardState).toBeUndefined();
    expect(nothingToWrite.entries).toHaveLength(0);
    raw.advance(nothingToWrite);
    expect(raw.status().role).toBe('candidate');
    write(storage, voteWrite);
    raw.persisted(voteWrite);
    expect(raw.status().role).toBe('leader');
  });

  it('the acknowledgement of a resent append cannot go out ahead of the write of the entries it covers', () => {
    const storage = newStorage(['a', 'b', 'c']);
    const raw = node('b', storage);
    raw.step(app(1, 0, 0, [[1, 1], [2, 1]], 0));
    const first = raw.ready();
    raw.acceptReady(first);
    raw.step(app(1, 0, 0, [[1, 1], [2, 1]], 0)); // resent: nothing new to write, but an ack of 2
    const resent = raw.ready();
    expect(resent.entries).toHaveLength(0);
    expect(resent.messagesAfterPersist.filter((m) => m.type === 'appResp' && m.index === 2 && !m.reject)).toHaveLength(1);
    expect(() => raw.advance(resent)).toThrow(/still being written/);
    raw.acceptReady(resent); // it waits behind the first write
    write(storage, first);
    raw.persisted(first);
    raw.persisted(resent);
  });

  it('misuse is refused: persisted before acceptReady, accepting twice, advancing an accepted Ready', () => {
    const { raw } = soleLeader();
    raw.propose(enc('p'));
    const rd = raw.ready();
    expect(() => raw.persisted(rd)).toThrow(/not accepted/);
    raw.acceptReady(rd);
    expect(() => raw.acceptReady(rd)).toThrow(/already accepted/);
    expect(() => raw.advance(rd)).toThrow(/accepted/);
    raw.propose(enc('q'));
    const next = raw.ready();
    expect(() => raw.advance(next)).toThrow(/still being written/); // it would make rd's entries stable too
  });
});
