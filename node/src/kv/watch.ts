import { CompactedRevisionError } from './errors.js';
import type { HistoryRecord } from './records.js';

export type WatchEvent = HistoryRecord;

export interface WatchOptions {
  /** Called at most once if the watch ends because of an error (e.g. a restore compacted its history); delivery stops. */
  onError?: (err: Error) => void;
}

export interface Watcher {
  /** Stops delivery; no event is delivered after cancel() returns. */
  cancel(): void;
  /** Resolves when the history replay is done and the watcher is live. */
  readonly ready: Promise<void>;
}

/** Where the hub reads the retained history and the current bounds from. */
export interface HistorySource {
  revision(): number;
  /** The revision of the last change already answered (its write may still be landing): "now" for a watch. */
  answeredRevision(): number;
  compactRevision(): number;
  /** Records in [from, to] in revision order, read from a point-in-time view taken synchronously at the call. */
  readHistory(from: number, to: number): AsyncIterable<HistoryRecord>;
}

interface WatchState {
  prefix: string;
  listener: (e: WatchEvent) => void;
  onError: ((err: Error) => void) | undefined;
  /** The next revision this watcher expects; events below it are never delivered twice. */
  next: number;
  /** Live events that arrived during the replay. */
  buffer: WatchEvent[] | null;
  done: boolean;
}

/**
 * Delivers changes to watchers in revision order: a replay of the retained history from the
 * requested revision, then the live stream, without gaps or duplicates.
 */
export class WatchHub {
  private readonly watchers = new Set<WatchState>();
  private readonly source: HistorySource;

  constructor(source: HistorySource) {
    this.source = source;
  }

  get size(): number {
    return this.watchers.size;
  }

  /**
   * Watches keys starting with `prefix`. fromRevision undefined or 0 means "changes after now".
   * Throws CompactedRevisionError if fromRevision is older than the retained history.
   */
  watch(prefix: string, fromRevision: number | undefined, listener: (e: WatchEvent) => void, opts: WatchOptions = {}): Watcher {
    const current = this.source.revision();
    const compacted = this.source.compactRevision();
    const from = fromRevision === undefined || fromRevision === 0 ? this.source.answeredRevision() + 1 : fromRevision;
    if (!Number.isSafeInteger(from) || from < 0) throw new RangeError(`fromRevision must be a non-negative integer, got ${fromRevision}`);
    if (from <= compacted) throw new CompactedRevisionError(from, compacted);
    const w: WatchState = { prefix, listener, onError: opts.onError, next: from, buffer: from <= current ? [] : null, done: false };
    this.watchers.add(w);
    const ready = w.buffer ? this.replay(w, from, current) : Promise.resolve();
    return {
      cancel: () => this.end(w),
      ready,
    };
  }

  /** Delivers the events of one applied batch, in revision order. */
  publish(events: WatchEvent[]): void {
    for (const w of this.watchers) {
      if (w.buffer) w.buffer.push(...events);
      else for (const e of events) this.deliver(w, e);
    }
  }

  /** Ends every watcher with an error (their history is gone, e.g. after a restore). */
  failAll(err: Error): void {
    for (const w of [...this.watchers]) this.fail(w, err);
  }

  private async replay(w: WatchState, from: number, to: number): Promise<void> {
    try {
      let expected = from;
      for await (const rec of this.source.readHistory(from, to)) {
        if (w.done) return;
        // Every revision has exactly one record: a hole means it was trimmed under us.
        if (rec.revision !== expected) throw new CompactedRevisionError(expected, rec.revision - 1);
        this.deliver(w, rec);
        expected++;
      }
      if (w.done) return;
      if (expected !== to + 1) throw new CompactedRevisionError(expected, to);
      const buffered = w.buffer ?? [];
      w.buffer = null;
      for (const e of buffered) this.deliver(w, e);
    } catch (err) {
      this.fail(w, err as Error);
    }
  }

  private deliver(w: WatchState, e: WatchEvent): void {
    if (w.done || e.revision < w.next) return;
    w.next = e.revision + 1;
    if (!e.key.startsWith(w.prefix)) return;
    try {
      w.listener(e);
    } catch (err) {
      this.fail(w, err as Error);
    }
  }

  private fail(w: WatchState, err: Error): void {
    if (w.done) return;
    this.end(w);
    w.onError?.(err);
  }

  private end(w: WatchState): void {
    w.done = true;
    w.buffer = null;
    this.watchers.delete(w);
  }
}
