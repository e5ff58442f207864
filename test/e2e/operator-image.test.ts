// The operator's container image, as the Helm chart runs it by default: built from
// operator/Dockerfile by buildah on a Node 24 base made from this machine's files (no registry
// here), then its entrypoint run in a buildah container against the real API server. It must
// reconcile a RaftCluster: create the owned objects and report status. The process-kubelet cannot
// run images, so the other e2e tests run the operator from dist/; this one shows the image works.
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { buildRepoImage, containerName, createContainer, imageTestEnv, removeContainer, withImageWorkdir, type ImageConfig } from '../image/buildah.js';
import { runEntrypoint, type ContainerRun } from '../image/node-in-container.js';
import { freePort } from '../controlplane/free-port.js';
import { startCluster, type Cluster } from './harness/cluster.js';
import { pollUntil } from './harness/raft-cluster.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const image = 'localhost/kuorum-operator:image-test';
const containerPrefix = 'kuorum-operator-image-test';
const NS = 'image-test';

/** The admin kubeconfig with its certificates inlined, readable by the image's non-root user. */
function portableKubeconfig(cluster: Cluster, dir: string): string {
  const b64 = (path: string): string => readFileSync(path).toString('base64');
  const kc = cluster.kubeConfig;
  const user = kc.getCurrentUser()!;
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'e2e', cluster: { server: cluster.apiUrl, 'certificate-authority-data': b64(kc.getCurrentCluster()!.caFile!) } }],
    users: [{ name: 'admin', user: { 'client-certificate-data': b64(user.certFile!), 'client-key-data': b64(user.keyFile!) } }],
    contexts: [{ name: 'e2e', context: { cluster: 'e2e', user: 'admin' } }],
    'current-context': 'e2e',
  };
  const path = join(dir, 'kubeconfig');
  writeFileSync(path, stringify(config));
  chmodSync(dir, 0o755);
  chmodSync(path, 0o644);
  return path;
}

/** Polls while the operator runs; its exit or a timeout fails with its output. */
function waitFor<T>(what: string, probe: () => Promise<T | undefined>, run: ContainerRun): Promise<T> {
  const exited = (): string | undefined =>
    run.child.exitCode !== null || run.child.signalCode !== null ? `the operator exited (${run.child.exitCode ?? run.child.signalCode}):\n${run.output()}` : undefined;
  return pollUntil(what, probe, { timeoutMs: 120_000, everyMs: 500, giveUp: exited, report: () => `operator output:\n${run.output()}` });
}

describe('operator container image', () => {
  const env = imageTestEnv();
  const container = containerName(containerPrefix, 'operator');
  let config: ImageConfig;
  let cluster: Cluster;
  let run: ContainerRun | undefined;
  let kubeDir = '';
  let http = '';

  beforeAll(async () => {
    config = await buildRepoImage(repo, { target: 'image-operator', image, containerPrefix }, env);
    cluster = await startCluster({ kubelets: 0 });
    await cluster.kubectl('apply', '--server-side', '-f', join(repo, 'charts/kuorum-operator/crds/raftcluster.yaml'));
    await cluster.kubectl('create', 'namespace', NS);
  }, 1_200_000);

  afterAll(async () => {
    await run?.stop();
    await removeContainer(container, env);
    await cluster?.stop();
    if (kubeDir) rmSync(kubeDir, { recursive: true, force: true });
  });

  it('runs the compiled operator as a non-root user with production dependencies only', async () => {
    expect(Number((config.User ?? '').split(':')[0])).toBe(10001);
    expect(config.Entrypoint).toEqual(['node', 'dist/operator/src/main.js']);
    expect(Object.keys(config.ExposedPorts ?? {})).toEqual(['8080/tcp']);
    await withImageWorkdir(image, containerName(containerPrefix, 'files'), config, env, (app) => {
      const installed = (pkg: string): boolean => existsSync(join(app, 'node_modules', pkg, 'package.json'));
      for (const needed of ['@kubernetes/client-node', 'prom-client']) expect(installed(needed), needed).toBe(true);
      for (const notNeeded of ['classic-level', 'fastify', '@grpc/grpc-js', 'typescript', 'vitest', 'node']) expect(installed(notNeeded), notNeeded).toBe(false);
      expect(readdirSync(join(app, 'dist')).sort()).toEqual(['operator']);
    });
  });

  it('reconciles a RaftCluster against the real API server', async () => {
    kubeDir = mkdtempSync(join(tmpdir(), 'kuorum-operator-image-'));
    portableKubeconfig(cluster, kubeDir);
    const port = await freePort();
    http = `http://127.0.0.1:${port}`;
    await createContainer(image, container, env);
    const args = ['--kubeconfig', '/kube/kubeconfig', '--namespace', NS, '--leader-elect=false', '--http-address', `127.0.0.1:${port}`];
    run = runEntrypoint(container, [...(config.Entrypoint ?? []), ...args], { hostDir: kubeDir, containerDir: '/kube' }, env);
    await cluster.kubectlStdin(
      `apiVersion: kuorum.dev/v1alpha1\nkind: RaftCluster\nmetadata: {name: img, namespace: ${NS}}\nspec: {replicas: 3, image: localhost/kuorum:0.1.0}\n`,
      'apply', '-f', '-',
    );
    const owned = await waitFor('the StatefulSet, Services and PDB', async () => {
      const out = await cluster.kubectl('get', 'statefulsets,services,poddisruptionbudgets', '-n', NS, '-l', 'app.kubernetes.io/instance=img', '-o', 'name');
      const names = out.trim().split('\n').filter(Boolean).sort();
      return names.length === 4 ? names : undefined;
    }, run);
    expect(owned).toEqual(['poddisruptionbudget.policy/img', 'service/img', 'service/img-peers', 'statefulset.apps/img']);
    const phase = await waitFor('a status from the operator', async () => {
      const p = await cluster.kubectl('get', 'raftcluster', 'img', '-n', NS, '-o', 'jsonpath={.status.phase}');
      return p.trim() || undefined;
    }, run);
    expect(phase).toMatch(/^[A-Z][a-zA-Z]+$/);
    const metrics = await (await fetch(`${http}/metrics`)).text();
    expect(metrics).toMatch(/kuorum_operator_reconcile_total\{result="success"\} [1-9]/);
  });
});
