import { open, readFile, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Entry, HardState } from '../../../node/src/raft/index.js';
import { RaftLogStore, openIdentity } from '../../../node/src/storage/index.js';
import { listSegments, readSegment } from '../../../node/src/storage/wal/segment-files.js';
import { useTempDirs } from './temp-dir.js';

// Random sequences of saves, snapshots (taken and received), compactions, clean restarts and
// power losses, on segments of a few KiB, checked against a plain model of the Raft log.
// The test watches the store's fsyncs (fdatasync, FileHandle.sync, also of directories) and
// deletions, so that it knows what a power loss may take back: for each segment, any part of
// what was written since it was last synced; a deleted segment, until its directory is synced.
// Some operations (and some restarts) die part way, at one of those fsyncs or deletions, as if
// the process had been killed there; a power loss follows. After a power loss the log must come
// back as one of the states it went through since it was last wholly on disk (including the
// partial states of an operation that died): never older, never refused, never a mix.

/** What the disk holds, as far as the store's fsyncs say: file contents by inode, deletions not yet made durable. */
const disk = vi.hoisted(() => ({
  /** A crash in a run's dir: the fsync or deletion after this many more fails, as if the process died there. */
  crashes: new Map<string, number>(),
  SimulatedCrash: class SimulatedCrash extends Error {},
  synced: new Map<number, Buffer>(),
  pendingDeletes: [] as { dir: string; path: string; onDisk: Buffer }[],
  /** Each directory fsync, with the names the directory held then. */
  dirSyncs: [] as { dir: string; names: string[] }[],
}));

/** Throws a SimulatedCrash when a crash is due in the dir that holds `path`. */
function crashPoint(path: string): void {
  for (const [dir, left] of disk.crashes) {
    if (path !== dir && !path.startsWith(`${dir}/`)) continue;
    if (left > 0) disk.crashes.set(dir, left - 1);
    else {
      disk.crashes.delete(dir);
      throw new disk.SimulatedCrash(`simulated crash before syncing or deleting ${path}`);
    }
  }
}

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const fdatasync = (fd: number, cb: (err: NodeJS.ErrnoException | null) => void): void => {
    try {
      crashPoint(fs.readlinkSync(`/proc/self/fd/${fd}`));
    } catch (err) {
      process.nextTick(() => cb(err as Error));
      return;
    }
    fs.fdatasync(fd, (err) => {
      if (!err) disk.synced.set(fs.fstatSync(fd).ino, fs.readFileSync(`/proc/self/fd/${fd}`));
      cb(err);
    });
  };
  return { ...fs, default: { ...fs, fdatasync }, fdatasync };
});

vi.mock('node:fs/promises', async (importOriginal) => {
  const fsp = await importOriginal<typeof import('node:fs/promises')>();
  const rm: typeof fsp.rm = async (path, options) => {
    const p = String(path);
    if (p.endsWith('.wal')) {
      crashPoint(p);
      const st = await fsp.stat(p).catch(() => null);
      if (st) disk.pendingDeletes.push({ dir: dirname(p), path: p, onDisk: disk.synced.get(st.ino) ?? Buffer.alloc(0) });
    }
    return fsp.rm(path, options);
  };
  return { ...fsp, default: { ...fsp, rm }, rm };
});

let originalSync: FileHandle['sync'] | undefined;
let handleProto: { sync: FileHandle['sync'] } | undefined;

beforeAll(async () => {
  const handle = await open(import.meta.dirname, 'r');
  handleProto = Object.getPrototypeOf(handle) as { sync: FileHandle['sync'] };
  await handle.close();
  const sync = handleProto.sync;
  originalSync = sync;
  handleProto.sync = async function (this: FileHandle): Promise<void> {
    crashPoint(await import('node:fs').then((fs) => fs.readlinkSync(`/proc/self/fd/${this.fd}`)));
    await sync.call(this);
    const st = await this.stat();
    if (st.isDirectory()) {
      const fs = await import('node:fs');
      const dir = fs.readlinkSync(`/proc/self/fd/${this.fd}`);
      disk.pendingDeletes = disk.pendingDeletes.filter((d) => d.dir !== dir);
      disk.dirSyncs.push({ dir, names: fs.readdirSync(dir) });
    } else {
      disk.synced.set(st.ino, await readFile(`/proc/self/fd/${this.fd}`));
    }
  };
});

afterAll(() => {
  if (handleProto && originalSync) handleProto.sync = originalSync;
});

const tempDir = useTempDirs('walmodel');
const SEEDS = Number(process.env.KUORUM_WAL_MODEL_SEEDS ?? 60);
const OPS = 120;
/** Runs at a time: they mostly wait on fsyncs. */
const PARALLEL = 4;

