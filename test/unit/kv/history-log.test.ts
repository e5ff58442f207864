import { appendFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HistoryLog } from '../../../node/src/kv/history-log.js';
import { CompactedRevisionError, KvStore } from '../../../node/src/kv/index.js';
import type { HistoryRecord } from '../../../node/src/kv/records.js';
import { useTempDirs } from '../storage/temp-dir.js';
import { EntryBuilder } from './kv-fixtures.js';

const tempDir = useTempDirs('history');

function change(revision: number, value = `v${revision}`): HistoryRecord {
  return { type: 'put', key: `k${revision % 3}`, revision, createRevision: 1, version: revision, value: new TextEncoder().encode(value) };
}

const changes = (from: number, to: number): HistoryRecord[] => Array.from({ length: to - from + 1 }, (_, i) => change(from + i));
const revisions = (records: HistoryRecord[]): number[] => records.map((r) => r.revision);
const segments = (dir: string): string[] => readdirSync(dir).filter((n) => n.endsWith('.history')).sort();

async function collect(records: AsyncIterable<HistoryRecord>): Promise<HistoryRecord[]> {
  const out: HistoryRecord[] = [];
  for await (const r of records) out.push(r);
  return out;
}

/** Every change the log holds, read back. */
const held = (log: HistoryLog, from = 0, to = Number.MAX_SAFE_INTEGER): Promise<HistoryRecord[]> => collect(log.read(from, to));

/** Appends revisions [from, to] one apply at a time. */
function appendEach(log: HistoryLog, from: number, to: number): void {
  for (let r = from; r <= to; r++) log.append([change(r)]);
}

