/**
 * The node's configuration from command-line flags, each with an environment variable
 * KUORUM_<FLAG> (e.g. --data-dir ↔ KUORUM_DATA_DIR). Flags win over the environment.
 */
import { parseArgs } from 'node:util';
import { LOG_LEVELS, type LogLevel } from './logger.js';

export interface NodeConfig {
  name: string;
  dataDir: string;
  listenPeer: HostPort;
  advertisePeer: string;
  listenHttp: HostPort;
  electionTimeoutMs: number;
  heartbeatIntervalMs: number;
  snapshotThreshold: number;
  /** Entries kept in the log behind a snapshot for slow followers. */
  snapshotCatchupEntries: number;
  bootstrap: boolean;
  maxKeyBytes: number;
  maxValueBytes: number;
  proposalTimeoutMs: number;
  shutdownTimeoutMs: number;
  /** Revisions of change history kept for watches. */
  watchHistory: number;
  /** Memory for the metadata of recently written keys (see DEFAULT_KEY_CACHE_BYTES). */
  keyCacheBytes: number;
  logLevel: LogLevel;
}

export interface HostPort {
  host: string;
  port: number;
}

/** A bad flag or environment variable; main exits with code 2. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

interface FlagSpec {
  type: 'string' | 'boolean';
  default?: string;
  help: string;
}

const FLAGS: Record<string, FlagSpec> = {
  name: { type: 'string', help: 'stable, human name of this member (e.g. the pod name); required' },
  'data-dir': { type: 'string', help: 'directory for the Raft log, snapshots and KV state; required' },
  'listen-peer': { type: 'string', default: '0.0.0.0:7000', help: 'host:port for peer gRPC' },
  'advertise-peer': { type: 'string', help: 'host:port peers dial (default: --listen-peer, with 127.0.0.1 for 0.0.0.0)' },
  'listen-http': { type: 'string', default: '0.0.0.0:8080', help: 'host:port for the HTTP API' },
  'election-timeout': { type: 'string', default: '1000', help: 'election timeout in ms' },
  'heartbeat-interval': { type: 'string', default: '100', help: 'heartbeat interval in ms' },
  'snapshot-threshold': { type: 'string', default: '10000', help: 'applied entries between snapshots' },
  'snapshot-catchup-entries': { type: 'string', default: '5000', help: 'entries kept behind a snapshot for slow followers' },
  bootstrap: { type: 'boolean', help: 'on an empty data dir, form a new one-member cluster' },
  'max-key-bytes': { type: 'string', default: '1024', help: 'largest key, in bytes' },
  'max-value-bytes': { type: 'string', default: '1048576', help: 'largest value, in bytes' },
  'watch-history': { type: 'string', default: '10000', help: 'revisions of change history kept for watches (older fromRevision → 410)' },
  'key-cache-bytes': { type: 'string', default: '4194304', help: 'memory for the metadata of recently written keys, so their writes need not read LevelDB (0: none)' },
  'proposal-timeout': { type: 'string', default: '5000', help: 'ms a write waits to commit before a 503' },
  'shutdown-timeout': { type: 'string', default: '5000', help: 'ms a leader waits to hand over leadership on SIGTERM' },
  'log-level': { type: 'string', default: 'info', help: `one of ${LOG_LEVELS.join(', ')}` },
  help: { type: 'boolean', help: 'print this help' },
};

export function envName(flag: string): string {
  return `KUORUM_${flag.toUpperCase().replace(/-/g, '_')}`;
}

export function usage(): string {
  const lines = ['usage: kuorum --name NAME --data-dir DIR [flags]', ''];
  for (const [flag, spec] of Object.entries(FLAGS)) {
    if (flag === 'help') continue;
    const def = spec.default !== undefined ? ` (default ${spec.default})` : '';
    lines.push(`  --${flag}${spec.type === 'string' ? ' VALUE' : ''}  ${spec.help}${def}  [${envName(flag)}]`);
  }
  return lines.join('\n');
}

/** Returns null when --help was asked for. Throws ConfigError for anything invalid. */
export function parseConfig(argv: string[], env: NodeJS.ProcessEnv): NodeConfig | null {
  let values: Record<string, string | boolean | undefined>;
  try {
    const options = Object.fromEntries(Object.entries(FLAGS).map(([k, v]) => [k, { type: v.type }]));
    values = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as Record<string, string | boolean | undefined>;
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  if (values.help) return null;

  const str = (flag: string): string | undefined => {
    const v = values[flag];
    if (typeof v === 'string') return v;
    const e = env[envName(flag)];
    if (e !== undefined && e !== '') return e;
    return FLAGS[flag]!.default;
  };
  const required = (flag: string): string => {
    const v = str(flag);
    if (v === undefined || v.trim() === '') throw new ConfigError(`--${flag} (or ${envName(flag)}) is required`);
    return v;
  };
  const int = (flag: string, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const v = required(flag);
    if (!/^\d+$/.test(v.trim())) throw new ConfigError(`--${flag} must be a whole number, got ${JSON.stringify(v)}`);
    const n = Number(v.trim());
    if (n < min || n > max) throw new ConfigError(`--${flag} must be between ${min} and ${max}, got ${n}`);
    return n;
  };
  const bool = (flag: string): boolean => {
    if (typeof values[flag] === 'boolean') return values[flag] as boolean;
    const e = env[envName(flag)];
    if (e === undefined || e === '') return false;
    if (/^(1|true|yes|on)$/i.test(e)) return true;
    if (/^(0|false|no|off)$/i.test(e)) return false;
    throw new ConfigError(`${envName(flag)} must be true or false, got ${JSON.stringify(e)}`);
  };

  const name = required('name');
  // eslint-disable-next-line no-control-regex
  if (name.length > 253 || /[\u0000-\u001f\u007f]/.test(name)) throw new ConfigError('--name must be at most 253 characters without control characters');
  const listenPeer = parseHostPort('listen-peer', required('listen-peer'));
  const listenHttp = parseHostPort('listen-http', required('listen-http'));
  const advertise = str('advertise-peer');
  let advertisePeer: string;
  if (advertise !== undefined) {
    parseHostPort('advertise-peer', advertise);
    advertisePeer = advertise;
  } else {
    const host = listenPeer.host === '0.0.0.0' || listenPeer.host === '::' ? '127.0.0.1' : listenPeer.host;
    advertisePeer = `${host}:${listenPeer.port}`;
  }
  const heartbeatIntervalMs = int('heartbeat-interval', 1, 60_000);
  const electionTimeoutMs = int('election-timeout', 1, 600_000);
  if (electionTimeoutMs < 3 * heartbeatIntervalMs) {
    throw new ConfigError(`--election-timeout (${electionTimeoutMs} ms) must be at least 3 times --heartbeat-interval (${heartbeatIntervalMs} ms)`);
  }
  const logLevel = required('log-level');
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) throw new ConfigError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`);

  return {
    name,
    dataDir: required('data-dir'),
    listenPeer,
    advertisePeer,
    listenHttp,
    electionTimeoutMs,
    heartbeatIntervalMs,
    snapshotThreshold: int('snapshot-threshold', 1),
    snapshotCatchupEntries: int('snapshot-catchup-entries', 0),
    bootstrap: bool('bootstrap'),
    maxKeyBytes: int('max-key-bytes', 1, 65_536),
    maxValueBytes: int('max-value-bytes', 1, 64 * 1024 * 1024),
    proposalTimeoutMs: int('proposal-timeout', 1, 600_000),
    shutdownTimeoutMs: int('shutdown-timeout', 0, 600_000),
    watchHistory: int('watch-history', 1),
    keyCacheBytes: int('key-cache-bytes', 0),
    logLevel: logLevel as LogLevel,
  };
}

export function parseHostPort(flag: string, value: string): HostPort {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:/[\]]+)):(\d{1,5})$/.exec(value.trim());
  if (!m) throw new ConfigError(`--${flag} must be host:port, got ${JSON.stringify(value)}`);
  const port = Number(m[3]);
  if (port > 65535) throw new ConfigError(`--${flag} port must be at most 65535, got ${port}`);
  return { host: m[1] ?? m[2]!, port };
}

/** Raft ticks from the millisecond flags: one tick per heartbeat interval, capped at 100 ms. */
export function tickSettings(cfg: Pick<NodeConfig, 'electionTimeoutMs' | 'heartbeatIntervalMs'>): { tickMs: number; electionTick: number; heartbeatTick: number } {
  const tickMs = Math.min(100, cfg.heartbeatIntervalMs);
  const heartbeatTick = Math.max(1, Math.round(cfg.heartbeatIntervalMs / tickMs));
  const electionTick = Math.max(heartbeatTick + 1, Math.round(cfg.electionTimeoutMs / tickMs));
  return { tickMs, electionTick, heartbeatTick };
}
