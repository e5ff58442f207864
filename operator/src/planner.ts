// The membership planner: a pure function from everything the operator can observe about one
// RaftCluster to the ONE next step. It keeps no state of its own, so an operator that crashes
// between two steps re-derives the same plan from what the API server and the Raft leader report.
import type { NodeMember, NodeStatus } from './types.js';

export interface ObservedPod {
  name: string;
  uid?: string;
  ordinal: number;
  phase: string;
  ready: boolean;
  ip?: string;
  deleting: boolean;
  image?: string;
}

export interface ObservedPvc {
  name: string;
  deleting: boolean;
}

export interface LeaderView {
  id: string;
  clusterId: string;
  lastIndex: number;
  commit: number;
  configIndex?: number;
  members: NodeMember[];
}

export interface PlannerInput {
  name: string;
  namespace: string;
  spec: { replicas: number; image: string; paused?: boolean };
  /** status.bootstrapped: pod 0 was already told to bootstrap. */
  bootstrapped: boolean;
  /** null when the StatefulSet does not exist yet. */
  statefulSet: { replicas: number } | null;
  pods: ObservedPod[];
  pvcs: ObservedPvc[];
  /** `GET /v1/status` per pod name; null or absent when the pod could not be asked. */
  nodes: Record<string, NodeStatus | null>;
  /** The leader's `GET /v1/members` view; null when no leader could be found. */
  leader: LeaderView | null;
  options?: Partial<PlannerOptions>;
}

export interface PlannerOptions {
  /** A member the leader heard from within this many ms counts as healthy. */
  healthyContactMs: number;
  /** A member whose match index is within this many entries of the leader's last index is caught up. */
  catchUpGap: number;
}

export const DEFAULT_PLANNER_OPTIONS: PlannerOptions = { healthyContactMs: 5_000, catchUpGap: 100 };

export type WaitReason =
  | 'Paused'
  | 'WaitingForPod'
  | 'NoLeader'
  | 'LearnerCatchingUp'
  | 'QuorumAtRisk'
  | 'NoTransferTarget'
  | 'PodTerminating'
  | 'ForeignCluster'
  | 'WaitingForHealthy';

export type Action =
  | { type: 'createObjects'; replicas: number }
  | { type: 'bootstrap'; pod: string }
  | { type: 'addLearner'; pod: string; id: string; peerAddress: string }
  | { type: 'promote'; pod: string; id: string }
  | { type: 'transferLeadership'; from: string; to: string; fromPod: string; toPod: string; reason: 'scaleDown' | 'upgrade' | 'replace' }
  | { type: 'removeMember'; id: string; pod: string; reason: 'scaleDown' | 'replace' | 'orphanLearner' }
  | { type: 'scaleStatefulSet'; replicas: number }
  | { type: 'deletePvc'; name: string }
  | { type: 'deletePodForUpgrade'; pod: string }
  /** A pod holding data of a member that was removed: delete its PVC, then the pod, so it rejoins fresh. */
  | { type: 'recyclePod'; pod: string; pvc: string }
  | { type: 'wait'; reason: WaitReason; message: string }
  | { type: 'none' };

export const PVC_TEMPLATE_NAME = 'data';

export function pvcName(cluster: string, ordinal: number): string {
  return `${PVC_TEMPLATE_NAME}-${cluster}-${ordinal}`;
}

export function podName(cluster: string, ordinal: number): string {
  return `${cluster}-${ordinal}`;
}

export function peerAddress(cluster: string, namespace: string, pod: string): string {
  return `${pod}.${cluster}-peers.${namespace}.svc.cluster.local:7000`;
}

/** The ordinal of a pod (or member) name of this cluster, or null for a foreign name. */
export function ordinalOf(cluster: string, name: string): number | null {
  const prefix = `${cluster}-`;
  if (!name.startsWith(prefix)) return null;
  const rest = name.slice(prefix.length);
  return /^(0|[1-9][0-9]*)$/.test(rest) ? Number(rest) : null;
}

function pvcOrdinal(cluster: string, name: string): number | null {
  const prefix = `${PVC_TEMPLATE_NAME}-`;
  return name.startsWith(prefix) ? ordinalOf(cluster, name.slice(prefix.length)) : null;
}

