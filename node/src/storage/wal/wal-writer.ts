import { fdatasync, writeSync } from 'node:fs';
import { rm, type FileHandle } from 'node:fs/promises';
import { syncDir } from '../fs-atomic.js';
import { installSegment, prepareSegment, type PreparedSegment } from './segment-files.js';

/** A segment of the log and the highest entry index any of its records holds (0: none). */
export interface SegmentInfo {
  seq: number;
  path: string;
  maxIndex: number;
}

/**
 * Appends framed records to the current segment and rolls over to a new, zero-filled one when a
 * record would not fit. Each new segment starts with a header (the log's state as of then: its
 * snapshot, compaction point and hard state), so that older segments can be deleted once their
 * entries are compacted. Not reentrant: the caller runs one call at a time.
 *
 * Records are written with a synchronous pwrite (it only copies into the page cache) and made
 * durable with fdatasync on the thread pool: one thread-pool round trip per synced append.
 */
export class WalWriter {
  private readonly segments: SegmentInfo[];
  private handle: FileHandle;
  private position: number;
  private headerEnd: number;
  private next: Promise<PreparedSegment> | null = null;

  private constructor(
    private readonly dir: string,
    private readonly segmentBytes: number,
    segments: SegmentInfo[],
    handle: FileHandle,
    position: number,
  ) {
    this.segments = segments;
    this.handle = handle;
    this.position = position;
    this.headerEnd = position;
  }

  /** Starts a new segment after `existing` (oldest first), writing `header` to it durably. */
  static async start(dir: string, segmentBytes: number, existing: SegmentInfo[], header: Buffer): Promise<WalWriter> {
    const prepared = await prepareSegment(dir, segmentBytes);
    try {
      const seq = (existing.at(-1)?.seq ?? 0) + 1;
      const path = await installSegment(dir, prepared, seq);
      const writer = new WalWriter(dir, segmentBytes, [...existing, { seq, path, maxIndex: 0 }], prepared.handle, 0);
      writer.write(header);
      writer.headerEnd = writer.position;
      await writer.sync();
      return writer;
    } catch (err) {
      await prepared.handle.close().catch(() => undefined);
      throw err;
    }
  }

  /** The live segments, oldest first; the last is written to. */
  get liveSegments(): readonly SegmentInfo[] {
    return this.segments;
  }

  /**
   * Appends `records` (holding entries up to `maxIndex`, or 0) and, when `sync`, waits until
   * they and everything before them are on disk. `header` is asked for only on a rollover.
   */
  async append(records: Buffer, maxIndex: number, sync: boolean, header: () => Buffer): Promise<void> {
    if (this.position + records.length > this.segmentBytes && this.position > this.headerEnd) await this.rollover(header());
    this.write(records);
    const current = this.segments.at(-1)!;
    if (maxIndex > current.maxIndex) current.maxIndex = maxIndex;
    if (!this.next && this.position * 2 > this.segmentBytes) this.prepareNext();
    if (sync) await this.sync();
  }

  /** Waits until every record appended so far is on disk. */
  sync(): Promise<void> {
    const fd = this.handle.fd;
    return new Promise((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));
  }

  /**
   * Deletes the oldest segments whose entries all lie at or below `index`, never the current one.
   * Syncs first: the record that made them unneeded (a compaction) must outlive them. Oldest
   * first, each deletion made durable before the next: a power loss then brings back at most the
   * segments just before the remaining ones. Any other subset could come back in an order the
   * records cannot be replayed in (a stale entry between two newer segments' records).
   */
  async deleteThrough(index: number): Promise<void> {
    let n = 0;
    while (n < this.segments.length - 1 && this.segments[n]!.maxIndex <= index) n++;
    if (n === 0) return;
    await this.sync();
    for (const seg of this.segments.splice(0, n)) {
      await rm(seg.path, { force: true });
      await syncDir(this.dir);
    }
  }

  async close(): Promise<void> {
    await this.handle.close();
    const next = this.next;
    this.next = null;
    if (next) {
      const prepared = await next.catch(() => null);
      if (prepared) {
        await prepared.handle.close();
        await rm(prepared.path, { force: true });
      }
    }
  }

  private write(buf: Buffer): void {
    const fd = this.handle.fd;
    for (let at = 0; at < buf.length; ) at += writeSync(fd, buf, at, buf.length - at, this.position + at);
    this.position += buf.length;
  }

  private prepareNext(): void {
    const next = prepareSegment(this.dir, this.segmentBytes);
    next.catch(() => undefined); // a failure is reported when the segment is needed
    this.next = next;
  }

  private async rollover(header: Buffer): Promise<void> {
    // The old segment must be complete on disk before a newer one exists: a damaged record is
    // then only ever a torn write at the very end of the log.
    await this.sync();
    if (!this.next) this.prepareNext();
    const prepared = await this.next!;
    this.next = null;
    const seq = this.segments.at(-1)!.seq + 1;
    let path: string;
    try {
      path = await installSegment(this.dir, prepared, seq);
    } catch (err) {
      await prepared.handle.close().catch(() => undefined); // the store fails now: do not leak the file
      throw err;
    }
    const old = this.handle;
    this.segments.push({ seq, path, maxIndex: 0 });
    this.handle = prepared.handle;
    this.position = 0;
    this.write(header);
    this.headerEnd = this.position;
    await old.close();
  }
}
