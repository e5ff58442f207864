import { ClassicLevel } from 'classic-level';
import { DataDirError } from './errors.js';

export type BytesLevel = ClassicLevel<Buffer, Buffer>;

function codeOf(err: unknown): string | undefined {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | null;
  const inner = e?.cause?.code;
  if (typeof inner === 'string') return inner;
  return typeof e?.code === 'string' ? e.code : undefined;
}

/** LevelDB tuning of one database; unset: LevelDB's default. */
export interface LevelTuning {
  /** Bytes a memtable takes before it is written out as a table (default 4 MiB; one more may be in memory while it is written). */
  writeBufferSize?: number;
}

/**
 * Opens (creating if needed) a LevelDB with byte keys and values, turning LevelDB's open
 * failures into a DataDirError that says what is wrong with which path.
 */
export async function openBytesLevel(path: string, what: string, tuning: LevelTuning = {}): Promise<BytesLevel> {
  const db = new ClassicLevel<Buffer, Buffer>(path, { keyEncoding: 'buffer', valueEncoding: 'buffer', ...tuning });
  try {
    await db.open({ createIfMissing: true });
  } catch (err) {
    const code = codeOf(err);
    const detail = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message;
    if (code === 'LEVEL_LOCKED') {
      throw new DataDirError('locked', path, `the ${what} is locked by another running process (LevelDB LOCK is held); stop the other kuorum process using this data dir`, { cause: err });
    }
    if (code === 'LEVEL_CORRUPTION') {
      throw new DataDirError('log_corrupt', path, `the ${what} LevelDB is corrupted (${detail}); restore this member from a backup or remove it from the cluster and re-add it with an empty data dir`, { cause: err });
    }
    throw new DataDirError('io', path, `cannot open the ${what}: ${detail}`, { cause: err });
  }
  return db;
}
