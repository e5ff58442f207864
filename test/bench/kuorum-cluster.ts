/**
 * A 3-node kuorum cluster for the bench: `node dist/node/src/main.js` processes on free loopback
 * ports with temp data dirs, formed the way the cluster tier and `make run` do it (node 1
 * bootstraps; the others start unjoined, are added through the leader as learners and promoted).
 * Its own small starter because the cluster tier's harness resolves paths from its source
 * location and so only works under vitest, not compiled.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../controlplane/free-port.js';
import { httpJson, trackProcess, until, type BenchCluster, type ClusterTimeouts } from './bench-cluster.js';
import { NODE_FLAGS, nodeEnv } from '../../node/src/runtime-settings.js';
import { REPO } from './repo-root.js';

const MAIN = path.join(REPO, 'dist/node/src/main.js');

export interface KuorumClusterOptions extends ClusterTimeouts {
  /** Node.js flags for the node processes on top of the runtime settings, e.g. ['--cpu-prof', '--cpu-prof-dir=/tmp/p']. */
  nodeFlags?: string[];
  /** The nodes' --log-level (default warn, so logging costs the bench nothing). */
  logLevel?: string;
}

interface Member {
  name: string;
  httpPort: number;
  peerPort: number;
  dataDir: string;
  id: string;
  proc: ChildProcess | null;
  output: string;
}

export async function startKuorumCluster(options: KuorumClusterOptions): Promise<BenchCluster> {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`make build\` first`);
  const root = await mkdtemp(path.join(os.tmpdir(), 'kuorum-bench-'));
  const members: Member[] = [];
  for (let i = 1; i <= 3; i++) {
    members.push({ name: `n${i}`, httpPort: await freePort(), peerPort: await freePort(), dataDir: path.join(root, `n${i}`), id: '', proc: null, output: '' });
  }
  const url = (m: Member): string => `http://127.0.0.1:${m.httpPort}`;
  const peer = (m: Member): string => `127.0.0.1:${m.peerPort}`;

  const start = (m: Member, extra: string[] = []): void => {
    const args = [
      ...NODE_FLAGS,
      ...(options.nodeFlags ?? []),
      MAIN,
      `--name=${m.name}`,
      `--data-dir=${m.dataDir}`,
      `--listen-http=127.0.0.1:${m.httpPort}`,
      `--listen-peer=${peer(m)}`,
      `--advertise-peer=${peer(m)}`,
      `--election-timeout=${options.electionMs}`,
      `--heartbeat-interval=${options.heartbeatMs}`,
      `--log-level=${options.logLevel ?? 'warn'}`,
      ...extra,
    ];
    const proc = spawn(process.execPath, args, { cwd: REPO, env: nodeEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    trackProcess(m, proc);
  };
  const status = async (m: Member): Promise<Record<string, unknown>> => {
    const r = await httpJson('GET', `${url(m)}/v1/status`);
    if (r.status !== 200) throw new Error(`${m.name} status ${r.status}`);
    return r.json;
  };
  const up = async (m: Member): Promise<void> => {
    m.id = await until(`${m.name} to answer`, async () => {
      if (!m.proc) throw new Error(`${m.name} exited:\n${m.output.slice(-2000)}`);
      const s = await status(m);
      // Another member answering on this port would have its ID taken for this one's.
      if (s.name !== m.name) throw new Error(`${m.name}'s port ${m.httpPort} is answered by ${String(s.name)}`);
      return String(s.id);
    });
  };
  const stop = async (m: Member, signal: NodeJS.Signals): Promise<void> => {
    const p = m.proc;
    if (!p) return;
    p.kill(signal);
    await until(`${m.name} to exit`, async () => m.proc !== p, 15_000, 20);
  };

  const cluster: BenchCluster = {
    system: 'kuorum',
    version: `kuorum ${JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')).version} (Node ${process.version})`,
    urls: () => members.map(url),
    pids: () => members.map((m) => m.proc?.pid),
    async leaderIndex() {
      return until('a kuorum leader', async () => {
        for (const [i, m] of members.entries()) {
          if (m.proc && (await status(m).catch(() => undefined))?.role === 'leader') return i;
        }
        return undefined;
      });
    },
    async kill(i) {
      await stop(members[i]!, 'SIGKILL');
    },
    async restart(i) {
      start(members[i]!);
      await up(members[i]!);
      await cluster.waitHealthy();
    },
    async waitHealthy() {
      await until('every kuorum node ready', async () => {
        for (const m of members) {
          if (m.proc && (await httpJson('GET', `${url(m)}/readyz`)).status !== 200) return false;
        }
        return true;
      }, 60_000);
    },
    async destroy(graceful = false) {
      await Promise.all(members.map((m) => stop(m, graceful ? 'SIGTERM' : 'SIGKILL').catch(() => undefined)));
      await rm(root, { recursive: true, force: true });
    },
    logs: (tailChars = 4000) => members.map((m) => `--- ${m.name} ---\n${m.output.slice(-tailChars)}`).join('\n'),
  };

  try {
    const [first, ...rest] = members as [Member, ...Member[]];
    start(first, ['--bootstrap']);
    await up(first);
    await until('n1 to lead', async () => (await status(first)).role === 'leader');
    for (const m of rest) {
      start(m);
      await up(m);
      const add = await httpJson('POST', `${url(first)}/v1/members`, { id: m.id, name: m.name, peerAddress: peer(m), learner: true });
      if (add.status !== 201) throw new Error(`adding ${m.name}: ${add.status} ${JSON.stringify(add.json)}`);
      await until(`${m.name} promoted`, async () => {
        const r = await httpJson('POST', `${url(first)}/v1/members/${m.id}/promote`);
        if (r.status === 200) return true;
        if (r.status !== 409 && r.status !== 503) throw new Error(`promote ${m.name}: ${r.status} ${JSON.stringify(r.json)}`);
        return false;
      });
    }
    await cluster.waitHealthy();
  } catch (err) {
    const logs = cluster.logs();
    await cluster.destroy();
    throw new Error(`kuorum cluster did not form: ${(err as Error).message}\n${logs}`, { cause: err });
  }
  return cluster;
}
