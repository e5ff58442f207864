// Status, conditions and Events derived from one observation and the step planned from it.
import { assessHealth, DEFAULT_PLANNER_OPTIONS, quorum, readyPods, type Action, type PlannerInput } from './planner.js';
import type { Condition, ConditionType, RaftCluster, RaftClusterStatus } from './types.js';

export interface EventSpec {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

const WARNING_WAITS = new Set(['QuorumAtRisk', 'NoLeader', 'NoTransferTarget', 'ForeignCluster']);

const capitalise = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

export function describeAction(action: Action): string {
  switch (action.type) {
    case 'createObjects': return 'creating the StatefulSet, Services and PodDisruptionBudget';
    case 'bootstrap': return `bootstrapping a new cluster on ${action.pod}`;
    case 'addLearner': return `adding ${action.pod} (${action.id}) as a learner`;
    case 'promote': return `promoting learner ${action.pod} (${action.id}) to voter`;
    case 'transferLeadership': return `transferring leadership from ${action.fromPod} to ${action.toPod} (${action.reason})`;
    case 'removeMember': return `removing member ${action.pod} (${action.id}) (${action.reason})`;
    case 'scaleStatefulSet': return `setting StatefulSet replicas to ${action.replicas}`;
    case 'deletePvc': return `deleting PersistentVolumeClaim ${action.name} of a removed member`;
    case 'deletePodForUpgrade': return `restarting ${action.pod} on the new image`;
    case 'recyclePod': return `recreating ${action.pod} with an empty volume (its old member was removed)`;
    case 'wait': return action.message;
    case 'none': return 'the cluster matches its spec';
  }
}

export function actionTarget(action: Action): string {
  switch (action.type) {
    case 'bootstrap': case 'addLearner': case 'promote': case 'removeMember': case 'deletePodForUpgrade': case 'recyclePod':
      return action.pod;
    case 'transferLeadership': return action.fromPod;
    case 'deletePvc': return action.name;
    case 'scaleStatefulSet': return String(action.replicas);
    default: return '';
  }
}

/** The Event recorded for a step, or null when the step deserves none. */
export function eventFor(action: Action): EventSpec | null {
  if (action.type === 'none') return null;
  if (action.type === 'wait') {
    return WARNING_WAITS.has(action.reason) ? { type: 'Warning', reason: action.reason, message: action.message } : null;
  }
  return { type: 'Normal', reason: capitalise(action.type), message: capitalise(describeAction(action)) };
}

function phaseOf(action: Action, input: PlannerInput, previous: string | undefined, voters: number, allHealthy: boolean): string {
  const growingFromScratch = (previous === undefined || previous === 'Pending' || previous === 'Creating') && voters < input.spec.replicas;
  switch (action.type) {
    case 'none': return allHealthy ? 'Running' : 'Degraded';
    case 'createObjects': return 'Pending';
    case 'bootstrap': return 'Creating';
    case 'deletePodForUpgrade': return 'Upgrading';
    case 'recyclePod': return 'Replacing';
    case 'transferLeadership': return action.reason === 'upgrade' ? 'Upgrading' : action.reason === 'replace' ? 'Replacing' : 'Scaling';
    case 'removeMember': return action.reason === 'replace' ? 'Replacing' : 'Scaling';
    case 'wait':
      if (action.reason === 'Paused') return 'Paused';
      if (action.reason === 'NoLeader' || action.reason === 'QuorumAtRisk') return input.leader || input.bootstrapped ? 'Degraded' : 'Pending';
      return growingFromScratch ? (input.bootstrapped || input.leader ? 'Creating' : 'Pending') : (previous ?? 'Pending');
    default: return growingFromScratch ? 'Creating' : 'Scaling';
  }
}

function condition(previous: Condition[] | undefined, type: ConditionType, status: Condition['status'], reason: string, message: string, now: string, generation: number | undefined): Condition {
  const prev = previous?.find((c) => c.type === type);
  const lastTransitionTime = prev && prev.status === status ? prev.lastTransitionTime : now;
  return { type, status, reason, message, lastTransitionTime, ...(generation !== undefined ? { observedGeneration: generation } : {}) };
}

export function computeStatus(cluster: RaftCluster, input: PlannerInput, action: Action, now: Date, selector: string, bootstrapped: boolean): RaftClusterStatus {
  const prev = cluster.status ?? {};
  const nowIso = now.toISOString();
  const generation = cluster.metadata.generation;
  const options = { ...DEFAULT_PLANNER_OPTIONS, ...input.options };
  const leader = input.leader;
  const health = leader ? assessHealth(leader, options, readyPods(input)) : null;
  const voters = health?.voters.length ?? 0;
  const leaderName = leader?.members.find((m) => m.id === leader.id)?.name ?? '';
  const readyReplicas = input.pods.filter((p) => p.ready && !p.deleting).length;

  const available = health !== null && health.healthyVoters >= quorum(voters);
  const unhealthy = health ? health.voters.filter((v) => !health.healthy.has(v.id)).map((v) => v.name || v.id) : [];
  const degradedByWait = action.type === 'wait' && (action.reason === 'QuorumAtRisk' || action.reason === 'NoLeader') && (input.bootstrapped || leader !== null);
  const degraded = unhealthy.length > 0 || degradedByWait;
  const progressing = action.type !== 'none';

  const conditions: Condition[] = [
    condition(prev.conditions, 'Available', available ? 'True' : 'False',
      available ? 'QuorumAvailable' : leader ? 'QuorumLost' : 'NoLeader',
      available ? `leader ${leaderName}, ${health?.healthyVoters} of ${voters} voters healthy` : leader ? 'too few healthy voters for a quorum' : 'no reachable leader',
      nowIso, generation),
    condition(prev.conditions, 'Progressing', progressing ? 'True' : 'False',
      action.type === 'none' ? 'Reconciled' : action.type === 'wait' ? action.reason : capitalise(action.type),
      describeAction(action), nowIso, generation),
    condition(prev.conditions, 'Degraded', degraded ? 'True' : 'False',
      degraded ? (unhealthy.length > 0 ? 'MembersUnhealthy' : (action as { reason: string }).reason) : 'AllMembersHealthy',
      degraded ? (unhealthy.length > 0 ? `unhealthy voters: ${unhealthy.join(', ')}` : describeAction(action)) : 'every voter is healthy',
      nowIso, generation),
  ];

  let operation = prev.operation;
  if (action.type === 'none') operation = undefined;
  else if (action.type !== 'wait') {
    const on = actionTarget(action);
    operation = prev.operation && prev.operation.what === action.type && prev.operation.on === on ? prev.operation : { what: action.type, on, since: nowIso };
  }

  const status: RaftClusterStatus = {
    observedGeneration: generation,
    phase: phaseOf(action, input, prev.phase, voters, unhealthy.length === 0 && readyReplicas >= voters),
    replicas: voters,
    readyReplicas,
    leader: leaderName,
    bootstrapped,
    members: leader
      ? leader.members.map((m) => ({ id: m.id, name: m.name, role: m.role, healthy: health?.healthy.has(m.id) ?? false, matchIndex: m.id === leader.id ? leader.lastIndex : (m.matchIndex ?? 0) }))
      : (prev.members ?? []),
    faultTolerance: health?.faultTolerance ?? 0,
    configIndex: leader ? (leader.configIndex ?? leader.commit) : (prev.configIndex ?? 0),
    selector,
    conditions,
  };
  const clusterId = leader?.clusterId || prev.clusterId;
  if (clusterId) status.clusterId = clusterId;
  if (operation) status.operation = operation;
  return status;
}
