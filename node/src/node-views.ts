/** Pure views of the core's Status for the API and metrics: readiness, the member list, transfer targets, loop gauges. */
import type { LoopGaugeValues } from './metrics.js';
import type { MemberRecord } from './node-ports.js';
import { NO_NODE, type NodeId, type Status } from './raft/index.js';
import type { MemberInfo, Readiness } from './server/node-api.js';

/**
 * For a member: the leader is ready with a quorum of voters heard from within `windowMs`; any
 * other member when it heard from a known leader within `windowMs`.
 */
export function quorumContactReadiness(st: Status, self: NodeId, lastContact: ReadonlyMap<NodeId, number>, now: number, windowMs: number): Readiness {
  if (st.role === 'leader') {
    const voters = st.config.voters;
    const recent = voters.filter((v) => v === self || now - (lastContact.get(v) ?? 0) <= windowMs).length;
    if (recent * 2 > voters.length) return { ready: true, reason: '' };
    return { ready: false, reason: `leader without a quorum: ${recent} of ${voters.length} voters heard from recently` };
  }
  if (st.leader === NO_NODE) return { ready: false, reason: 'no leader' };
  if (now - (lastContact.get(st.leader) ?? 0) > windowMs) return { ready: false, reason: `no contact with leader ${st.leader} within ${windowMs} ms` };
  return { ready: true, reason: '' };
}

/** The configuration's members with names and addresses from the registry; on the leader with match index and last contact. */
export function memberList(
  st: Status,
  registry: MemberRecord[],
  self: { id: NodeId; name: string; peerAddress: string },
  lastContact: ReadonlyMap<NodeId, number>,
  now: number,
): MemberInfo[] {
  const known = new Map<NodeId, MemberRecord>(registry.map((m) => [m.id, m]));
  return [...st.config.voters, ...st.config.learners].map((id) => {
    const rec = known.get(id);
    const info: MemberInfo = {
      id,
      name: rec?.name ?? (id === self.id ? self.name : ''),
      peerAddress: rec?.peerAddress ?? (id === self.id ? self.peerAddress : ''),
      role: st.config.learners.includes(id) ? 'learner' : 'voter',
      isLeader: id === st.leader,
    };
    if (st.progress) {
      info.matchIndex = st.progress.get(id)?.match ?? 0;
      const seen = id === self.id ? now : lastContact.get(id);
      info.lastContact = seen ? new Date(seen).toISOString() : null;
    }
    return info;
  });
}

/** The voter other than `self` with the highest match index (the leader's view). */
export function mostCaughtUpVoter(st: Status, self: NodeId): NodeId | undefined {
  let best: NodeId | undefined;
  let bestMatch = -1;
  for (const v of st.config.voters) {
    if (v === self) continue;
    const match = st.progress?.get(v)?.match ?? 0;
    if (match > bestMatch) {
      best = v;
      bestMatch = match;
    }
  }
  return best;
}

/** What the loop gauges show on a scrape (metrics.loopSource); on the leader, each follower's lag too. */
export function loopGauges(st: Status, self: NodeId, local: { appliedIndex: number; snapshotIndex: number; proposalsPending: number }): LoopGaugeValues {
  const progress = st.progress;
  return {
    term: st.term,
    isLeader: st.role === 'leader',
    hasLeader: st.leader !== NO_NODE,
    commitIndex: st.commit,
    ...local,
    ...(progress && { peerLag: [...progress].filter(([id]) => id !== self).map(([id, pr]): [string, number] => [id, Math.max(0, st.lastIndex - pr.match)]) }),
  };
}