interface ModelState {
  hardState: HardState;
  compacted: { index: number; term: number };
  /** compacted.index + 1, ... */
  entries: Entry[];
  snapshot: { index: number; term: number; voters: string[]; data: string } | null;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function clone(s: ModelState): ModelState {
  return { hardState: { ...s.hardState }, compacted: { ...s.compacted }, entries: s.entries.slice(), snapshot: s.snapshot && { ...s.snapshot, voters: [...s.snapshot.voters] } };
}

const lastIndex = (s: ModelState): number => s.compacted.index + s.entries.length;
const termAt = (s: ModelState, i: number): number => (i === s.compacted.index ? s.compacted.term : s.entries[i - s.compacted.index - 1]!.term);

/** The store as a model state (snapshot data read from its file). */
async function observe(store: RaftLogStore): Promise<ModelState> {
  const s = store.storage;
  const first = s.firstIndex();
  const last = s.lastIndex();
  const meta = s.snapshot().metadata;
  return {
    hardState: s.hardStateNow(),
    compacted: { index: first - 1, term: s.term(first - 1) },
    entries: last >= first ? s.entries(first, last + 1, 0) : [],
    snapshot: meta.index > 0 ? { index: meta.index, term: meta.term, voters: [...meta.confState.voters], data: new TextDecoder().decode(await store.readSnapshotData()) } : null,
  };
}

function entry(index: number, term: number, size: number): Entry {
  return { index, term, type: index % 5 === 0 ? 'confChange' : 'normal', data: new Uint8Array(size).fill((index * 7 + term) % 256) };
}

/** One seeded run; a failure names the seed and the steps that led to it. */
async function run(seed: number, dir: string): Promise<void> {
  const rnd = mulberry32(seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));
  const segmentBytes = int(2, 4) * 1024;
  const opts = { segmentBytes };
  const walDir = join(dir, 'wal');
  let store = await RaftLogStore.open(dir, opts);
  let model: ModelState = { hardState: { term: 0, vote: '', commit: 0 }, compacted: { index: 0, term: 0 }, entries: [], snapshot: null };
  // Every state since the WAL was last wholly on disk: a power loss may bring back any of them (and no other).
  let history: ModelState[] = [clone(model)];
  const steps: string[] = [];
  // Set when an operation died in a simulated crash: its states join the history, and the power loss follows.
  let crashed = false;
  const push = async (): Promise<void> => {
    if (!crashed && (await allDurable(walDir))) history = [];
    history.push(clone(model));
  };
  const act = async (operation: () => Promise<unknown>): Promise<void> => {
    try {
      await operation();
    } catch (err) {
      if (!isSimulatedCrash(err)) throw err;
      crashed = true;
    }
  };

