// Operator command line and environment.
import { parseArgs } from 'node:util';
import { hostname } from 'node:os';

export interface OperatorConfig {
  kubeconfig?: string;
  /** Watch one namespace; all when undefined. */
  namespace?: string;
  httpAddress: { host: string; port: number };
  leaderElect: boolean;
  leaseNamespace: string;
  leaseName: string;
  identity: string;
  workers: number;
  nodeTimeoutMs: number;
  nodePort: number;
}

export class ConfigError extends Error {}

const USAGE = `usage: kuorum-operator [--kubeconfig FILE] [--namespace NS] [--http-address HOST:PORT]
  [--leader-elect=true|false] [--leader-election-namespace NS] [--leader-election-id NAME]
  [--workers N] [--node-timeout-ms MS] [--node-port PORT]`;

function parseAddress(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  const port = Number(s.slice(i + 1));
  if (i < 0 || !Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`--http-address must be HOST:PORT, got ${JSON.stringify(s)}`);
  return { host: s.slice(0, i) || '0.0.0.0', port };
}

function positiveInt(name: string, s: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n <= 0) throw new ConfigError(`--${name} must be a positive integer, got ${JSON.stringify(s)}`);
  return n;
}

export function parseConfig(argv: string[], env: NodeJS.ProcessEnv): OperatorConfig {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        kubeconfig: { type: 'string' },
        namespace: { type: 'string' },
        'http-address': { type: 'string' },
        'leader-elect': { type: 'string' },
        'leader-election-namespace': { type: 'string' },
        'leader-election-id': { type: 'string' },
        workers: { type: 'string' },
        'node-timeout-ms': { type: 'string' },
        'node-port': { type: 'string' },
        help: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new ConfigError(`${(err as Error).message}\n${USAGE}`);
  }
  if (values.help) throw new ConfigError(USAGE);
  const leaderElect = values['leader-elect'] ?? env.KUORUM_OPERATOR_LEADER_ELECT ?? 'true';
  if (leaderElect !== 'true' && leaderElect !== 'false') throw new ConfigError('--leader-elect must be true or false');
  const namespace = values.namespace ?? env.WATCH_NAMESPACE;
  const kubeconfig = values.kubeconfig;
  return {
    ...(kubeconfig ? { kubeconfig } : {}),
    ...(namespace ? { namespace } : {}),
    httpAddress: parseAddress(values['http-address'] ?? env.KUORUM_OPERATOR_HTTP_ADDRESS ?? '0.0.0.0:8080'),
    leaderElect: leaderElect === 'true',
    leaseNamespace: values['leader-election-namespace'] ?? env.POD_NAMESPACE ?? namespace ?? 'default',
    leaseName: values['leader-election-id'] ?? 'kuorum-operator',
    identity: env.POD_NAME ?? `${hostname()}-${process.pid}`,
    workers: positiveInt('workers', values.workers ?? '4'),
    nodeTimeoutMs: positiveInt('node-timeout-ms', values['node-timeout-ms'] ?? '3000'),
    nodePort: positiveInt('node-port', values['node-port'] ?? '8080'),
  };
}
