/**
 * Spots a removed member that never learned it was removed (it was down when its removal
 * committed and the leader gave up telling it): it keeps sending Raft messages, typically
 * pre-votes, and the leader tells it again. The etcd answer to the same problem is a
 * "member removed" reply to its messages.
 */
import type { Message, NodeId, Status } from './raft/index.js';

/**
 * Whether `messages` from `from` prove that a former member is talking to this node. Only a
 * leader that has applied every conf change its log may hold decides: a wrong answer is
 * permanent (the member records the removal in its data dir and never rejoins with it), and a
 * lagging follower may simply not have applied a member's addition yet. A member being added is
 * in the leader's configuration before it hears anything from the cluster (the leader contacts
 * it only after applying the addition), so it cannot be mistaken for a removed one. The sender
 * must also show a log of its own: a node that never had one never belonged to the cluster.
 */
export function isRemovedSender(st: Status, from: NodeId, messages: readonly Message[]): boolean {
  if (st.role !== 'leader' || st.pendingConfIndex === undefined || st.applied < st.pendingConfIndex) return false;
  if (from === st.id || st.config.voters.includes(from) || st.config.learners.includes(from)) return false;
  return messages.some((m) => m.from === from && (m.index > 0 || m.logTerm > 0));
}

/** At most one notice per sender per interval; a bounded memory of whom it told recently. */
export class RemovedSenderNotices {
  private readonly lastTold = new Map<NodeId, number>();

  constructor(
    private readonly intervalMs: number,
    private readonly maxRemembered = 64,
  ) {}

  /** True when `id` may be told now (and records it as told at `now`). */
  take(id: NodeId, now: number): boolean {
    const last = this.lastTold.get(id);
    if (last !== undefined && now - last < this.intervalMs) return false;
    this.lastTold.delete(id);
    if (this.lastTold.size >= this.maxRemembered) this.forgetOlderThan(now - this.intervalMs);
    if (this.lastTold.size >= this.maxRemembered) return false;
    this.lastTold.set(id, now);
    return true;
  }

  private forgetOlderThan(cutoff: number): void {
    for (const [id, at] of this.lastTold) if (at <= cutoff) this.lastTold.delete(id);
  }
}
