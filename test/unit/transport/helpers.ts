import type { Logger, Message, NodeId } from '../../../node/src/raft/types.js';
import { PeerTransport } from '../../../node/src/transport/index.js';
import type { PeerTransportOptions } from '../../../node/src/transport/index.js';

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  fields?: Record<string, unknown>;
}

export function captureLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: LogLine['level']) => (msg: string, fields?: Record<string, unknown>) => {
    lines.push({ level, msg, fields });
  };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** A started transport with everything it reports recorded. */
export interface TestNode {
  id: NodeId;
  transport: PeerTransport;
  address: string;
  port: number;
  received: Message[];
  batches: Message[][];
  /** The advertised address each sender's calls carried (undefined: none). */
  senderAddresses: Map<NodeId, string | undefined>;
  unreachable: NodeId[];
  /** Peers whose connection onConnectionLost reported, in order. */
  connectionLost: NodeId[];
  snapshotStatus: [NodeId, boolean][];
  log: ReturnType<typeof captureLogger>;
}

const FAST_BACKOFF = { initialMs: 20, maxMs: 200 };

export async function startNode(id: NodeId, opts: Partial<PeerTransportOptions> = {}, listen = '127.0.0.1:0'): Promise<TestNode> {
  const log = captureLogger();
  const transport = new PeerTransport({ selfId: id, clusterId: 'cluster-1', logger: log, backoff: FAST_BACKOFF, shutdownGraceMs: 500, ...opts });
  const node: TestNode = { id, transport, address: '', port: 0, received: [], batches: [], senderAddresses: new Map(), unreachable: [], connectionLost: [], snapshotStatus: [], log };
  transport.onMessage((batch, from, fromAddress) => {
    node.senderAddresses.set(from, fromAddress);
    node.batches.push(batch);
    node.received.push(...batch);
  });
  transport.onUnreachable((peer) => node.unreachable.push(peer));
  transport.onConnectionLost((peer) => node.connectionLost.push(peer));
  transport.onSnapshotStatus((peer, ok) => node.snapshotStatus.push([peer, ok]));
  node.port = await transport.start(listen);
  node.address = `127.0.0.1:${node.port}`;
  return node;
}

/** Polls until `check` returns true; fails with `what` after `timeoutMs`. Not a timing assertion: only a bound on waiting. */
export async function waitFor(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function tick(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

export function msg(from: NodeId, to: NodeId, fields: Partial<Message> = {}): Message {
  return { type: 'app', from, to, term: 1, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0, ...fields };
}
