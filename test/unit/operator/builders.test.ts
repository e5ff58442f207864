import { describe, expect, it } from 'vitest';
import { buildClientService, buildPeerService, buildPodDisruptionBudget, buildStatefulSet, labels, selectorString } from '../../../operator/src/builders.js';
import type { RaftCluster } from '../../../operator/src/types.js';

const cluster = (spec: Partial<RaftCluster['spec']> = {}): RaftCluster => ({
  apiVersion: 'kuorum.dev/v1alpha1',
  kind: 'RaftCluster',
  metadata: { name: 'kv', namespace: 'prod', uid: 'uid-1', generation: 1 },
  spec: { replicas: 3, image: 'kuorum:1', ...spec },
});

const LABELS = { 'app.kubernetes.io/name': 'kuorum', 'app.kubernetes.io/instance': 'kv', 'app.kubernetes.io/managed-by': 'kuorum-operator' };

describe('object builders', () => {
  it('labels every object and makes the RaftCluster its controlling owner', () => {
    const c = cluster();
    for (const obj of [buildStatefulSet(c, 1), buildPeerService(c), buildClientService(c), buildPodDisruptionBudget(c)]) {
      expect(obj.metadata?.labels).toEqual(LABELS);
      expect(obj.metadata?.namespace).toBe('prod');
      expect(obj.metadata?.ownerReferences).toEqual([
        { apiVersion: 'kuorum.dev/v1alpha1', kind: 'RaftCluster', name: 'kv', uid: 'uid-1', controller: true, blockOwnerDeletion: true },
      ]);
    }
    expect(labels(c)).toEqual(LABELS);
    expect(selectorString(c)).toBe('app.kubernetes.io/name=kuorum,app.kubernetes.io/instance=kv');
  });

  it('builds the StatefulSet: Parallel, OnDelete, one PVC per pod, the replicas asked for', () => {
    const sts = buildStatefulSet(cluster({ storage: { size: '5Gi', storageClassName: 'fast' } }), 2);
    expect(sts.metadata?.name).toBe('kv');
    expect(sts.spec?.replicas).toBe(2);
    expect(sts.spec?.podManagementPolicy).toBe('Parallel');
    expect(sts.spec?.updateStrategy).toEqual({ type: 'OnDelete' });
    expect(sts.spec?.serviceName).toBe('kv-peers');
    expect(sts.spec?.selector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'kuorum', 'app.kubernetes.io/instance': 'kv' });
    expect(sts.spec?.template.metadata?.labels).toEqual(LABELS);
    const [claim] = sts.spec?.volumeClaimTemplates ?? [];
    expect(claim?.metadata?.name).toBe('data');
    expect(claim?.spec?.resources?.requests).toEqual({ storage: '5Gi' });
    expect(claim?.spec?.storageClassName).toBe('fast');
    expect(claim?.metadata?.labels).toEqual(LABELS);
  });

  it('probes /readyz and /livez and mounts the data dir', () => {
    const container = buildStatefulSet(cluster(), 1).spec?.template.spec?.containers[0];
    expect(container?.image).toBe('kuorum:1');
    expect(container?.readinessProbe?.httpGet?.path).toBe('/readyz');
    expect(container?.livenessProbe?.httpGet?.path).toBe('/livez');
    expect(container?.readinessProbe?.httpGet?.port).toBe('http');
    expect(container?.ports?.map((p) => [p.name, p.containerPort])).toEqual([['peer', 7000], ['http', 8080]]);
    expect(container?.volumeMounts).toEqual([{ name: 'data', mountPath: '/var/lib/kuorum' }]);
  });

  it('passes the node its identity, addresses and Raft timeouts through KUORUM_* variables', () => {
    const container = buildStatefulSet(cluster({ raft: { electionTimeoutMs: 2000, heartbeatIntervalMs: 200, snapshotThreshold: 500 } }), 1).spec?.template.spec?.containers[0];
    const env = Object.fromEntries((container?.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom?.fieldRef?.fieldPath]));
    expect(env).toMatchObject({
      POD_NAME: 'metadata.name',
      KUORUM_NAME: 'metadata.name',
      KUORUM_DATA_DIR: '/var/lib/kuorum',
      KUORUM_LISTEN_PEER: '0.0.0.0:7000',
      KUORUM_LISTEN_HTTP: '0.0.0.0:8080',
      KUORUM_ADVERTISE_PEER: '$(POD_NAME).kv-peers.prod.svc.cluster.local:7000',
      KUORUM_ELECTION_TIMEOUT: '2000',
      KUORUM_HEARTBEAT_INTERVAL: '200',
      KUORUM_SNAPSHOT_THRESHOLD: '500',
    });
    // $(POD_NAME) only expands when POD_NAME is defined earlier in the list.
    const names = (container?.env ?? []).map((e) => e.name);
    expect(names.indexOf('POD_NAME')).toBeLessThan(names.indexOf('KUORUM_ADVERTISE_PEER'));
  });

  it('spreads members over hosts by default and honours a user affinity instead', () => {
    const dflt = buildStatefulSet(cluster(), 1).spec?.template.spec?.affinity;
    const term = dflt?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution?.[0];
    expect(term?.podAffinityTerm.topologyKey).toBe('kubernetes.io/hostname');
    expect(term?.podAffinityTerm.labelSelector?.matchLabels).toEqual({ 'app.kubernetes.io/name': 'kuorum', 'app.kubernetes.io/instance': 'kv' });
    const custom = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [] } } };
    const pod = buildStatefulSet(cluster({ affinity: custom, nodeSelector: { disk: 'ssd' }, tolerations: [{ key: 'k', operator: 'Exists' }] }), 1).spec?.template.spec;
    expect(pod?.affinity).toEqual(custom);
    expect(pod?.nodeSelector).toEqual({ disk: 'ssd' });
    expect(pod?.tolerations).toEqual([{ key: 'k', operator: 'Exists' }]);
  });

  it('makes the peer Service headless and publishing not-ready addresses, the client Service plain', () => {
    const peers = buildPeerService(cluster());
    expect(peers.metadata?.name).toBe('kv-peers');
    expect(peers.spec?.clusterIP).toBe('None');
    expect(peers.spec?.publishNotReadyAddresses).toBe(true);
    const client = buildClientService(cluster());
    expect(client.metadata?.name).toBe('kv');
    expect(client.spec?.clusterIP).toBeUndefined();
    expect(client.spec?.publishNotReadyAddresses).toBeUndefined();
    expect(client.spec?.ports?.map((p) => p.port)).toEqual([8080]);
  });

  it('allows at most one voluntary disruption', () => {
    const pdb = buildPodDisruptionBudget(cluster());
    expect(pdb.metadata?.name).toBe('kv');
    expect(pdb.spec?.maxUnavailable).toBe(1);
    expect(pdb.spec?.minAvailable).toBeUndefined();
    expect(pdb.spec?.selector?.matchLabels).toEqual({ 'app.kubernetes.io/name': 'kuorum', 'app.kubernetes.io/instance': 'kv' });
  });
});
