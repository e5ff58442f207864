/**
 * A kuorum node process inside a network-namespace test host (`ip netns exec`, which execs the
 * node in place: the child's pid is the node's, so kill -9 hits the node itself). It listens on
 * its host's private address; the test reaches it through the bridge.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { NodeProcess, REPO, type Reply } from '../harness.js';
import type { TestHost } from './test-network.js';

// The private build harness.ensureBuilt() keeps up to date.
const MAIN = path.join(REPO, '.cache/cluster-build/node/src/main.js');
const HTTP_PORT = 8080;
const PEER_PORT = 7000;

export class NsNode extends NodeProcess {
  constructor(
    readonly host: TestHost,
    dataDir: string,
  ) {
    super(`n${host.index}`, dataDir, HTTP_PORT, PEER_PORT);
  }

  override get peerAddress(): string {
    return `${this.host.address}:${PEER_PORT}`;
  }

  get baseUrl(): string {
    return `http://${this.host.address}:${HTTP_PORT}`;
  }

  override start(extra: string[] = []): void {
    const args = [
      'netns', 'exec', this.host.namespace, process.execPath, MAIN,
      `--name=${this.name}`,
      `--data-dir=${this.dataDir}`,
      `--listen-http=${this.host.address}:${HTTP_PORT}`,
      `--listen-peer=${this.peerAddress}`,
      `--advertise-peer=${this.peerAddress}`,
      '--election-timeout=600',
      '--heartbeat-interval=100',
      '--snapshot-threshold=10000',
      '--proposal-timeout=3000',
      '--shutdown-timeout=3000',
      '--log-level=info',
      ...extra,
    ];
    this.attach(spawn('ip', args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] }));
  }

  override async request(method: string, urlPath: string, body?: unknown, headers: Record<string, string> = {}, timeoutMs = 15_000): Promise<Reply> {
    const h = { ...headers };
    let payload: string | undefined;
    if (typeof body === 'string') payload = body;
    else if (body !== undefined) {
      payload = JSON.stringify(body);
      h['content-type'] ??= 'application/json';
    }
    const res = await fetch(`${this.baseUrl}${urlPath}`, { method, body: payload, headers: h, signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
  }
}
