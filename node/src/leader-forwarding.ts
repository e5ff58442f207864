/**
 * Client requests between members: a follower forwards to the leader what only the leader can
 * serve, over the peer transport; requests forwarded to this node go to the HTTP layer's handler.
 */
import { NoLeaderError, NotLeaderError, UnavailableError } from './errors.js';
import type { Transport } from './node-ports.js';
import type { NodeParts } from './node-settings.js';
import { NO_NODE, type NodeId } from './raft/index.js';
import type { ForwardedRequest, ForwardedResponse } from './server/node-api.js';

type ForwardHandler = (req: ForwardedRequest) => Promise<ForwardedResponse>;

export interface LeaderForwardingDeps extends Pick<NodeParts, 'memberId'> {
  transport: Pick<Transport, 'forward'>;
  /** The leader as of the last Ready (NO_NODE when unknown). */
  leader(): NodeId;
  /** Throws unless this node is a member that was not removed. */
  requireMember(): void;
}

export class LeaderForwarding {
  private handler: ForwardHandler | null = null;

  constructor(private readonly deps: LeaderForwardingDeps) {}

  setHandler(handler: ForwardHandler): void {
    this.handler = handler;
  }

  async toLeader(req: ForwardedRequest, timeoutMs: number): Promise<ForwardedResponse> {
    this.deps.requireMember();
    const leader = this.deps.leader();
    if (leader === NO_NODE) throw new NoLeaderError();
    if (leader === this.deps.memberId) throw new NotLeaderError('leadership is changing; retry');
    try {
      return await this.deps.transport.forward(leader, req, timeoutMs);
    } catch (err) {
      throw new UnavailableError(`forwarding to the leader ${leader} failed: ${(err as Error).message}`, 'forward_failed');
    }
  }

  /** A request another member forwarded here. */
  async serve(req: ForwardedRequest): Promise<ForwardedResponse> {
    if (!this.handler) return { status: 503, headers: { 'content-type': 'application/json' }, body: Buffer.from('{"error":"starting","code":"not_ready"}') };
    return this.handler(req);
  }
}
