/** Binds node.ts's Transport port to the gRPC PeerTransport. */
import type { Transport } from './node-ports.js';
import type { Message, NodeId } from './raft/index.js';
import type { ForwardedRequest, ForwardedResponse } from './server/node-api.js';
import { PeerTransport, type ForwardRequest, type ForwardResponse, type PeerTransportOptions } from './transport/index.js';

export class PeerTransportAdapter implements Transport {
  readonly inner: PeerTransport;
  private peers = new Map<NodeId, string>();

  constructor(
    options: PeerTransportOptions,
    private readonly listen: string,
  ) {
    this.inner = new PeerTransport(options);
  }

  async start(): Promise<void> {
    await this.inner.start(this.listen);
  }

  stop(): Promise<void> {
    return this.inner.stop();
  }

  setPeers(peers: { id: NodeId; address: string }[]): void {
    const next = new Map(peers.map((p) => [p.id, p.address]));
    for (const id of this.peers.keys()) if (!next.has(id)) this.inner.removePeer(id);
    for (const [id, address] of next) if (this.peers.get(id) !== address) this.inner.addPeer(id, address);
    this.peers = next;
  }

  send(messages: Message[]): void {
    this.inner.send(messages);
  }

  onMessages(fn: (messages: Message[], from: NodeId, fromAddress: string | undefined) => void): void {
    this.inner.onMessage(fn);
  }

  onUnreachable(fn: (id: NodeId) => void): void {
    this.inner.onUnreachable(fn);
  }

  onConnectionLost(fn: (id: NodeId) => void): void {
    this.inner.onConnectionLost(fn);
  }

  onSnapshotStatus(fn: (id: NodeId, ok: boolean) => void): void {
    this.inner.onSnapshotStatus(fn);
  }

  onClusterId(fn: (clusterId: string) => void): void {
    this.inner.onClusterIdLearned(fn);
  }

  setClusterId(clusterId: string): void {
    this.inner.setClusterId(clusterId);
  }

  peerErrorCounts(): { peer: string; kind: string; count: number }[] {
    const out: { peer: string; kind: string; count: number }[] = [];
    for (const [peer, c] of Object.entries(this.inner.stats().peers)) {
      out.push({ peer, kind: 'dropped', count: c.messagesDropped });
      out.push({ peer, kind: 'send_error', count: c.sendErrors });
      out.push({ peer, kind: 'connect_timeout', count: c.connectTimeouts });
      out.push({ peer, kind: 'rejected', count: c.messagesRejected + c.snapshotsRejected });
      out.push({ peer, kind: 'snapshot_failed', count: c.snapshotsFailed });
    }
    return out;
  }

  async forward(to: NodeId, req: ForwardedRequest, timeoutMs: number): Promise<ForwardedResponse> {
    return fromWire(await this.inner.forward(to, toWire(req), timeoutMs));
  }

  setForwardHandler(handler: (req: ForwardedRequest) => Promise<ForwardedResponse>): void {
    this.inner.setForwardHandler(async (req) => toWire(await handler(fromWire(req))));
  }
}

function toWire<T extends ForwardedRequest | ForwardedResponse>(r: T): Omit<T, 'headers'> & { headers: [string, string][] } {
  return { ...r, headers: Object.entries(r.headers).map(([k, v]) => [k.toLowerCase(), v] as [string, string]) };
}

function fromWire<T extends ForwardRequest | ForwardResponse>(r: T): Omit<T, 'headers'> & { headers: Record<string, string> } {
  const headers: Record<string, string> = {};
  for (const [k, v] of r.headers) headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
  return { ...r, headers };
}
