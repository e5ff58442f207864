import type { Message, NodeId } from './types.js';

export interface ReadIndexStatus {
  /** The original request: a local one has from = '' or the leader's id. */
  req: Message;
  index: number;
  ctx: Uint8Array;
  acks: Set<NodeId>;
}

/** A map key for a context: one char per byte (every heartbeat ack looks one up). */
export function contextKey(ctx: Uint8Array): string {
  if (ctx.length <= 64) return String.fromCharCode.apply(null, ctx as unknown as number[]);
  let s = '';
  for (let i = 0; i < ctx.length; i += 64) s += contextKey(ctx.subarray(i, i + 64));
  return s;
}

/** ReadIndex requests waiting for a quorum of heartbeat acks that confirm the leadership. */
export class ReadOnly {
  private pending = new Map<string, ReadIndexStatus>();
  private queue: string[] = [];
  /** Members that acknowledged read contexts, the most recent first. */
  private confirmers: NodeId[] = [];

  /** Returns false if a request with the same context is already pending. */
  addRequest(index: number, req: Message, ctx: Uint8Array): boolean {
    const key = contextKey(ctx);
    if (this.pending.has(key)) return false;
    this.pending.set(key, { req, index, ctx, acks: new Set() });
    this.queue.push(key);
    return true;
  }

  /** Records an ack for the request with this context; returns its acks (undefined if unknown). */
  recvAck(id: NodeId, ctx: Uint8Array): Set<NodeId> | undefined {
    const st = this.pending.get(contextKey(ctx));
    if (!st) return undefined;
    st.acks.add(id);
    return st.acks;
  }

  /** Releases the request with this context and every request queued before it. */
  advance(ctx: Uint8Array): ReadIndexStatus[] {
    const key = contextKey(ctx);
    const at = this.queue.indexOf(key);
    if (at < 0) return [];
    const done = this.queue.splice(0, at + 1);
    const out: ReadIndexStatus[] = [];
    for (const k of done) {
      const st = this.pending.get(k);
      if (st) out.push(st);
      this.pending.delete(k);
    }
    return out;
  }

  /** The context of the newest pending request (re-sent with heartbeats until acknowledged). */
  lastPendingContext(): Uint8Array | undefined {
    const key = this.queue[this.queue.length - 1];
    return key === undefined ? undefined : this.pending.get(key)?.ctx;
  }

  /** `id` acknowledged a read context: ask it first next time. */
  noteConfirmer(id: NodeId): void {
    if (this.confirmers[0] === id) return;
    const at = this.confirmers.indexOf(id);
    if (at >= 0) this.confirmers.splice(at, 1);
    this.confirmers.unshift(id);
  }

  /** `voters`, those that acknowledged a read most recently first, then the others in their order. */
  confirmersByRecency(voters: ReadonlySet<NodeId>): NodeId[] {
    this.confirmers = this.confirmers.filter((id) => voters.has(id));
    const known = new Set(this.confirmers);
    return [...this.confirmers, ...[...voters].filter((id) => !known.has(id))];
  }

  get size(): number {
    return this.queue.length;
  }

  reset(): void {
    this.pending.clear();
    this.queue = [];
  }
}
