import { describe, expect, it } from 'vitest';
import type { Entry } from '../../../node/src/raft/index.js';
import { encodeRecord, readRecord, type SnapshotRecord, type WalRecord } from '../../../node/src/storage/wal/record-codec.js';
import { LogReplay } from '../../../node/src/storage/wal/replay.js';

function ents(from: number, terms: number[]): Entry[] {
  return terms.map((term, i) => ({ index: from + i, term, type: i % 2 ? 'confChange' : 'normal', data: new Uint8Array([from + i, term]) }));
}

function replay(records: WalRecord[]): ReturnType<LogReplay['finish']> {
  const r = new LogReplay();
  for (const rec of records) r.apply(rec);
  return r.finish();
}

const snap = (index: number, term: number): SnapshotRecord => ({ file: `${index}.snap`, index, term, crc: 1, confState: { voters: ['a'], learners: ['b'] } });

describe('WAL records', () => {
  it('round-trip every kind', () => {
    const records: WalRecord[] = [
      { kind: 'entries', entries: ents(7, [1, 2, 2]) },
      { kind: 'hardState', hardState: { term: 2 ** 40, vote: 'a1b2', commit: 9 } },
      { kind: 'snapshot', snapshot: snap(5, 2), replacesLog: true },
      { kind: 'compacted', position: { index: 4, term: 1 } },
    ];
    const bytes = Buffer.concat([...records.map(encodeRecord), Buffer.alloc(64)]);
    const read: WalRecord[] = [];
    for (let at = 0; ; ) {
      const r = readRecord(bytes, at);
      if (r.status !== 'record') {
        expect(r.status).toBe('end');
        break;
      }
      read.push(r.record);
      at = r.next;
    }
    expect(read).toEqual(records);
  });

  it('report a flipped bit, a record cut short and stray bytes as damage, zero fill as the end', () => {
    const bytes = encodeRecord({ kind: 'entries', entries: ents(1, [1]) });
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 1]! ^= 0x10;
    expect(readRecord(flipped, 0)).toMatchObject({ status: 'damaged', problem: expect.stringMatching(/fails its checksum/) });
    expect(readRecord(bytes.subarray(0, bytes.length - 1), 0)).toMatchObject({ status: 'damaged', problem: expect.stringMatching(/cut short/) });
    expect(readRecord(Buffer.from([0, 0, 0, 0, 9, 0, 0, 0]), 0).status).toBe('damaged');
    expect(readRecord(Buffer.from([0, 0, 0]), 0).status).toBe('end');
    expect(readRecord(Buffer.from([0, 5, 0]), 0).status).toBe('damaged');
  });
});

describe('WAL replay', () => {
  it('replaces the suffix from an entries record on, keeping what comes before', () => {
    const log = replay([
      { kind: 'entries', entries: ents(1, [1, 1, 1, 1]) },
      { kind: 'entries', entries: ents(3, [2]) },
    ]);
    expect(log.entries).toEqual([...ents(1, [1, 1]), ...ents(3, [2])]);
  });

  it('discards every entry at a received snapshot, but not at one taken locally', () => {
    const received = replay([
      { kind: 'entries', entries: ents(1, [1, 1, 1, 1, 1, 1]) },
      { kind: 'snapshot', snapshot: snap(3, 1), replacesLog: true },
    ]);
    expect(received.entries).toEqual([]);
    expect(received.compacted).toEqual({ index: 3, term: 1 });
    const local = replay([
      { kind: 'entries', entries: ents(1, [1, 1, 1, 1, 1, 1]) },
      { kind: 'snapshot', snapshot: snap(3, 1), replacesLog: false },
    ]);
    expect(local.entries).toEqual(ents(1, [1, 1, 1, 1, 1, 1]));
    expect(local.compacted).toEqual({ index: 0, term: 0 });
  });

  it('accepts entries starting above the compaction point only when a later compaction covers the gap', () => {
    const header: WalRecord[] = [
      { kind: 'snapshot', snapshot: snap(10, 1), replacesLog: false },
      { kind: 'compacted', position: { index: 5, term: 1 } },
    ];
    const covered = replay([...header, { kind: 'entries', entries: ents(9, [1, 1, 1, 1]) }, { kind: 'compacted', position: { index: 8, term: 1 } }]);
    expect(covered.entries).toEqual(ents(9, [1, 1, 1, 1]));
    expect(() => replay([...header, { kind: 'entries', entries: ents(9, [1, 1, 1, 1]) }])).toThrow(/expected entry 6, found entry 9/);
    expect(() => replay([...header, { kind: 'entries', entries: ents(9, [1, 1, 1, 1]) }, { kind: 'compacted', position: { index: 7, term: 1 } }])).toThrow(/expected entry 8, found entry 9/);
  });

  it('drops entries at or below a compaction, ignores an older compaction and refuses one at another term', () => {
    const log = replay([
      { kind: 'entries', entries: ents(1, [1, 1, 2, 2]) },
      { kind: 'snapshot', snapshot: snap(3, 2), replacesLog: false },
      { kind: 'compacted', position: { index: 2, term: 1 } },
      { kind: 'compacted', position: { index: 1, term: 1 } },
    ]);
    expect(log.entries).toEqual(ents(3, [2, 2]));
    expect(log.compacted).toEqual({ index: 2, term: 1 });
    expect(() => replay([{ kind: 'entries', entries: ents(1, [1, 1]) }, { kind: 'snapshot', snapshot: snap(2, 1), replacesLog: false }, { kind: 'compacted', position: { index: 2, term: 3 } }])).toThrow(/entry 2 has term 1, but it was compacted at term 3/);
  });

  it('refuses a compaction beyond the snapshot and a snapshot older than the one before it', () => {
    expect(() => replay([{ kind: 'entries', entries: ents(1, [1, 1]) }, { kind: 'compacted', position: { index: 2, term: 1 } }])).toThrow(/dropped but the snapshot is only at 0/);
    expect(() => replay([{ kind: 'snapshot', snapshot: snap(5, 1), replacesLog: true }, { kind: 'snapshot', snapshot: snap(4, 1), replacesLog: false }])).toThrow(/at 4 was recorded after the one at 5/);
  });
});
