/**
 * A 3-node etcd cluster on 127.0.0.1 for the bench: static bootstrap, data in a temp dir, its
 * default fsync behaviour, the bench's election/heartbeat timeouts, and a backend quota large
 * enough that the bench never hits it. Clients use each member's JSON gateway (/v3/...).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../controlplane/free-port.js';
import { httpJson, trackProcess, until, type BenchCluster, type ClusterTimeouts } from './bench-cluster.js';
import { etcdVersion } from './etcd-binary.js';

const QUOTA_BYTES = 8 * 1024 ** 3;

interface Member {
  name: string;
  clientPort: number;
  peerPort: number;
  dataDir: string;
  proc: ChildProcess | null;
  output: string;
}

export async function startEtcdCluster(bin: string, timeouts: ClusterTimeouts): Promise<BenchCluster> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'kuorum-bench-etcd-'));
  const members: Member[] = [];
  for (let i = 1; i <= 3; i++) {
    members.push({ name: `e${i}`, clientPort: await freePort(), peerPort: await freePort(), dataDir: path.join(root, `e${i}`), proc: null, output: '' });
  }
  const initialCluster = members.map((m) => `${m.name}=http://127.0.0.1:${m.peerPort}`).join(',');
  const url = (m: Member): string => `http://127.0.0.1:${m.clientPort}`;

  const start = (m: Member): void => {
    const args = [
      `--name=${m.name}`,
      `--data-dir=${m.dataDir}`,
      `--listen-client-urls=${url(m)}`,
      `--advertise-client-urls=${url(m)}`,
      `--listen-peer-urls=http://127.0.0.1:${m.peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${m.peerPort}`,
      `--initial-cluster=${initialCluster}`,
      '--initial-cluster-state=new',
      '--initial-cluster-token=kuorum-bench',
      `--election-timeout=${timeouts.electionMs}`,
      `--heartbeat-interval=${timeouts.heartbeatMs}`,
      `--quota-backend-bytes=${QUOTA_BYTES}`,
      '--log-level=warn',
    ];
    const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    trackProcess(m, proc);
  };

  const stop = async (m: Member, signal: NodeJS.Signals): Promise<void> => {
    const p = m.proc;
    if (!p) return;
    p.kill(signal);
    await until(`${m.name} to exit`, async () => m.proc !== p, 15_000, 20);
  };

  const cluster: BenchCluster = {
    system: 'etcd',
    version: `etcd ${etcdVersion(bin)}`,
    urls: () => members.map(url),
    pids: () => members.map((m) => m.proc?.pid),
    async leaderIndex() {
      return until('an etcd leader', async () => {
        for (const m of members) {
          if (!m.proc) continue;
          const s = await httpJson('POST', `${url(m)}/v3/maintenance/status`, {}).catch(() => undefined);
          const leader = s?.status === 200 ? String(s.json.leader ?? '') : '';
          if (!leader || leader === '0') continue;
          for (const [i, other] of members.entries()) {
            if (!other.proc) continue;
            const o = await httpJson('POST', `${url(other)}/v3/maintenance/status`, {}).catch(() => undefined);
            if (String(o?.json?.header?.member_id) === leader) return i;
          }
        }
        return undefined;
      });
    },
    async kill(i) {
      await stop(members[i]!, 'SIGKILL');
    },
    async restart(i) {
      start(members[i]!);
      await cluster.waitHealthy();
    },
    async waitHealthy() {
      // /health answers true only when the member has a leader and a linearizable read succeeds.
      await until('every etcd member healthy', async () => {
        for (const m of members) {
          if (!m.proc) continue;
          const r = await httpJson('GET', `${url(m)}/health`);
          if (r.status !== 200 || r.json?.health !== 'true') return false;
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

  for (const m of members) start(m);
  try {
    await cluster.waitHealthy();
  } catch (err) {
    const logs = cluster.logs();
    await cluster.destroy();
    throw new Error(`etcd cluster did not become healthy: ${(err as Error).message}\n${logs}`, { cause: err });
  }
  return cluster;
}
