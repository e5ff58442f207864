import type { ConfChange, ConfState, NodeId } from '../raft/index.js';

export type MemberRole = 'voter' | 'learner';

export interface Member {
  id: NodeId;
  name: string;
  /** host:port that peers dial. */
  peerAddress: string;
  role: MemberRole;
}

/** What the node puts in a ConfChange's context when it adds a member. */
export interface MemberContext {
  name: string;
  peerAddress: string;
}

export function encodeMemberContext(ctx: MemberContext): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ name: ctx.name, peerAddress: ctx.peerAddress }));
}

/** Parses a ConfChange context; null when it is empty or not the expected JSON (never throws). */
export function parseMemberContext(context: Uint8Array): MemberContext | null {
  if (context.length === 0) return null;
  try {
    const raw = JSON.parse(new TextDecoder().decode(context)) as Record<string, unknown>;
    if (typeof raw?.name === 'string' && typeof raw.peerAddress === 'string') return { name: raw.name, peerAddress: raw.peerAddress };
  } catch {
    // fall through: an unreadable context leaves the name and address unknown
  }
  return null;
}

/**
 * The members registry after one conf change: name and address come from the change's
 * context (kept from before when it has none), membership and roles from the ConfState the
 * core returned, which is the authority. Deterministic on every member.
 */
export function applyMemberChange(before: ReadonlyMap<NodeId, Member>, change: ConfChange | undefined, confState: ConfState): Map<NodeId, Member> {
  const next = new Map(before);
  if (change) {
    const ctx = parseMemberContext(change.context);
    const old = next.get(change.nodeId);
    if (change.type === 'remove') {
      next.delete(change.nodeId);
    } else {
      next.set(change.nodeId, {
        id: change.nodeId,
        name: ctx?.name ?? old?.name ?? '',
        peerAddress: ctx?.peerAddress ?? old?.peerAddress ?? '',
        role: change.type === 'addLearner' ? 'learner' : 'voter',
      });
    }
  }
  const roles = new Map<NodeId, MemberRole>();
  for (const id of confState.learners) roles.set(id, 'learner');
  for (const id of confState.voters) roles.set(id, 'voter');
  for (const id of [...next.keys()]) if (!roles.has(id)) next.delete(id);
  for (const [id, role] of roles) {
    const m = next.get(id);
    next.set(id, m ? { ...m, role } : { id, name: '', peerAddress: '', role });
  }
  return next;
}

export function encodeMembers(members: ReadonlyMap<NodeId, Member>): Buffer {
  return Buffer.from(JSON.stringify([...members.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))), 'utf8');
}

export function decodeMembers(buf: Uint8Array): Map<NodeId, Member> {
  const list = JSON.parse(Buffer.from(buf).toString('utf8')) as Member[];
  if (!Array.isArray(list)) throw new Error('members record is not a list');
  return new Map(list.map((m) => [m.id, m]));
}

export function encodeConfState(cs: ConfState): Buffer {
  return Buffer.from(JSON.stringify({ voters: cs.voters, learners: cs.learners }), 'utf8');
}

export function decodeConfState(buf: Uint8Array): ConfState {
  const cs = JSON.parse(Buffer.from(buf).toString('utf8')) as ConfState;
  if (!Array.isArray(cs?.voters) || !Array.isArray(cs.learners)) throw new Error('conf state record misses voters or learners');
  return { voters: [...cs.voters], learners: [...cs.learners] };
}
