// The Kubernetes objects the operator owns for one RaftCluster, built as server-side-apply bodies.
import type { V1OwnerReference, V1PodDisruptionBudget, V1Service, V1StatefulSet, V1Affinity } from '@kubernetes/client-node';
import { PVC_TEMPLATE_NAME } from './planner.js';
import { API_VERSION, HTTP_PORT, KIND, PEER_PORT, type RaftCluster } from './types.js';

export const DATA_DIR = '/var/lib/kuorum';
export const MANAGED_BY = 'kuorum-operator';

export function selectorLabels(cluster: RaftCluster): Record<string, string> {
  return { 'app.kubernetes.io/name': 'kuorum', 'app.kubernetes.io/instance': cluster.metadata.name };
}

export function labels(cluster: RaftCluster): Record<string, string> {
  return { ...selectorLabels(cluster), 'app.kubernetes.io/managed-by': MANAGED_BY };
}

export function selectorString(cluster: RaftCluster): string {
  return Object.entries(selectorLabels(cluster)).map(([k, v]) => `${k}=${v}`).join(',');
}

export function ownerReference(cluster: RaftCluster): V1OwnerReference {
  return { apiVersion: API_VERSION, kind: KIND, name: cluster.metadata.name, uid: cluster.metadata.uid, controller: true, blockOwnerDeletion: true };
}

function meta(cluster: RaftCluster, name: string) {
  return { name, namespace: cluster.metadata.namespace, labels: labels(cluster), ownerReferences: [ownerReference(cluster)] };
}

export function peerServiceName(cluster: RaftCluster): string {
  return `${cluster.metadata.name}-peers`;
}

function defaultAffinity(cluster: RaftCluster): V1Affinity {
  return {
    podAntiAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [
        { weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: selectorLabels(cluster) } } },
      ],
    },
  };
}

export function buildStatefulSet(cluster: RaftCluster, replicas: number): V1StatefulSet {
  const { spec } = cluster;
  const c = cluster.metadata.name;
  const ns = cluster.metadata.namespace;
  const raft = spec.raft ?? {};
  const env = [
    { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: 'KUORUM_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: 'KUORUM_DATA_DIR', value: DATA_DIR },
    { name: 'KUORUM_LISTEN_PEER', value: `0.0.0.0:${PEER_PORT}` },
    { name: 'KUORUM_LISTEN_HTTP', value: `0.0.0.0:${HTTP_PORT}` },
    { name: 'KUORUM_ADVERTISE_PEER', value: `$(POD_NAME).${c}-peers.${ns}.svc.cluster.local:${PEER_PORT}` },
    { name: 'KUORUM_ELECTION_TIMEOUT', value: String(raft.electionTimeoutMs ?? 1000) },
    { name: 'KUORUM_HEARTBEAT_INTERVAL', value: String(raft.heartbeatIntervalMs ?? 100) },
    { name: 'KUORUM_SNAPSHOT_THRESHOLD', value: String(raft.snapshotThreshold ?? 10000) },
  ];
  const storage = spec.storage ?? {};
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: meta(cluster, c),
    spec: {
      replicas,
      serviceName: peerServiceName(cluster),
      podManagementPolicy: 'Parallel',
      updateStrategy: { type: 'OnDelete' },
      selector: { matchLabels: selectorLabels(cluster) },
      persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Delete', whenScaled: 'Retain' },
      template: {
        metadata: { labels: labels(cluster) },
        spec: {
          affinity: spec.affinity ? (spec.affinity as V1Affinity) : defaultAffinity(cluster),
          ...(spec.nodeSelector ? { nodeSelector: spec.nodeSelector } : {}),
          ...(spec.tolerations ? { tolerations: spec.tolerations } : {}),
          terminationGracePeriodSeconds: 30,
          containers: [
            {
              name: 'kuorum',
              image: spec.image,
              imagePullPolicy: spec.imagePullPolicy ?? 'IfNotPresent',
              env,
              ports: [
                { name: 'peer', containerPort: PEER_PORT, protocol: 'TCP' },
                { name: 'http', containerPort: HTTP_PORT, protocol: 'TCP' },
              ],
              readinessProbe: { httpGet: { path: '/readyz', port: 'http' }, periodSeconds: 5, failureThreshold: 3 },
              livenessProbe: { httpGet: { path: '/livez', port: 'http' }, periodSeconds: 10, failureThreshold: 6, initialDelaySeconds: 5 },
              ...(spec.resources ? { resources: spec.resources } : {}),
              volumeMounts: [{ name: PVC_TEMPLATE_NAME, mountPath: DATA_DIR }],
            },
          ],
        },
      },
      volumeClaimTemplates: [
        {
          apiVersion: 'v1',
          kind: 'PersistentVolumeClaim',
          metadata: { name: PVC_TEMPLATE_NAME, labels: labels(cluster) },
          spec: {
            accessModes: ['ReadWriteOnce'],
            resources: { requests: { storage: storage.size ?? '1Gi' } },
            ...(storage.storageClassName ? { storageClassName: storage.storageClassName } : {}),
          },
        },
      ],
    },
  } as V1StatefulSet;
}

export function buildPeerService(cluster: RaftCluster): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(cluster, peerServiceName(cluster)),
    spec: {
      clusterIP: 'None',
      publishNotReadyAddresses: true,
      selector: selectorLabels(cluster),
      ports: [
        { name: 'peer', port: PEER_PORT, targetPort: 'peer' },
        { name: 'http', port: HTTP_PORT, targetPort: 'http' },
      ],
    },
  };
}

export function buildClientService(cluster: RaftCluster): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(cluster, cluster.metadata.name),
    spec: {
      type: 'ClusterIP',
      selector: selectorLabels(cluster),
      ports: [{ name: 'http', port: HTTP_PORT, targetPort: 'http' }],
    },
  };
}

export function buildPodDisruptionBudget(cluster: RaftCluster): V1PodDisruptionBudget {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: meta(cluster, cluster.metadata.name),
    spec: { maxUnavailable: 1, selector: { matchLabels: selectorLabels(cluster) } },
  };
}
