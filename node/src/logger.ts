/**
 * Structured logs: one JSON object per line. Implements the Raft core's Logger and enough of the
 * pino interface for fastify's `loggerInstance` (a message and/or an object of fields, child()).
 */
import type { Logger as RaftLogger } from './raft/index.js';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
const RANK: Record<LogLevel, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: 100 };

type LogFn = (a?: unknown, b?: unknown) => void;

export interface JsonLogger extends RaftLogger {
  level: string;
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
  silent: LogFn;
  child(bindings: Record<string, unknown>): JsonLogger;
}

export function createLogger(
  level: LogLevel = 'info',
  bindings: Record<string, unknown> = {},
  write: (line: string) => void = (line) => process.stdout.write(line),
): JsonLogger {
  const threshold = RANK[level];
  const emit = (lvl: LogLevel, a: unknown, b: unknown): void => {
    if (RANK[lvl] < threshold) return;
    let msg = '';
    let fields: Record<string, unknown> = {};
    if (typeof a === 'string') {
      msg = a;
      if (b && typeof b === 'object') fields = b as Record<string, unknown>;
    } else if (a instanceof Error) {
      fields = { err: serializeError(a) };
      msg = typeof b === 'string' ? b : a.message;
    } else if (a && typeof a === 'object') {
      fields = a as Record<string, unknown>;
      if (typeof b === 'string') msg = b;
    }
    const record: Record<string, unknown> = { time: new Date().toISOString(), level: lvl, ...bindings, msg };
    for (const [k, v] of Object.entries(fields)) record[k] = v instanceof Error ? serializeError(v) : v;
    write(safeStringify(record) + '\n');
  };
  const fn = (lvl: LogLevel): LogFn => (a, b) => emit(lvl, a, b);
  return {
    level,
    trace: fn('trace'),
    debug: fn('debug'),
    info: fn('info'),
    warn: fn('warn'),
    error: fn('error'),
    fatal: fn('fatal'),
    silent: () => {},
    child: (more) => createLogger(level, { ...bindings, ...more }, write),
  };
}

function serializeError(e: Error): Record<string, unknown> {
  return { name: e.name, message: e.message, stack: e.stack };
}

function safeStringify(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x));
  } catch {
    return JSON.stringify({ time: new Date().toISOString(), level: 'error', msg: 'unserializable log record' });
  }
}
