// The operator on a real control plane: CRD from the chart, operator installed with helm and
// running as a pod (in-cluster config, leader election), a RaftCluster of real kuorum nodes.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RaftCluster } from '../../operator/src/types.js';
import { startCluster, type Cluster } from './harness/cluster.js';
import { hasHealthyVoters, memberIds, pollUntil, raftClusterManifest, readRaftCluster } from './harness/raft-cluster.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const NS = 'default';
const DEMO = raftClusterManifest('demo', NS);

let cluster: Cluster;
let custom: CustomObjectsApi;

async function raftCluster(name: string): Promise<RaftCluster> {
  return readRaftCluster(custom, NS, name);
}

function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 240_000): Promise<T> {
  return pollUntil(what, probe, { timeoutMs, report: () => cluster.diagnostics() });
}

async function podIps(): Promise<Map<string, string>> {
  const pods = await cluster.core.listNamespacedPod({ namespace: NS, labelSelector: 'app.kubernetes.io/instance=demo' });
  return new Map(pods.items.filter((p) => p.status?.podIP && !p.metadata?.deletionTimestamp).map((p) => [p.metadata?.name ?? '', p.status?.podIP ?? '']));
}

async function kvPut(ip: string, key: string, value: string): Promise<void> {
  const res = await fetch(`http://${ip}:8080/v1/kv/${key}`, { method: 'PUT', body: value, signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`PUT ${key} on ${ip}: ${res.status} ${await res.text()}`);
}

async function kvGet(ip: string, key: string): Promise<string> {
  const res = await fetch(`http://${ip}:8080/v1/kv/${key}`, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`GET ${key} on ${ip}: ${res.status} ${await res.text()}`);
  return res.text();
}

async function waitForMembers(name: string, voters: number): Promise<RaftCluster> {
  return waitFor(`${name} to run with ${voters} healthy voters`, async () => {
    const rc = await raftCluster(name);
    return hasHealthyVoters(rc, voters) ? rc : undefined;
  });
}

beforeAll(async () => {
  for (const f of ['dist/operator/src/main.js', 'dist/node/src/main.js']) {
    if (!existsSync(join(root, f))) throw new Error(`${f} is missing: run \`make build\` first`);
  }
  cluster = await startCluster({ kubelets: 1 });
  custom = cluster.kubeConfig.makeApiClient(CustomObjectsApi);
  await cluster.helm('install', 'kuorum-operator', join(root, 'charts/kuorum-operator'), '--namespace', 'kuorum-system', '--create-namespace', '--set', 'replicaCount=2', '--wait', '--timeout', '180s');
}, 600_000);

afterAll(async () => {
  await cluster?.stop();
});

describe('kuorum operator on Kubernetes', () => {
  it('serves the CRD with docs, validation and defaults', async () => {
    const explain = await cluster.kubectl('explain', 'raftcluster.spec.replicas');
    expect(explain).toMatch(/Number of voting Raft members/);
    const bad = await cluster.kubectlStdin(
      'apiVersion: kuorum.dev/v1alpha1\nkind: RaftCluster\nmetadata: {name: bad}\nspec: {replicas: 12, image: x}\n', 'apply', '-f', '-',
    ).then(() => 'accepted', (err: Error) => err.message);
    expect(bad).toMatch(/replicas/);
    expect(bad).toMatch(/less than or equal to 9/);
  });

  it('forms a 3-member cluster from one RaftCluster object', async () => {
    await cluster.kubectlStdin(DEMO, 'apply', '-f', '-');
    const rc = await waitForMembers('demo', 3);
    expect(rc.spec.imagePullPolicy).toBe('IfNotPresent'); // defaulted by the schema
    expect(rc.status?.faultTolerance).toBe(1);
    expect(rc.status?.bootstrapped).toBe(true);
    expect(rc.status?.conditions?.find((c) => c.type === 'Available')?.status).toBe('True');
    const table = await cluster.kubectl('get', 'raft', 'demo');
    expect(table).toMatch(/REPLICAS\s+READY\s+LEADER\s+PHASE\s+AGE/);
    expect(table).toMatch(/demo\s+3\s+3\s+demo-\d\s+Running/);
    const describe = await cluster.kubectl('describe', 'raftcluster', 'demo');
    expect(describe).toMatch(/Bootstrap/);
    expect(describe).toMatch(/AddLearner/);
  });

  it('keeps data written through one member readable through every other', async () => {
    const ips = [...(await podIps()).values()];
    await waitFor('a write to succeed', async () => {
      await kvPut(ips[0]!, 'greeting', 'hello');
      return true;
    }, 60_000);
    for (const ip of ips) expect(await kvGet(ip, 'greeting')).toBe('hello');
  });

  it('scales to 5 and back to 3 with kubectl scale, deleting the removed members\' volumes', async () => {
    await cluster.kubectl('scale', 'raftcluster/demo', '--replicas=5');
    await waitForMembers('demo', 5);
    await cluster.kubectl('scale', 'raftcluster/demo', '--replicas=3');
    const rc = await waitForMembers('demo', 3);
    expect(rc.status?.members?.map((m) => m.name).sort()).toEqual(['demo-0', 'demo-1', 'demo-2']);
    const pvcs = await waitFor('PVCs of demo-3 and demo-4 to be deleted', async () => {
      const names = (await cluster.core.listNamespacedPersistentVolumeClaim({ namespace: NS })).items.map((p) => p.metadata?.name ?? '');
      return names.some((n) => n === 'data-demo-3' || n === 'data-demo-4') ? undefined : names;
    });
    expect(pvcs.sort()).toEqual(['data-demo-0', 'data-demo-1', 'data-demo-2']);
    const ips = [...(await podIps()).values()];
    for (const ip of ips) expect(await kvGet(ip, 'greeting')).toBe('hello');
  });

  it('upgrades the image one pod at a time and keeps every member and its data', async () => {
    const before = memberIds(await raftCluster('demo'));
    await cluster.kubectl('patch', 'raftcluster/demo', '--type=merge', '-p', '{"spec":{"image":"localhost/kuorum:0.1.1"}}');
    // Sampled every second: a second restart before the first pod is back shows as two pods down.
    let fewestReady = 3;
    const rc = await waitFor('every pod on the new image', async () => {
      const pods = await cluster.core.listNamespacedPod({ namespace: NS, labelSelector: 'app.kubernetes.io/instance=demo' });
      const ready = pods.items.filter((p) => !p.metadata?.deletionTimestamp && p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
      fewestReady = Math.min(fewestReady, ready.length);
      const images = pods.items.map((p) => p.spec?.containers[0]?.image);
      if (images.length !== 3 || images.some((i) => i !== 'localhost/kuorum:0.1.1')) return undefined;
      return waitForMembers('demo', 3);
    });
    expect(memberIds(rc)).toEqual(before); // same volumes, same member IDs
    expect(fewestReady).toBeGreaterThanOrEqual(2); // one pod at a time
    const describe = await cluster.kubectl('describe', 'raftcluster', 'demo');
    expect(describe).toMatch(/DeletePodForUpgrade/);
    for (const ip of (await podIps()).values()) expect(await kvGet(ip, 'greeting')).toBe('hello');
  });

  it('replaces a member whose volume was lost: old ID removed, new one added and promoted', async () => {
    const rc0 = await raftCluster('demo');
    const victim = ['demo-0', 'demo-1', 'demo-2'].find((n) => n !== rc0.status?.leader)!;
    const oldId = memberIds(rc0)[victim];
    await cluster.kubectl('delete', 'pvc', `data-${victim}`, '--wait=false');
    await cluster.kubectl('delete', 'pod', victim);
    const rc = await waitFor(`${victim} to rejoin with a new member ID`, async () => {
      const r = await waitForMembers('demo', 3);
      const id = memberIds(r)[victim];
      return id && id !== oldId ? r : undefined;
    });
    expect(Object.values(memberIds(rc))).not.toContain(oldId);
    expect(await kvGet((await podIps()).get(victim)!, 'greeting')).toBe('hello');
  });

  it('changes nothing while paused', async () => {
    await cluster.kubectl('patch', 'raftcluster/demo', '--type=merge', '-p', '{"spec":{"paused":true,"replicas":4}}');
    const rc = await waitFor('phase Paused', async () => {
      const r = await raftCluster('demo');
      return r.status?.phase === 'Paused' && r.status.observedGeneration === r.metadata.generation ? r : undefined;
    });
    expect(rc.status?.replicas).toBe(3);
    const sts = await cluster.kubectl('get', 'statefulset', 'demo', '-o', 'jsonpath={.spec.replicas}');
    expect(sts).toBe('3');
    await cluster.kubectl('patch', 'raftcluster/demo', '--type=merge', '-p', '{"spec":{"paused":false,"replicas":3}}');
    await waitForMembers('demo', 3);
  });

  it('exposes kuorum_operator_* metrics from the replica that holds the leader-election Lease', async () => {
    const holder = await cluster.kubectl('get', 'lease', 'kuorum-operator', '-n', 'kuorum-system', '-o', 'jsonpath={.spec.holderIdentity}');
    const pods = await cluster.core.listNamespacedPod({ namespace: 'kuorum-system' });
    expect(pods.items.map((p) => p.metadata?.name)).toContain(holder);
    const op = pods.items.find((p) => p.metadata?.name === holder)!;
    const text = await (await fetch(`http://${op.status!.podIP}:8080/metrics`)).text();
    expect(text).toMatch(/kuorum_operator_reconcile_total\{result="success"\} [1-9]/);
    expect(text).toMatch(/kuorum_operator_membership_changes_total\{action="promote"\} [1-9]/);
    expect(text).toMatch(/kuorum_operator_cluster_fault_tolerance\{namespace="default",cluster="demo"\} 1/);
    expect(text).toMatch(/kuorum_operator_is_leader 1/);
    const standby = pods.items.find((p) => p.metadata?.name !== holder && p.status?.podIP);
    const standbyText = await (await fetch(`http://${standby!.status!.podIP}:8080/metrics`)).text();
    expect(standbyText).toMatch(/kuorum_operator_is_leader 0/);
  });

  it('fails over to the standby operator when the leader goes away', async () => {
    const lease = (): Promise<string> => cluster.kubectl('get', 'lease', 'kuorum-operator', '-n', 'kuorum-system', '-o', 'jsonpath={.spec.holderIdentity}');
    const old = await lease();
    const idsBefore = memberIds(await raftCluster('demo'));
    await cluster.kubectl('delete', 'pod', old, '-n', 'kuorum-system');
    const next = await waitFor('another operator replica to take the Lease', async () => {
      const h = await lease();
      return h && h !== old ? h : undefined;
    });
    expect(next).not.toBe(old);
    await cluster.kubectl('patch', 'raftcluster/demo', '--type=merge', '-p', '{"spec":{"paused":true}}');
    await waitFor('the new leader to reconcile', async () => ((await raftCluster('demo')).status?.phase === 'Paused' ? true : undefined));
    await cluster.kubectl('patch', 'raftcluster/demo', '--type=merge', '-p', '{"spec":{"paused":false}}');
    // The new leader took over the running cluster as it was: no member touched.
    expect(memberIds(await waitForMembers('demo', 3))).toEqual(idsBefore);
    expect(await cluster.kubectl('get', 'statefulset', 'demo', '-o', 'jsonpath={.spec.replicas}')).toBe('3');
  });

  it('removes the StatefulSet, Services, PDB and volumes with the RaftCluster', async () => {
    await cluster.kubectl('delete', 'raftcluster', 'demo', '--wait=true');
    const left = await waitFor('owned objects to be garbage-collected', async () => {
      const out = await cluster.kubectl('get', 'statefulsets,services,poddisruptionbudgets,pods,pvc', '-l', 'app.kubernetes.io/instance=demo', '-o', 'name');
      return out.trim() === '' ? out : undefined;
    });
    expect(left.trim()).toBe('');
  });
});
