import { describe, expect, it } from 'vitest';
import { CompactedError, MemoryStorage, UnavailableError, type Entry } from '../../../node/src/raft/index.js';

function ents(from: number, terms: number[]): Entry[] {
  return terms.map((term, i) => ({ term, index: from + i, type: 'normal', data: new Uint8Array([i]) }));
}

describe('MemoryStorage', () => {
  it('appends, reads back and reports its bounds', () => {
    const s = new MemoryStorage();
    s.append(ents(1, [1, 1, 2]));
    expect(s.firstIndex()).toBe(1);
    expect(s.lastIndex()).toBe(3);
    expect(s.term(3)).toBe(2);
    expect(s.entries(1, 4, 0).map((e) => e.index)).toEqual([1, 2, 3]);
  });

  it('truncates a conflicting suffix on append', () => {
    const s = new MemoryStorage();
    s.append(ents(1, [1, 1, 1, 1]));
    s.append(ents(3, [2]));
    expect(s.lastIndex()).toBe(3);
    expect(s.term(3)).toBe(2);
  });

  it('refuses an append that would leave a gap', () => {
    const s = new MemoryStorage();
    s.append(ents(1, [1]));
    expect(() => s.append(ents(3, [1]))).toThrow(UnavailableError);
  });

  it('limits entries by bytes but always returns at least one', () => {
    const s = new MemoryStorage();
    s.append(ents(1, [1, 1, 1]));
    expect(s.entries(1, 4, 1)).toHaveLength(1);
    expect(s.entries(1, 4, 50)).toHaveLength(2);
  });

  it('compacts and answers the compacted boundary from the dummy entry', () => {
    const s = new MemoryStorage();
    s.append(ents(1, [1, 2, 3, 4]));
    s.createSnapshot(2, { voters: ['a'], learners: [] }, new Uint8Array([9]));
    s.compact(2);
    expect(s.firstIndex()).toBe(3);
    expect(s.term(2)).toBe(2);
    expect(() => s.term(1)).toThrow(CompactedError);
    expect(() => s.entries(2, 4, 0)).toThrow(CompactedError);
    expect(s.snapshot().metadata).toEqual({ index: 2, term: 2, confState: { voters: ['a'], learners: [] } });
  });

  it('replaces the log with an installed snapshot', () => {
    const s = new MemoryStorage();
    s.append(ents(1, [1, 1]));
    s.applySnapshot({ metadata: { index: 10, term: 3, confState: { voters: ['a', 'b'], learners: [] } }, data: new Uint8Array() });
    expect(s.firstIndex()).toBe(11);
    expect(s.lastIndex()).toBe(10);
    expect(s.term(10)).toBe(3);
    expect(s.initialState().confState.voters).toEqual(['a', 'b']);
  });
});
