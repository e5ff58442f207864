import { request } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { V1EndpointSlice, V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from './harness/cluster.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

const manifest = `
apiVersion: v1
kind: Service
metadata:
  name: counter
spec:
  clusterIP: None
  selector:
    app: counter
  ports:
    - name: http
      port: 8080
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: counter
spec:
  serviceName: counter
  replicas: 3
  selector:
    matchLabels:
      app: counter
  template:
    metadata:
      labels:
        app: counter
    spec:
      terminationGracePeriodSeconds: 5
      containers:
        - name: server
          image: registry.example/e2e-counter-server:1.0
          env:
            - name: POD_NAME
              valueFrom:
                fieldRef:
                  fieldPath: metadata.name
            - name: DATA_DIR
              value: /data/$(POD_NAME)
          ports:
            - name: http
              containerPort: 8080
          readinessProbe:
            httpGet:
              path: /healthz
              port: http
            periodSeconds: 1
            failureThreshold: 2
          volumeMounts:
            - name: data
              mountPath: /data
  volumeClaimTemplates:
    - metadata:
        name: data
      spec:
        accessModes: [ReadWriteOnce]
        resources:
          requests:
            storage: 16Mi
`;

const restartPods = `
apiVersion: v1
kind: Pod
metadata:
  name: crasher
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: main
      image: e2e-counter-server
      command: [sh, -c, 'echo crashing; exit 3']
---
apiVersion: v1
kind: Pod
metadata:
  name: unhealthy
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: main
      image: e2e-counter-server
      env:
        - name: DATA_DIR
          value: /tmp/e2e-scratch
      volumeMounts:
        - name: scratch
          mountPath: /tmp/e2e-scratch
      livenessProbe:
        tcpSocket:
          port: 9999
        initialDelaySeconds: 1
        periodSeconds: 1
        failureThreshold: 2
  volumes:
    - name: scratch
      emptyDir: {}
`;

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

interface CounterReply {
  hostname: string;
  identity: string;
  count: number;
}

function httpGet(ip: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: ip, port: 8080, path, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${ip}${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

async function counter(ip: string): Promise<CounterReply> {
  const reply = await httpGet(ip, '/');
  expect(reply.status).toBe(200);
  return JSON.parse(reply.body) as CounterReply;
}

describe('a StatefulSet on the real control plane with process-kubelets', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster({ kubelets: 2 });
  });

  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail' && cluster) console.error(cluster.diagnostics());
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  const pods = async (): Promise<V1Pod[]> =>
    (await cluster.core.listNamespacedPod({ namespace: 'default', labelSelector: 'app=counter' })).items
      .sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
  const claims = async (): Promise<V1PersistentVolumeClaim[]> =>
    (await cluster.core.listNamespacedPersistentVolumeClaim({ namespace: 'default' })).items;
  const podIp = async (name: string): Promise<string> => {
    const pod = await cluster.core.readNamespacedPod({ name, namespace: 'default' });
    const ip = pod.status?.podIP;
    if (!ip) throw new Error(`pod ${name} has no IP`);
    return ip;
  };
  const rollout = () => cluster.kubectl('rollout', 'status', 'statefulset/counter', '--timeout=240s');

  it('runs every replica Running and Ready with its claim Bound and its endpoint published', async () => {
    await cluster.kubectlStdin(manifest, 'apply', '-f', '-');
    await rollout();

    const running = await pods();
    expect(running.map((p) => p.metadata?.name)).toEqual(['counter-0', 'counter-1', 'counter-2']);
    for (const pod of running) {
      expect(pod.status?.phase).toBe('Running');
      expect(pod.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
      expect(pod.status?.containerStatuses?.[0]?.ready).toBe(true);
      expect(pod.status?.podIP).toMatch(/^10\.244\.\d+\.\d+$/);
    }
    // Two kubelets: the scheduler spreads the pods over both nodes.
    expect(new Set(running.map((p) => p.spec?.nodeName)).size).toBe(2);

    const bound = await claims();
    expect(bound.map((c) => c.metadata?.name).sort()).toEqual(['data-counter-0', 'data-counter-1', 'data-counter-2']);
    expect(bound.every((c) => c.status?.phase === 'Bound')).toBe(true);

    const slices = await cluster.kubectl('get', 'endpointslices', '-l', 'kubernetes.io/service-name=counter', '-o', 'json');
    const endpoints = (JSON.parse(slices) as { items: V1EndpointSlice[] }).items.flatMap((s) => s.endpoints ?? []);
    expect(endpoints.filter((e) => e.conditions?.ready).flatMap((e) => e.addresses).sort())
      .toEqual(running.map((p) => p.status?.podIP).sort());

    for (const pod of running) {
      const reply = await counter(pod.status?.podIP ?? '');
      expect(reply.hostname).toBe(pod.metadata?.name);
      expect(reply.identity).toBe(pod.metadata?.name);
    }
  });

  it('resolves pod and service names inside a pod and reaches the API server with its service-account token', async () => {
    const ip0 = await podIp('counter-0');
    const resolve = async (name: string): Promise<string[]> => {
      const reply = await httpGet(ip0, `/resolve?name=${name}`);
      return (JSON.parse(reply.body) as { address: string }[]).map((a) => a.address).sort();
    };
    expect(await resolve('counter-1.counter.default.svc.cluster.local')).toEqual([await podIp('counter-1')]);
    expect(await resolve('counter-2.counter')).toEqual([await podIp('counter-2')]);
    const all = (await Promise.all(['counter-0', 'counter-1', 'counter-2'].map(podIp))).sort();
    // The hosts files follow EndpointSlice changes through a watch: give it a moment to catch up.
    await waitUntil('the service name resolves to every pod', async () => (await resolve('counter')).join() === all.join(), 15_000).catch(() => undefined);
    expect(await resolve('counter')).toEqual(all);

    const version = await httpGet(ip0, '/kube');
    expect(version.status).toBe(200);
    expect((JSON.parse(version.body) as { gitVersion: string }).gitVersion).toMatch(/^v1\.\d+\.\d+/);
  });

  it('brings a deleted pod back on the same volume with its data intact', async () => {
    const before = await cluster.core.readNamespacedPod({ name: 'counter-1', namespace: 'default' });
    await counter(await podIp('counter-1'));
    const last = await counter(await podIp('counter-1'));

    await cluster.kubectl('delete', 'pod', 'counter-1', '--wait=true', '--timeout=120s');
    await waitUntil('the StatefulSet controller recreates counter-1', async () => {
      const pod = await cluster.core.readNamespacedPod({ name: 'counter-1', namespace: 'default' }).catch(() => undefined);
      return pod !== undefined && pod.metadata?.uid !== before.metadata?.uid;
    });
    await cluster.kubectl('wait', '--for=condition=Ready', 'pod/counter-1', '--timeout=180s');

    const after = await cluster.core.readNamespacedPod({ name: 'counter-1', namespace: 'default' });
    expect(after.metadata?.uid).not.toBe(before.metadata?.uid);
    const reply = await counter(await podIp('counter-1'));
    expect(reply.identity).toBe('counter-1');
    expect(reply.count).toBe(last.count + 1);
  });

  it('scales to 5 and back to 3 with kubectl scale', async () => {
    await cluster.kubectl('scale', 'statefulset/counter', '--replicas=5');
    await rollout();
    expect((await pods()).filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).map((p) => p.metadata?.name))
      .toEqual(['counter-0', 'counter-1', 'counter-2', 'counter-3', 'counter-4']);
    expect((await claims()).filter((c) => c.status?.phase === 'Bound')).toHaveLength(5);

    await cluster.kubectl('scale', 'statefulset/counter', '--replicas=3');
    await cluster.kubectl('wait', '--for=delete', 'pod/counter-4', 'pod/counter-3', '--timeout=120s');
    await rollout();
    expect((await pods()).map((p) => p.metadata?.name)).toEqual(['counter-0', 'counter-1', 'counter-2']);
    const ready = await cluster.kubectl('get', 'statefulset', 'counter', '-o', 'jsonpath={.status.readyReplicas}');
    expect(ready).toBe('3');
    // The default retention policy keeps the claims of scaled-down replicas.
    expect((await claims()).map((c) => c.metadata?.name).sort()).toContain('data-counter-4');
  });

  it('restarts a crashing container with backoff and kills one that fails its liveness probe', async () => {
    await cluster.kubectlStdin(restartPods, 'apply', '-f', '-');
    const status = async (name: string) => (await cluster.core.readNamespacedPod({ name, namespace: 'default' })).status;
    await waitUntil('crasher restarted twice', async () => ((await status('crasher'))?.containerStatuses?.[0]?.restartCount ?? 0) >= 2);
    const crasher = (await status('crasher'))?.containerStatuses?.[0];
    expect(crasher?.lastState?.terminated?.exitCode).toBe(3);
    // kubectl logs goes through the API server to the kubelet's HTTPS endpoint.
    expect(await cluster.kubectl('logs', 'crasher', '--tail=1')).toBe('crashing\n');

    await waitUntil('unhealthy restarted', async () => ((await status('unhealthy'))?.containerStatuses?.[0]?.restartCount ?? 0) >= 1);
    expect((await status('unhealthy'))?.phase).toBe('Running');
    await cluster.kubectl('delete', 'pod', 'crasher', 'unhealthy', '--wait=true', '--timeout=60s');
  });

  it('installs a chart with helm and waits for its Deployment to be ready', async () => {
    await cluster.helm('install', 'demo', join(fixtures, 'demo-chart'), '--namespace', 'default', '--wait', '--timeout', '180s');
    const status = JSON.parse(await cluster.helm('status', 'demo', '-o', 'json')) as { info: { status: string } };
    expect(status.info.status).toBe('deployed');
    expect(await cluster.kubectl('get', 'configmap', 'demo-settings', '-o', 'jsonpath={.data.greeting}')).toBe('hello from helm');
    expect(await cluster.kubectl('get', 'deployment', 'demo-web', '-o', 'jsonpath={.status.readyReplicas}')).toBe('1');
  });
});