  for (let op = 0; op < OPS; op++) {
    const kind = rnd();
    disk.crashes.delete(dir);
    if (kind < 0.9 && rnd() < 0.08) disk.crashes.set(dir, int(0, 4));
    const commit = model.hardState.commit;
    if (kind < 0.5) {
      // Entries (possibly replacing an uncommitted suffix), with a hard state when it changes.
      const from = int(Math.max(commit, model.compacted.index) + 1, lastIndex(model) + 1);
      const term = rnd() < 0.15 ? model.hardState.term + 1 : Math.max(model.hardState.term, 1);
      const count = int(1, 5);
      const big = rnd() < 0.03;
      const entries = Array.from({ length: count }, (_, i) => entry(from + i, term, big ? segmentBytes + int(1, 3000) : int(0, 500)));
      const newLast = from + count - 1;
      const changed = term !== model.hardState.term || rnd() < 0.25;
      const hardState = changed ? { term, vote: rnd() < 0.5 ? 'node-a' : 'node-b', commit: rnd() < 0.3 ? newLast : Math.min(newLast, commit + int(0, 3)) } : undefined;
      const sync = rnd() < 0.7;
      steps.push(`save entries ${from}..${newLast} t${term}${hardState ? ` commit ${hardState.commit}` : ''} sync=${sync}`);
      await act(() => store.save({ entries, hardState }, { sync }));
      model.entries.length = from - model.compacted.index - 1;
      model.entries.push(...entries);
      await push(); // a power loss may keep the entries but not the hard state written after them
      if (hardState) model.hardState = hardState;
      await push();
    } else if (kind < 0.58) {
      const hardState = { ...model.hardState, commit: Math.min(lastIndex(model), commit + int(1, 4)) };
      steps.push(`save commit ${hardState.commit} (unsynced)`);
      await act(() => store.save({ hardState }, { sync: false }));
      model.hardState = hardState;
      await push();
    } else if (kind < 0.7) {
      const snapIndex = model.snapshot?.index ?? 0;
      if (commit <= snapIndex || commit <= model.compacted.index) continue;
      // Often at the commit index, as a node snapshots what it applied.
      const index = rnd() < 0.5 ? commit : int(Math.max(snapIndex, model.compacted.index) + 1, commit);
      const data = `local ${seed}/${op}`;
      steps.push(`createSnapshot ${index}`);
      await act(() => store.createSnapshot(index, { voters: ['node-a', 'node-b'], learners: [] }, new TextEncoder().encode(data)));
      model.snapshot = { index, term: termAt(model, index), voters: ['node-a', 'node-b'], data };
      await push();
    } else if (kind < 0.84) {
      const snapIndex = model.snapshot?.index ?? 0;
      if (snapIndex <= model.compacted.index) continue;
      const upTo = rnd() < 0.5 ? snapIndex : int(model.compacted.index + 1, snapIndex);
      steps.push(`compact ${upTo}`);
      await act(() => store.compact(upTo));
      const term = termAt(model, upTo);
      model.entries = model.entries.slice(upTo - model.compacted.index);
      model.compacted = { index: upTo, term };
      await push();
    } else if (kind < 0.9) {
      // A snapshot from the leader, past this member's commit index: it replaces the whole log.
      const index = int(Math.max(commit, model.snapshot?.index ?? 0) + 1, lastIndex(model) + 4);
      const term = Math.max(model.hardState.term, 1);
      const data = `received ${seed}/${op}`;
      const withEntries = rnd() < 0.5 ? [entry(index + 1, term, int(0, 300)), entry(index + 2, term, int(0, 300))] : [];
      steps.push(`receive snapshot ${index} t${term} + ${withEntries.length} entries`);
      await act(() => store.save({ snapshot: { metadata: { index, term, confState: { voters: ['node-a', 'node-c'], learners: [] } }, data: new TextEncoder().encode(data) }, entries: withEntries, hardState: { term, vote: 'node-c', commit: index } }));
      // One write, records in this order: a crash before it is synced may keep any prefix.
      model = { hardState: model.hardState, compacted: { index, term }, entries: [], snapshot: { index, term, voters: ['node-a', 'node-c'], data } };
      await push();
      model.entries = withEntries;
      await push();
      model.hardState = { term, vote: 'node-c', commit: index };
      await push();
    } else if (kind < 0.94) {
      steps.push('restart');
      await store.close();
      store = await RaftLogStore.open(dir, opts);
      expect(await observe(store), `seed ${seed}, after:\n${steps.join('\n')}`).toEqual(model);
      await push();
    }
    disk.crashes.delete(dir);
    if (crashed || kind >= 0.94) {
      if (crashed) steps.push('  (crashed in it)');
      await store.close();
      steps.push(`power loss: ${await powerLoss(walDir, rnd)}`);
      // Sometimes the restart itself dies part way (cutting back the torn tail, starting a segment).
      disk.crashes.set(dir, int(0, 6));
      const died = await RaftLogStore.open(dir, opts).then(
        async (s) => {
          await s.close();
          return false;
        },
        (err: unknown) => {
          if (!isSimulatedCrash(err)) throw new Error(`refused after a power loss: ${(err as Error).message}\nseed ${seed}, after:\n${steps.join('\n')}`, { cause: err });
          return true;
        },
      );
      disk.crashes.delete(dir);
      expect(await filesOpenIn(dir), 'a restart or operation that failed left files open').toEqual([]);
      if (died) steps.push(`restart crashed; power loss: ${await powerLoss(walDir, rnd)}`);
      store = await openOrReport(dir, opts, () => `seed ${seed}, after:\n${steps.join('\n')}`);
      const seen = await observe(store);
      const match = history.findIndex((h) => sameState(h, seen));
      expect(match, `seed ${seed}: the state after a power loss is none of those since the log was last on disk; after:\n${steps.join('\n')}\ngot ${JSON.stringify(summary(seen))}\nhistory ${JSON.stringify(history.map(summary))}`).toBeGreaterThanOrEqual(0);
      model = clone(history[match]!);
      history = [];
      crashed = false;
      await push();
    }
  }
  await store.close();
}

/** The files under `dir` this process holds open. */
async function filesOpenIn(dir: string): Promise<string[]> {
  const fs = await import('node:fs');
  const open: string[] = [];
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // closed meanwhile
    }
    if (target.startsWith(`${dir}/`)) open.push(target);
  }
  return open;
}