export function quorum(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

export interface Health {
  voters: NodeMember[];
  learners: NodeMember[];
  healthy: Set<string>;
  caughtUp: Set<string>;
  healthyVoters: number;
  /** How many more voters may fail before quorum is lost. */
  faultTolerance: number;
}

/**
 * Health as the leader sees it. When the leader does not report a member's last contact or match
 * index, the readiness of the member's pod stands in (the node's promote check still guards catch-up).
 */
export function assessHealth(leader: LeaderView, options: PlannerOptions, readyPods?: ReadonlySet<string>): Health {
  const voters = leader.members.filter((m) => m.role === 'voter');
  const learners = leader.members.filter((m) => m.role === 'learner');
  const healthy = new Set<string>();
  const caughtUp = new Set<string>();
  for (const m of leader.members) {
    const isLeader = m.id === leader.id;
    const contact = isLeader ? 0 : m.lastContactMs;
    if (contact !== undefined ? contact <= options.healthyContactMs : (readyPods?.has(m.name) ?? false)) healthy.add(m.id);
    const match = isLeader ? leader.lastIndex : m.matchIndex;
    if (match !== undefined ? leader.lastIndex - match <= options.catchUpGap : (readyPods?.has(m.name) ?? false)) caughtUp.add(m.id);
  }
  const healthyVoters = voters.filter((v) => healthy.has(v.id)).length;
  const faultTolerance = Math.max(0, healthyVoters - quorum(voters.length));
  return { voters, learners, healthy, caughtUp, healthyVoters, faultTolerance };
}

/** True when removing voter `id` lets both the change commit (old config) and the new config keep a healthy quorum. */
function safeToRemoveVoter(health: Health, id: string): boolean {
  const after = health.voters.filter((v) => v.id !== id);
  if (after.length === 0) return false;
  const healthyAfter = after.filter((v) => health.healthy.has(v.id)).length;
  return health.healthyVoters >= quorum(health.voters.length) && healthyAfter >= quorum(after.length);
}

export function readyPods(input: PlannerInput): Set<string> {
  return new Set(input.pods.filter((p) => p.ready && !p.deleting).map((p) => p.name));
}

type WaitAction = Extract<Action, { type: 'wait' }>;

function wait(reason: WaitReason, message: string): WaitAction {
  return { type: 'wait', reason, message };
}

/** The best voter to hand leadership to: healthy, caught up, not `from`, preferring wanted ordinals and the new image. */
function transferTarget(input: PlannerInput, health: Health, from: string): NodeMember | null {
  const candidates = health.voters.filter((v) => v.id !== from && health.healthy.has(v.id) && health.caughtUp.has(v.id));
  const score = (m: NodeMember): number[] => {
    const ord = ordinalOf(input.name, m.name);
    const pod = input.pods.find((p) => p.name === m.name);
    return [
      ord !== null && ord < input.spec.replicas ? 0 : 1,
      pod && pod.image === input.spec.image ? 0 : 1,
      pod?.ready ? 0 : 1,
      -(m.matchIndex ?? 0),
      ord ?? Number.MAX_SAFE_INTEGER,
    ];
  };
  candidates.sort((a, b) => {
    const sa = score(a);
    const sb = score(b);
    for (let i = 0; i < sa.length; i++) if (sa[i] !== sb[i]) return (sa[i] ?? 0) - (sb[i] ?? 0);
    return 0;
  });
  return candidates[0] ?? null;
}

function transferAway(input: PlannerInput, health: Health, leader: NodeMember, reason: 'scaleDown' | 'upgrade' | 'replace'): Action {
  const to = transferTarget(input, health, leader.id);
  if (!to) return wait('NoTransferTarget', `no healthy, caught-up voter to take leadership from ${leader.name}`);
  return { type: 'transferLeadership', from: leader.id, to: to.id, fromPod: leader.name, toPod: to.name, reason };
}

export function plan(input: PlannerInput): Action {
  const options: PlannerOptions = { ...DEFAULT_PLANNER_OPTIONS, ...input.options };
  const { name, spec } = input;
  const desired = spec.replicas;
  if (spec.paused) return wait('Paused', 'spec.paused is true; no changes are made');
  if (!input.statefulSet) return { type: 'createObjects', replicas: 1 };
  const stsReplicas = input.statefulSet.replicas;
  const podsByName = new Map(input.pods.map((p) => [p.name, p]));
  const reachable = (pod: ObservedPod | undefined): NodeStatus | null =>
    pod && !pod.deleting && pod.ip ? (input.nodes[pod.name] ?? null) : null;

  // create: bootstrap pod 0 once, and never when any node shows the cluster already exists.
  // Pods beyond 0 only ever exist once the cluster was formed, so they (or their volumes) prove it too.
  const formed =
    input.bootstrapped ||
    input.leader !== null ||
    Object.values(input.nodes).some((n) => n && n.clusterId !== '') ||
    stsReplicas > 1 ||
    input.pvcs.some((p) => (pvcOrdinal(name, p.name) ?? 0) > 0);
  if (!formed) {
    const pod0 = podsByName.get(podName(name, 0));
    const status0 = reachable(pod0);
    if (!pod0 || !status0) return wait('WaitingForPod', `waiting for ${podName(name, 0)} to report its member ID`);
    return { type: 'bootstrap', pod: pod0.name };
  }
  const leader = input.leader;
  if (!leader) return wait('NoLeader', 'no member reports a leader; waiting for an election');
  const health = assessHealth(leader, options, readyPods(input));
  const members = leader.members;
  const memberIds = new Set(members.map((m) => m.id));
  const memberByName = new Map(members.map((m) => [m.name, m]));
  const leaderMember = members.find((m) => m.id === leader.id);
  if (!leaderMember) return wait('NoLeader', 'the leader is missing from its own member list');

  // replace: a pod reports a new member ID for a name whose old ID is still a member.
  for (const pod of [...input.pods].sort((a, b) => a.ordinal - b.ordinal)) {
    if (pod.ordinal >= stsReplicas) continue;
    const node = reachable(pod);
    const old = memberByName.get(pod.name);
    if (!node || !old || old.id === node.id || memberIds.has(node.id)) continue;
    if (old.id === leader.id) return transferAway(input, health, old, 'replace');
    if (old.role === 'voter' && !safeToRemoveVoter(health, old.id)) {
      return wait('QuorumAtRisk', `${pod.name} came back as ${node.id}; removing its old ID ${old.id} would leave too few healthy voters`);
    }
    return { type: 'removeMember', id: old.id, pod: pod.name, reason: 'replace' };
  }

  // learners: finish (promote) or drop the one in flight before anything else.
  for (const learner of [...health.learners].sort((a, b) => a.name.localeCompare(b.name))) {
    const ord = ordinalOf(name, learner.name);
    if (ord === null || ord >= desired || ord >= stsReplicas) {
      return { type: 'removeMember', id: learner.id, pod: learner.name, reason: 'orphanLearner' };
    }
    if (!health.caughtUp.has(learner.id) || !health.healthy.has(learner.id)) {
      return wait('LearnerCatchingUp', `learner ${learner.name} (${learner.id}) is catching up with the leader`);
    }
    if (health.healthyVoters + 1 < quorum(health.voters.length + 1)) {
      return wait('QuorumAtRisk', `promoting ${learner.name} would need more healthy voters than there are`);
    }
    return { type: 'promote', pod: learner.name, id: learner.id };
  }

  // replacements for wanted pods join before surplus members leave, so a leadership transfer has a target.
  const early = joinStep(input, leader.clusterId, memberByName, memberIds, reachable, Math.min(stsReplicas, desired));
  if (early && early.type !== 'wait') return early;

  // scale down, finishing each member before the next: shrink the StatefulSet past a removed
  // member's pod, delete its volume, and only then remove the next-highest member.
  const top = stsReplicas - 1;
  if (top >= Math.max(desired, 1) && !memberByName.has(podName(name, top))) {
    return { type: 'scaleStatefulSet', replicas: top };
  }
  // a removed member's volume is deleted once its pod is gone, so stale data can never rejoin.
  for (const pvc of input.pvcs) {
    const ord = pvcOrdinal(name, pvc.name);
    if (ord === null || ord < stsReplicas || pvc.deleting) continue;
    const pod = podName(name, ord);
    if (memberByName.has(pod)) continue;
    if (podsByName.has(pod)) return wait('PodTerminating', `waiting for ${pod} to terminate before deleting ${pvc.name}`);
    return { type: 'deletePvc', name: pvc.name };
  }
  const surplus = health.voters
    .map((v) => ({ v, ord: ordinalOf(name, v.name) }))
    .filter((x): x is { v: NodeMember; ord: number } => x.ord !== null && x.ord >= desired)
    .sort((a, b) => b.ord - a.ord);
  const victim = surplus[0];
  if (victim) {
    if (victim.v.id === leader.id) return transferAway(input, health, victim.v, 'scaleDown');
    if (!safeToRemoveVoter(health, victim.v.id)) {
      return wait('QuorumAtRisk', `removing ${victim.v.name} would leave too few healthy voters for a quorum`);
    }
    return { type: 'removeMember', id: victim.v.id, pod: victim.v.name, reason: 'scaleDown' };
  }

  // join: every wanted pod becomes a learner, lowest ordinal first.
  const join = joinStep(input, leader.clusterId, memberByName, memberIds, reachable, Math.min(stsReplicas, desired));
  if (join) return join;

  // scale up: one pod at a time, only when every current pod is a voter.
  if (stsReplicas < desired) return { type: 'scaleStatefulSet', replicas: stsReplicas + 1 };

  // upgrade: one pod at a time, followers first, the leader last after a transfer.
  const outdated = input.pods.filter((p) => p.ordinal < stsReplicas && p.image !== undefined && p.image !== spec.image);
  if (outdated.length > 0) {
    const blocker = restartBlocker(name, input.pods, stsReplicas);
    if (blocker) return blocker;
    const lagging = members.find((m) => !health.healthy.has(m.id) || !health.caughtUp.has(m.id));
    if (lagging) return wait('WaitingForHealthy', `waiting for ${lagging.name} to be healthy and caught up before upgrading`);
    if (health.voters.length > 1 && health.faultTolerance < 1) {
      return wait('QuorumAtRisk', 'restarting a member now would lose quorum');
    }
    const follower = outdated.filter((p) => p.name !== leaderMember.name).sort((a, b) => a.ordinal - b.ordinal)[0];
    if (follower) return { type: 'deletePodForUpgrade', pod: follower.name };
    if (health.voters.length > 1) return transferAway(input, health, leaderMember, 'upgrade');
    return { type: 'deletePodForUpgrade', pod: leaderMember.name };
  }
  return { type: 'none' };
}

/**
 * Why no pod may be restarted now, or null: every wanted pod must exist, be ready and not be
 * terminating. A pod the StatefulSet has not recreated yet counts too: the leader may still
 * report its member healthy for a while after it went away.
 */
export function restartBlocker(cluster: string, pods: readonly ObservedPod[], stsReplicas: number): WaitAction | null {
  const terminating = pods.find((p) => p.deleting);
  if (terminating) return wait('PodTerminating', `waiting for ${terminating.name} to be replaced`);
  for (let ord = 0; ord < stsReplicas; ord++) {
    const pod = pods.find((p) => p.ordinal === ord);
    if (!pod) return wait('WaitingForPod', `waiting for ${podName(cluster, ord)} to be recreated before restarting another pod`);
    if (!pod.ready) return wait('WaitingForHealthy', `waiting for ${pod.name} to be ready before restarting another pod`);
  }
  return null;
}

function joinStep(
  input: PlannerInput,
  clusterId: string,
  memberByName: Map<string, NodeMember>,
  memberIds: Set<string>,
  reachable: (pod: ObservedPod | undefined) => NodeStatus | null,
  upTo: number,
): Action | null {
  const { name } = input;
  for (let ord = 0; ord < upTo; ord++) {
    const pod = podName(name, ord);
    if (memberByName.has(pod)) continue;
    const node = reachable(input.pods.find((p) => p.name === pod));
    if (!node) return wait('WaitingForPod', `waiting for ${pod} to report its member ID`);
    if (memberIds.has(node.id)) continue; // known under another name; nothing safe to do automatically
    if (node.clusterId !== '' && node.clusterId !== clusterId) {
      return wait('ForeignCluster', `${pod} belongs to cluster ${node.clusterId}, not ${clusterId}`);
    }
    // It was removed earlier (e.g. a scale-down undone before the shrink): its data must not rejoin.
    if (node.clusterId !== '') return { type: 'recyclePod', pod, pvc: pvcName(name, ord) };
    return { type: 'addLearner', pod, id: node.id, peerAddress: peerAddress(name, input.namespace, pod) };
  }
  return null;
}
