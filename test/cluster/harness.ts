/**
 * Real kuorum node processes on 127.0.0.1 for the cluster tier: `node <build>/node/src/main.js`
 * (built by `tsc -p . --outDir .cache/cluster-build` in ensureBuilt when stale), free ports, temp data dirs, and an
 * HTTP client. Every process started here is killed by TestCluster.destroy().
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS, nodeEnv } from '../../node/src/runtime-settings.js';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// A private build (not dist/): other work in the same tree may be rebuilding dist/ at any moment.
const OUT_DIR = path.join(REPO, '.cache/cluster-build');
const MAIN = path.join(OUT_DIR, 'node/src/main.js');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** Compiles the tree (unless dist is newer than node/src) so the processes run the code under test. */
export function ensureBuilt(): void {
  // The stamp carries the time the last build STARTED: a source edited during a build is newer.
  const stamp = path.join(OUT_DIR, '.build-started');
  if (existsSync(MAIN) && existsSync(stamp) && statSync(stamp).mtimeMs > newestMtime(path.join(REPO, 'node/src'))) return;
  mkdirSync(OUT_DIR, { recursive: true });
  writeFileSync(stamp, new Date().toISOString());
  const tsc = path.join(REPO, 'node_modules/.bin/tsc');
  const r = spawnSync(tsc, ['-p', path.join(REPO, 'tsconfig.json'), '--outDir', OUT_DIR], { cwd: REPO, encoding: 'utf8' });
  if (!existsSync(MAIN)) throw new Error(`build did not produce ${MAIN}:\n${r.stdout}\n${r.stderr}`);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json<T = any>(): T; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value (or throws its last error after timeoutMs). */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 20_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(everyMs);
  }
}

export interface NodeOptions {
  snapshotThreshold?: number;
  snapshotCatchupEntries?: number;
  extraArgs?: string[];
}

export class NodeProcess {
  proc: ChildProcess | null = null;
  output = '';
  exitCode: number | null = null;
  id = '';

  constructor(
    readonly name: string,
    public dataDir: string,
    readonly httpPort: number,
    readonly peerPort: number,
    readonly options: NodeOptions = {},
  ) {}

  get peerAddress(): string {
    return `127.0.0.1:${this.peerPort}`;
  }

  start(extra: string[] = []): void {
    const args = [
      ...NODE_FLAGS,
      MAIN,
      `--name=${this.name}`,
      `--data-dir=${this.dataDir}`,
      `--listen-http=127.0.0.1:${this.httpPort}`,
      `--listen-peer=127.0.0.1:${this.peerPort}`,
      `--advertise-peer=${this.peerAddress}`,
      '--election-timeout=600',
      '--heartbeat-interval=100',
      `--snapshot-threshold=${this.options.snapshotThreshold ?? 10000}`,
      `--snapshot-catchup-entries=${this.options.snapshotCatchupEntries ?? 100}`,
      '--proposal-timeout=5000',
      '--shutdown-timeout=3000',
      '--log-level=info',
      ...(this.options.extraArgs ?? []),
      ...extra,
    ];
    this.attach(spawn(process.execPath, args, { cwd: REPO, env: nodeEnv(), stdio: ['ignore', 'pipe', 'pipe'] }));
  }

  /** Tracks a started node process: its output (bounded) and its exit. */
  protected attach(proc: ChildProcess): void {
    this.exitCode = null;
    this.proc = proc;
    const keep = (chunk: Buffer): void => {
      this.output += chunk.toString();
      if (this.output.length > 2_000_000) this.output = this.output.slice(-1_000_000);
    };
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
    proc.on('exit', (code, signal) => {
      this.exitCode = code ?? (signal ? 128 : -1);
      if (this.proc === proc) this.proc = null;
    });
  }

  get running(): boolean {
    return this.proc !== null;
  }

  /** Waits for the process to exit; returns its code. */
  async exited(timeoutMs = 15_000): Promise<number> {
    await waitFor(`${this.name} to exit`, async () => this.proc === null, timeoutMs, 50);
    return this.exitCode!;
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const p = this.proc;
    if (!p) return;
    p.kill(signal);
    await waitFor(`${this.name} to die`, async () => this.proc !== p, 15_000, 20);
  }