function isSimulatedCrash(err: unknown): boolean {
  for (let e = err; e instanceof Error; e = e.cause) if (e instanceof disk.SimulatedCrash) return true;
  return false;
}

async function openOrReport(dir: string, opts: { segmentBytes: number }, context: () => string): Promise<RaftLogStore> {
  try {
    return await RaftLogStore.open(dir, opts);
  } catch (err) {
    throw new Error(`refused after a power loss: ${(err as Error).message}\n${context()}`, { cause: err });
  }
}

/** True when every segment holds on disk what it holds in the page cache, and no deletion may come undone. */
async function allDurable(walDir: string): Promise<boolean> {
  if (disk.pendingDeletes.some((d) => d.dir === walDir)) return false;
  for (const { path } of await listSegments(walDir)) {
    const { ino } = await stat(path);
    const onDisk = disk.synced.get(ino);
    if (!onDisk || !onDisk.equals(await readFile(path))) return false;
  }
  return true;
}

/**
 * What a power loss may leave of the (closed) WAL: each segment keeps what was synced, and of
 * what was written after, a prefix, a prefix and a torn sector, or everything but a stretch;
 * a segment deleted without a directory fsync since may come back.
 */
async function powerLoss(walDir: string, rnd: () => number): Promise<string> {
  const done: string[] = [];
  for (const { path } of await listSegments(walDir)) {
    const { ino } = await stat(path);
    const cache = await readFile(path);
    const onDisk = disk.synced.get(ino) ?? Buffer.alloc(0);
    if (onDisk.equals(cache) || rnd() < 0.3) continue;
    let differs = 0;
    while (differs < cache.length && differs < onDisk.length && cache[differs] === onDisk[differs]) differs++;
    const from = differs + Math.floor(rnd() * (cache.length - differs));
    const mode = rnd();
    let after: Buffer;
    if (mode < 0.4) {
      after = Buffer.concat([cache.subarray(0, from), onDisk.subarray(from)]);
    } else if (mode < 0.7) {
      after = Buffer.concat([cache.subarray(0, from), onDisk.subarray(from)]);
      after.fill(0x5a, from, Math.min(after.length, from + 1 + Math.floor(rnd() * 16)));
    } else {
      const to = Math.min(cache.length, from + 512 * (1 + Math.floor(rnd() * 4)));
      const lost = Buffer.alloc(to - from);
      if (from < onDisk.length) onDisk.copy(lost, 0, from, Math.min(to, onDisk.length));
      after = Buffer.concat([cache.subarray(0, from), lost, cache.subarray(to)]);
    }
    await writeFile(path, after);
    done.push(`${basename(path)} from ${from} (${mode < 0.4 ? 'lost' : mode < 0.7 ? 'torn' : 'stretch lost'})`);
  }
  const deleted = disk.pendingDeletes.filter((d) => d.dir === walDir);
  disk.pendingDeletes = disk.pendingDeletes.filter((d) => d.dir !== walDir);
  for (const d of deleted) {
    if (rnd() < 0.5) continue;
    await writeFile(d.path, d.onDisk);
    done.push(`${basename(d.path)} back`);
  }
  for (const { path } of await listSegments(walDir)) disk.synced.set((await stat(path)).ino, await readFile(path));
  return done.length ? done.join(', ') : 'nothing lost';
}

function sameState(a: ModelState, b: ModelState): boolean {
  return JSON.stringify(summary(a)) === JSON.stringify(summary(b)) && a.entries.every((e, i) => Buffer.from(e.data).equals(Buffer.from(b.entries[i]!.data)));
}

function summary(s: ModelState): unknown {
  return { hs: [s.hardState.term, s.hardState.vote, s.hardState.commit], compacted: s.compacted, entries: s.entries.map((e) => `${e.index}:${e.term}:${e.type}:${e.data.length}`), snap: s.snapshot };
}

