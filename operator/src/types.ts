// The RaftCluster custom resource as the operator sees it, and the node API shapes it consumes.
import type { V1ObjectMeta } from '@kubernetes/client-node';

export const GROUP = 'kuorum.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'RaftCluster';
export const PLURAL = 'raftclusters';
export const FIELD_MANAGER = 'kuorum-operator';

export const PEER_PORT = 7000;
export const HTTP_PORT = 8080;

export interface RaftSpec {
  electionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  snapshotThreshold?: number;
}

export interface RaftClusterSpec {
  replicas: number;
  image: string;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  storage?: { size?: string; storageClassName?: string };
  resources?: { limits?: Record<string, string | number>; requests?: Record<string, string | number> };
  raft?: RaftSpec;
  nodeSelector?: Record<string, string>;
  tolerations?: Record<string, unknown>[];
  affinity?: Record<string, unknown>;
  paused?: boolean;
}

export type ConditionType = 'Available' | 'Progressing' | 'Degraded';

export interface Condition {
  type: ConditionType;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface MemberStatus {
  id: string;
  name: string;
  role: 'voter' | 'learner';
  healthy: boolean;
  matchIndex: number;
}

export interface RaftClusterStatus {
  observedGeneration?: number;
  phase?: string;
  replicas?: number;
  readyReplicas?: number;
  leader?: string;
  clusterId?: string;
  bootstrapped?: boolean;
  members?: MemberStatus[];
  faultTolerance?: number;
  configIndex?: number;
  operation?: { what: string; on: string; since: string };
  selector?: string;
  conditions?: Condition[];
}

export interface RaftCluster {
  apiVersion?: string;
  kind?: string;
  metadata: V1ObjectMeta & { name: string; namespace: string; uid: string };
  spec: RaftClusterSpec;
  status?: RaftClusterStatus;
}

/** `GET /v1/status` of one node, normalised. */
export interface NodeStatus {
  id: string;
  name: string;
  clusterId: string;
  role: string;
  term: number;
  leaderId: string;
  commit: number;
  applied: number;
  lastIndex: number;
  /** Index of the last applied membership change, when the node reports it. */
  configIndex?: number;
}

/** One row of the leader's `GET /v1/members`, normalised. */
export interface NodeMember {
  id: string;
  name: string;
  peerAddress: string;
  role: 'voter' | 'learner';
  /** Only known on the leader. */
  matchIndex?: number;
  /** Milliseconds since the leader last heard from this member; 0 for the leader itself. */
  lastContactMs?: number;
}