  async request(method: string, urlPath: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
    let payload: string | Uint8Array | undefined;
    const h = { ...headers };
    if (body instanceof Uint8Array || typeof body === 'string') payload = body;
    else if (body !== undefined) {
      payload = JSON.stringify(body);
      h['content-type'] ??= 'application/json';
    }
    const res = await fetch(`http://127.0.0.1:${this.httpPort}${urlPath}`, { method, body: payload, headers: h, signal: AbortSignal.timeout(15_000) });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
  }

  async status(): Promise<Record<string, any>> { // eslint-disable-line @typescript-eslint/no-explicit-any
    const r = await this.request('GET', '/v1/status');
    if (r.status !== 200) throw new Error(`status ${r.status}: ${r.text}`);
    return r.json();
  }

  async waitUp(): Promise<void> {
    await waitFor(`${this.name} HTTP`, async () => {
      if (!this.proc) throw new Error(`${this.name} exited with ${this.exitCode}:\n${this.output.slice(-3000)}`);
      this.id = (await this.status()).id;
      return true;
    });
  }
}

/** A set of node processes sharing a temp directory. */
export class TestCluster {
  readonly nodes: NodeProcess[] = [];
  private root = '';

  async init(): Promise<this> {
    this.root = await mkdtemp(path.join(os.tmpdir(), 'kuorum-cluster-'));
    return this;
  }

  async newNode(name: string, options: NodeOptions = {}): Promise<NodeProcess> {
    const n = new NodeProcess(name, path.join(this.root, name), await freePort(), await freePort(), options);
    this.nodes.push(n);
    return n;
  }

  /** Starts `size` nodes: the first bootstrapped, the others added as learners and promoted. */
  async form(size: number, options: NodeOptions = {}): Promise<NodeProcess[]> {
    const first = await this.newNode('n1', options);
    first.start(['--bootstrap']);
    await first.waitUp();
    await waitFor('n1 to lead', async () => (await first.status()).role === 'leader');
    const out = [first];
    for (let i = 2; i <= size; i++) {
      const n = await this.newNode(`n${i}`, options);
      n.start();
      await n.waitUp();
      await this.addAndPromote(n);
      out.push(n);
    }
    return out;
  }

  async addAndPromote(n: NodeProcess, via?: NodeProcess): Promise<void> {
    const entry = via ?? (await this.leader());
    const add = await entry.request('POST', '/v1/members', { id: n.id, name: n.name, peerAddress: n.peerAddress, learner: true });
    if (add.status !== 201) throw new Error(`add ${n.name}: ${add.status} ${add.text}`);
    await waitFor(`${n.name} promoted`, async () => {
      const r = await (await this.leader()).request('POST', `/v1/members/${n.id}/promote`);
      if (r.status === 200) return true;
      if (r.status !== 409 && r.status !== 503) throw new Error(`promote ${n.name}: ${r.status} ${r.text}`);
      return false;
    });
    await waitFor(`${n.name} ready`, async () => (await n.request('GET', '/readyz')).status === 200);
  }

  running(): NodeProcess[] {
    return this.nodes.filter((n) => n.running);
  }

  /**
   * The node that reports itself leader in the highest term: one deposed while it was cut off
   * may still say it leads an older term.
   */
  async leader(among: NodeProcess[] = this.running()): Promise<NodeProcess> {
    return waitFor('a leader', async () => {
      const leaders = await Promise.all(
        among.map(async (n) => {
          try {
            const s = await n.status();
            return s.role === 'leader' ? { n, term: s.term } : undefined;
          } catch {
            return undefined; // not up
          }
        }),
      );
      return leaders.reduce<{ n: NodeProcess; term: number } | undefined>((best, l) => (l && (!best || l.term > best.term) ? l : best), undefined)?.n;
    });
  }

  async destroy(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.kill('SIGKILL').catch(() => undefined)));
    if (this.root) await rm(this.root, { recursive: true, force: true });
  }

  /** Every node's output, for failure messages. */
  logs(): string {
    return this.nodes.map((n) => `--- ${n.name} ---\n${n.output.slice(-4000)}`).join('\n');
  }
}
