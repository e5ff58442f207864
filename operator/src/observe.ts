// Turns cached Kubernetes objects plus live node replies into the planner's input. Node statuses
// are read BEFORE the leader's member list, so a node that already knows the cluster ID was added
// in a configuration the member list then shows (no false "not a member").
import type { V1PersistentVolumeClaim, V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import { ordinalOf, type LeaderView, type ObservedPod, type PlannerInput, type PlannerOptions } from './planner.js';
import type { NodeClient } from './node-client.js';
import type { NodeStatus, RaftCluster } from './types.js';

export function observePod(cluster: string, pod: V1Pod): ObservedPod | null {
  const name = pod.metadata?.name ?? '';
  const ordinal = ordinalOf(cluster, name);
  if (ordinal === null) return null;
  const ready = pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
  const image = pod.spec?.containers.find((c) => c.name === 'kuorum')?.image;
  return {
    name,
    ordinal,
    phase: pod.status?.phase ?? 'Unknown',
    ready,
    deleting: !!pod.metadata?.deletionTimestamp,
    ...(pod.metadata?.uid ? { uid: pod.metadata.uid } : {}),
    ...(pod.status?.podIP ? { ip: pod.status.podIP } : {}),
    ...(image ? { image } : {}),
  };
}

export interface Observation {
  input: PlannerInput;
  leaderIp: string | null;
  podIps: Map<string, string>;
  errors: string[];
}

export async function observe(
  cluster: RaftCluster,
  sts: V1StatefulSet | undefined,
  pods: readonly V1Pod[],
  pvcs: readonly V1PersistentVolumeClaim[],
  nodes: NodeClient,
  options: Partial<PlannerOptions>,
): Promise<Observation> {
  const name = cluster.metadata.name;
  const observedPods = pods.map((p) => observePod(name, p)).filter((p): p is ObservedPod => p !== null);
  const podIps = new Map(observedPods.filter((p) => p.ip && !p.deleting).map((p) => [p.name, p.ip as string]));
  const errors: string[] = [];
  const statuses: Record<string, NodeStatus | null> = {};
  await Promise.all(
    [...podIps].map(async ([pod, ip]) => {
      try {
        statuses[pod] = await nodes.status(ip);
      } catch (err) {
        statuses[pod] = null;
        errors.push(`${pod}: ${(err as Error).message}`);
      }
    }),
  );
  let leader: LeaderView | null = null;
  let leaderIp: string | null = null;
  const leaders = Object.entries(statuses)
    .filter((e): e is [string, NodeStatus] => e[1] !== null && e[1].role === 'leader')
    .sort((a, b) => b[1].term - a[1].term);
  for (const [pod, st] of leaders) {
    const ip = podIps.get(pod);
    if (!ip) continue;
    try {
      const members = await nodes.members(ip);
      leader = { id: st.id, clusterId: st.clusterId, lastIndex: st.lastIndex, commit: st.commit, members, ...(st.configIndex !== undefined ? { configIndex: st.configIndex } : {}) };
      leaderIp = ip;
      break;
    } catch (err) {
      errors.push(`${pod} members: ${(err as Error).message}`);
    }
  }
  const input: PlannerInput = {
    name,
    namespace: cluster.metadata.namespace,
    spec: { replicas: cluster.spec.replicas, image: cluster.spec.image, paused: cluster.spec.paused ?? false },
    bootstrapped: cluster.status?.bootstrapped ?? false,
    statefulSet: sts ? { replicas: sts.spec?.replicas ?? 0 } : null,
    pods: observedPods,
    pvcs: pvcs.map((p) => ({ name: p.metadata?.name ?? '', deleting: !!p.metadata?.deletionTimestamp })),
    nodes: statuses,
    leader,
    // A member the leader has not heard from for three election timeouts is unhealthy.
    options: { healthyContactMs: 3 * (cluster.spec.raft?.electionTimeoutMs ?? 1000), ...options },
  };
  return { input, leaderIp, podIps, errors };
}