describe('HistoryLog', () => {
  it('gives back the retained changes after a reopen, values included', async () => {
    const dir = await tempDir();
    const { log } = HistoryLog.open(dir, 100, 0, 0);
    log.append(changes(1, 3));
    log.append(changes(4, 5));
    log.close();
    const again = HistoryLog.open(dir, 100, 5, 1);
    const records = await held(again.log, 2);
    expect(revisions(records)).toEqual([2, 3, 4, 5]);
    expect(again.compactRevision).toBe(1);
    expect(new TextDecoder().decode(records[3]!.value)).toBe('v5');
    expect(records[3]).toMatchObject({ type: 'put', key: 'k2', createRevision: 1, version: 5 });
    expect(revisions(await held(again.log, 3, 4))).toEqual([3, 4]);
    // Appends after a reopen go on from there.
    again.log.append(changes(6, 6));
    again.log.close();
    expect(revisions(await held(HistoryLog.open(dir, 100, 6, 1).log, 2))).toEqual([2, 3, 4, 5, 6]);
  });

  it('cuts the changes beyond the state revision (a crash between the history append and the state write)', async () => {
    const dir = await tempDir();
    const { log } = HistoryLog.open(dir, 100, 0, 0);
    log.append(changes(1, 10));
    log.close();
    const cut = HistoryLog.open(dir, 100, 7, 0);
    expect(revisions(await held(cut.log))).toEqual([1, 2, 3, 4, 5, 6, 7]);
    // Replayed from the Raft log, revision 8 may come out different; the old one must not come back.
    cut.log.append([change(8, 'replayed')]);
    cut.log.close();
    const after = await held(HistoryLog.open(dir, 100, 8, 0).log);
    expect(revisions(after)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(new TextDecoder().decode(after[7]!.value)).toBe('replayed');
  });

  it('drops the history, as compacted up to the state revision, when it does not reach that revision', async () => {
    const dir = await tempDir();
    const { log } = HistoryLog.open(dir, 100, 0, 0);
    log.append(changes(1, 5));
    log.close();
    // The state has revision 6 but the log ends at 5 (a power loss took the last append).
    const behind = HistoryLog.open(dir, 100, 6, 0);
    expect(await held(behind.log)).toEqual([]);
    expect(behind.compactRevision).toBe(6);
    expect(segments(dir)).toEqual([]);
    behind.log.append(changes(7, 8));
    behind.log.close();
    expect(revisions(await held(HistoryLog.open(dir, 100, 8, 6).log))).toEqual([7, 8]);
  });

  it('drops the history when it does not reach back to the compact revision', async () => {
    const dir = await tempDir();
    const { log } = HistoryLog.open(dir, 100, 4, 4);
    log.append(changes(5, 9));
    log.close();
    const gap = HistoryLog.open(dir, 100, 9, 2);
    expect(await held(gap.log)).toEqual([]);
    expect(gap.compactRevision).toBe(9);
  });

  it('stops at a torn last record, and treats a damaged one as the end of the log', async () => {
    const dir = await tempDir();
    const { log } = HistoryLog.open(dir, 100, 0, 0);
    log.append(changes(1, 5));
    log.close();
    const [file] = segments(dir);
    appendFileSync(join(dir, file!), Buffer.from([40, 0, 0, 0, 1, 2, 3])); // a record cut short by a crash
    const torn = HistoryLog.open(dir, 100, 5, 0);
    expect(revisions(await held(torn.log))).toEqual([1, 2, 3, 4, 5]);
    torn.log.close();

    const bytes = readFileSync(join(dir, file!));
    bytes[bytes.length - 3]! ^= 0xff; // inside record 5
    writeFileSync(join(dir, file!), bytes);
    const damaged = HistoryLog.open(dir, 100, 5, 0);
    expect(await held(damaged.log)).toEqual([]);
    expect(damaged.compactRevision).toBe(5);
  });

  it('keeps about a window of segments: whole ones below the compact revision are deleted', async () => {
    const dir = await tempDir();
    const { log } = HistoryLog.open(dir, 4, 0, 0); // segments of 2 records
    appendEach(log, 1, 10);
    expect(segments(dir)).toHaveLength(5);
    log.trim(6);
    expect(segments(dir)).toHaveLength(2); // 7–8 and 9–10
    log.trim(10);
    expect(segments(dir)).toHaveLength(1); // never the one being written
    log.close();
    expect(revisions(await held(HistoryLog.open(dir, 4, 10, 8).log))).toEqual([9, 10]);
  });

  it('reads what it held when asked: later appends are not read, a segment trimmed meanwhile ends the records', async () => {
    const dir = await tempDir();
    const { log } = HistoryLog.open(dir, 4, 0, 0); // segments of 2 records
    appendEach(log, 1, 6);
    const before = log.read(1, 100);
    appendEach(log, 7, 8);
    expect(revisions(await collect(before))).toEqual([1, 2, 3, 4, 5, 6]);
    const racing = log.read(1, 100);
    log.trim(4); // deletes 1–2 and 3–4 before the read gets to them
    expect(await collect(racing)).toEqual([]);
    log.close();
  });

  it('dropAll forgets every change (a snapshot replaced the state)', async () => {
    const dir = await tempDir();
    const { log } = HistoryLog.open(dir, 100, 0, 0);
    log.append(changes(1, 5));
    log.dropAll();
    expect(segments(dir)).toEqual([]);
    log.append(changes(20, 21));
    log.close();
    expect(revisions(await held(HistoryLog.open(dir, 100, 21, 19).log))).toEqual([20, 21]);
  });
});

describe('KvStore history on disk', () => {
  it('keeps the watch history in the history log, not in LevelDB, across a restart', async () => {
    const dir = await tempDir();
    let kv = await KvStore.open(dir, { historyWindow: 3 });
    const b = new EntryBuilder();
    await kv.apply([b.put('a', '1'), b.put('b', '2'), b.put('a', '3'), b.del('b'), b.put('c', '5')]);
    await kv.close();
    expect(segments(join(dir, 'state-history')).length).toBeGreaterThan(0);
    kv = await KvStore.open(dir, { historyWindow: 3 });
    const seen: number[] = [];
    const w = kv.watch('', 3, (e) => seen.push(e.revision));
    await w.ready;
    w.cancel();
    expect(seen).toEqual([3, 4, 5]);
    expect(() => kv.watch('', 2, () => {})).toThrow(CompactedRevisionError);
    await kv.close();
  });

  it('refuses to open, with a clear error, when the history cannot be read', async () => {
    const dir = await tempDir();
    writeFileSync(join(dir, 'state-history'), 'a file where the directory should be');
    await expect(KvStore.open(dir)).rejects.toThrow(/state-history: cannot open the watch history/);
  });
});
