/**
 * The watch history on disk: an append-only log of the changes of the last `window` revisions,
 * in `<dataDir>/state-history/`, beside the state LevelDB instead of inside it. In LevelDB each
 * change was written twice more (LevelDB's own log, then its compactions) and deleted again
 * `window` revisions later; here it is appended once and dropped a whole segment at a time.
 * Against the LevelDB records, the bench's put ×256 took 92–94 instead of 105–106 µs of server
 * CPU per put, ×64 153–156 instead of 159–161 (test/bench/README.md).
 *
 * Each apply appends its changes before it hands its LevelDB batch over, so after a process
 * crash the log reaches at least the revision the state reached; open() cuts what lies beyond
 * it. Neither is fsynced on every apply (the Raft log is): after a power loss the log may end
 * before the state's revision, and then its history is dropped and counts as compacted up to
 * that revision (watchers from before it are told to list again, as after a snapshot install).
 *
 * A record: body length (u32 LE), CRC-32 of the body (u32 LE), body = revision (u64 BE) and
 * the change (records.ts, encodeHistoryRecord). A segment is named by its first revision.
 */
import { closeSync, fdatasync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, truncateSync, writeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { decodeHistoryRecord, encodeHistoryRecord, type HistoryRecord } from './records.js';

const FRAME_BYTES = 8;
const REVISION_BYTES = 8;
const TWO_32 = 2 ** 32;
const SEGMENT = /^(\d{20})\.history$/;
/** A segment is closed and a new one started past this size, whatever the window. */
const MAX_SEGMENT_BYTES = 16 * 1024 * 1024;

interface Segment {
  first: number;
  last: number;
  path: string;
}

/** What open() found: the log, and the compact revision its history implies. */
export interface RecoveredHistory {
  log: HistoryLog;
  compactRevision: number;
}

export class HistoryLog {
  private fd: number | null = null;
  private readonly segments: Segment[];
  private currentBytes = 0;
  private currentRecords = 0;

  private constructor(
    private readonly dir: string,
    private readonly segmentRecords: number,
    segments: Segment[],
  ) {
    this.segments = segments;
  }

  /**
   * Reads the log in `dir` (created if missing) against the state's `revision` and
   * `compactRevision`: keeps the records in (compactRevision, revision] if they are all there,
   * cuts any beyond `revision`, and drops everything (compactRevision becomes `revision`) if
   * one is missing or damaged.
   */
  static open(dir: string, window: number, revision: number, compactRevision: number): RecoveredHistory {
    mkdirSync(dir, { recursive: true });
    const found = readdirSync(dir)
      .map((name) => SEGMENT.exec(name))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ first: Number(m[1]), path: join(dir, m[0]) }))
      .sort((a, b) => a.first - b.first);
    let firstKept = -1; // the first revision above compactRevision found, -1 if none
    const kept: Segment[] = [];
    let expected = -1; // the next revision the records must have; -1 before the first record
    let complete = true;
    for (const seg of found) {
      if (!complete) {
        rmSync(seg.path, { force: true });
        continue;
      }
      const bytes = readFileSync(seg.path);
      let at = 0;
      let last = seg.first - 1;
      while (at < bytes.length) {
        const rec = readRecord(bytes, at);
        if (!rec || (expected !== -1 && rec.record.revision !== expected) || rec.record.revision > revision) break;
        expected = rec.record.revision + 1;
        last = rec.record.revision;
        if (last > compactRevision && firstKept === -1) firstKept = last;
        at = rec.end;
      }
      if (at < bytes.length) {
        // A torn or damaged tail, or records beyond the state's revision: cut here; any later segment goes too.
        complete = false;
        truncateSync(seg.path, at);
      }
      if (last >= seg.first) kept.push({ first: seg.first, last, path: seg.path });
      else rmSync(seg.path, { force: true });
    }
    const log = new HistoryLog(dir, Math.max(1, Math.ceil(window / 2)), kept);
    const reachesRevision = revision === 0 || expected === revision + 1;
    const reachesBack = firstKept === -1 ? compactRevision >= revision : firstKept === compactRevision + 1;
    if (reachesRevision && reachesBack) return { log, compactRevision };
    log.dropAll();
    return { log, compactRevision: revision };
  }

  /** Appends the changes of one apply (written to the file before this returns, not fsynced). */
  append(records: readonly HistoryRecord[]): void {
    if (records.length === 0) return;
    const bodies = records.map((r) => encodeHistoryRecord(r));
    const total = bodies.reduce((n, b) => n + FRAME_BYTES + REVISION_BYTES + b.length, 0);
    if (this.fd === null || this.currentRecords >= this.segmentRecords || this.currentBytes >= MAX_SEGMENT_BYTES) this.startSegment(records[0]!.revision);
    const buf = Buffer.allocUnsafe(total);
    let at = 0;
    for (let i = 0; i < records.length; i++) {
      const body = bodies[i]!;
      const revision = records[i]!.revision;
      const bodyLength = REVISION_BYTES + body.length;
      buf.writeUInt32LE(bodyLength, at);
      buf.writeUInt32BE(Math.floor(revision / TWO_32), at + FRAME_BYTES);
      buf.writeUInt32BE(revision >>> 0, at + FRAME_BYTES + 4);
      buf.set(body, at + FRAME_BYTES + REVISION_BYTES);
      buf.writeUInt32LE(crc32(buf.subarray(at + FRAME_BYTES, at + FRAME_BYTES + bodyLength)), at + 4);
      at += FRAME_BYTES + bodyLength;
    }
    for (let done = 0; done < buf.length; ) done += writeSync(this.fd!, buf, done, buf.length - done, this.currentBytes + done);
    this.currentBytes += buf.length;
    this.currentRecords += records.length;
    this.segments.at(-1)!.last = records.at(-1)!.revision;
  }

  /**
   * The changes in [from, to], in order, as the log holds them at the call: what was appended
   * later is not read. A segment trimmed or dropped meanwhile ends the records early (the
   * watch hub reports the gap as compacted history).
   */
  read(from: number, to: number): AsyncIterable<HistoryRecord> {
    const view = this.segments.filter((s) => s.last >= from && s.first <= to).map((s) => ({ path: s.path, last: s.last }));
    return (async function* () {
      for (const seg of view) {
        let bytes: Buffer;
        try {
          bytes = await readFile(seg.path);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
          throw err;
        }
        for (let at = 0; at < bytes.length; ) {
          const rec = readRecord(bytes, at);
          if (!rec || rec.record.revision > Math.min(to, seg.last)) break;
          if (rec.record.revision >= from) yield rec.record;
          at = rec.end;
        }
      }
    })();
  }

  /** Deletes the segments that hold only revisions at or below `compactRevision` (never the one written to). */
  trim(compactRevision: number): void {
    while (this.segments.length > 1 && this.segments[0]!.last <= compactRevision) rmSync(this.segments.shift()!.path, { force: true });
  }

  /** Forgets every record (a snapshot replaced the state): the next append starts a new segment. */
  dropAll(): void {
    this.closeCurrent();
    for (const seg of this.segments.splice(0)) rmSync(seg.path, { force: true });
  }

  /** Makes every appended record durable. */
  sync(): Promise<void> {
    const fd = this.fd;
    if (fd === null) return Promise.resolve();
    return new Promise((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));
  }

  close(): void {
    this.closeCurrent();
  }

  private startSegment(first: number): void {
    this.closeCurrent();
    const path = join(this.dir, `${String(first).padStart(20, '0')}.history`);
    this.fd = openSync(path, 'w', 0o600);
    this.segments.push({ first, last: first - 1, path });
    this.currentBytes = 0;
    this.currentRecords = 0;
  }

  private closeCurrent(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

function readRecord(bytes: Buffer, at: number): { record: HistoryRecord; end: number } | null {
  if (at + FRAME_BYTES + REVISION_BYTES > bytes.length) return null;
  const length = bytes.readUInt32LE(at);
  const end = at + FRAME_BYTES + length;
  if (length < REVISION_BYTES || end > bytes.length) return null;
  const body = bytes.subarray(at + FRAME_BYTES, end);
  if (crc32(body) !== bytes.readUInt32LE(at + 4)) return null;
  const revision = body.readUInt32BE(0) * TWO_32 + body.readUInt32BE(4);
  try {
    return { record: decodeHistoryRecord(revision, body.subarray(REVISION_BYTES)), end };
  } catch {
    return null;
  }
}