describe('RaftLogStore against a model of the Raft log', () => {
  it(`matches the model through random saves, snapshots, compactions, restarts and power losses (${SEEDS} seeds)`, async () => {
    for (let first = 1; first <= SEEDS; first += PARALLEL) {
      const seeds = Array.from({ length: Math.min(PARALLEL, SEEDS - first + 1) }, (_, i) => first + i);
      await Promise.all(seeds.map(async (seed) => run(seed, await tempDir())));
    }
  }, Math.max(120_000, SEEDS * 1000));

  it('makes each segment deletion durable before the next: a power loss right after a compaction brings none back', async () => {
    // Segment 1: entries 1..10 at term 1. Segment 2: 8..10 again at term 2 (a conflicting
    // suffix). Segment 3: 11..20. A compaction up to 10 deletes segments 1 and 2. Had only
    // segment 1 come back, the log would replay 1..10 at term 1 and refuse the compaction at
    // 10 (term 2): a member refused after a power loss that lost nothing it had acknowledged.
    const dir = await tempDir();
    const walDir = join(dir, 'wal');
    const opts = { segmentBytes: 4096 };
    const store = await RaftLogStore.open(dir, opts);
    const ents = (from: number, to: number, term: number, size: number): Entry[] => Array.from({ length: to - from + 1 }, (_, i) => entry(from + i, term, size));
    await store.save({ entries: ents(1, 10, 1, 250), hardState: { term: 1, vote: 'a', commit: 7 } });
    await store.save({ entries: ents(8, 10, 2, 800), hardState: { term: 2, vote: 'b', commit: 7 } });
    await store.save({ entries: ents(11, 20, 2, 250), hardState: { term: 2, vote: 'b', commit: 20 } });
    await store.save({ entries: ents(21, 30, 2, 250) });
    expect(store.segments().map((seg) => seg.maxIndex)).toEqual([10, 10, 20, 30]);
    await store.createSnapshot(10, { voters: ['a', 'b'], learners: [] }, new Uint8Array([1]));
    await store.compact(10);
    expect(store.segments().map((seg) => seg.maxIndex)).toEqual([20, 30]);
    await store.close();
    const [segment1] = disk.pendingDeletes.filter((d) => d.dir === walDir);
    if (segment1) await writeFile(segment1.path, segment1.onDisk); // the power loss undoes the first deletion
    disk.pendingDeletes = disk.pendingDeletes.filter((d) => d.dir !== walDir);
    const reopened = await RaftLogStore.open(dir, opts);
    expect(reopened.storage.firstIndex()).toBe(11);
    expect(reopened.storage.term(10)).toBe(2);
    await reopened.close();
  });

  it('refuses every write after a failed one, and its mirror never shows the failed save', async () => {
    const dir = await tempDir();
    const store = await RaftLogStore.open(dir);
    await store.save({ entries: [entry(1, 1, 10)] });
    disk.crashes.set(dir, 0); // the next fsync fails
    await expect(store.save({ entries: [entry(2, 1, 10)] })).rejects.toThrow(/simulated crash/);
    expect(store.storage.lastIndex()).toBe(1);
    // The failed fdatasync may have dropped dirty pages: a retry that succeeds proves nothing.
    await expect(store.save({ entries: [entry(2, 1, 10)] })).rejects.toThrow(/failed earlier and refuses further writes: simulated crash/);
    await expect(store.save({ hardState: { term: 1, vote: '', commit: 1 } }, { sync: false })).rejects.toThrow(/failed earlier/);
    expect(store.storage.lastIndex()).toBe(1);
    await store.close();
  });

  it('names the WAL and snapshot directories durably in the data dir', async () => {
    const dir = await tempDir();
    const store = await RaftLogStore.open(dir);
    expect(disk.dirSyncs.some((s) => s.dir === dir && s.names.includes('wal'))).toBe(true);
    await store.save({ entries: [entry(1, 1, 10)] });
    await store.createSnapshot(1, { voters: ['a'], learners: [] }, new Uint8Array([1]));
    expect(disk.dirSyncs.some((s) => s.dir === dir && s.names.includes('snap'))).toBe(true);
    await store.close();
  });

  it('creates a new data dir durably: each directory made is named in a synced parent', async () => {
    const root = await tempDir();
    const dataDir = join(root, 'volume', 'member');
    await openIdentity(dataDir, { name: 'n1' });
    expect(disk.dirSyncs.some((s) => s.dir === root && s.names.includes('volume'))).toBe(true);
    expect(disk.dirSyncs.some((s) => s.dir === join(root, 'volume') && s.names.includes('member'))).toBe(true);
  });

  it('reads its own files only (sanity check of the harness: a damaged synced record is refused)', async () => {
    const dir = await tempDir();
    const store = await RaftLogStore.open(dir, { segmentBytes: 2048 });
    for (let i = 1; i <= 20; i++) await store.save({ entries: [entry(i, 1, 300)], hardState: { term: 1, vote: '', commit: i } });
    const first = store.segments()[0]!.path;
    await store.close();
    const bytes = await readFile(first);
    bytes[(await readSegment(first)).validBytes - 5]! ^= 1;
    const handle = await open(first, 'r+');
    await handle.write(bytes, 0, bytes.length, 0);
    await handle.close();
    await expect(RaftLogStore.open(dir, { segmentBytes: 2048 })).rejects.toMatchObject({ code: 'log_corrupt' });
  });
});
