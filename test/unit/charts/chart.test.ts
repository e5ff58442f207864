// The Helm chart rendered by the real helm binary. Without helm these tests FAIL, they never skip.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { findHelm, HELM_MISSING } from './helm.js';

const chart = fileURLToPath(new URL('../../../charts/kuorum-operator', import.meta.url));

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [k: string]: unknown;
}

function helm(...args: string[]): string {
  const bin = findHelm();
  if (!bin) throw new Error(HELM_MISSING);
  return execFileSync(bin, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function render(...set: string[]): K8sObject[] {
  const out = helm('template', 'ops', chart, '--namespace', 'kuorum-system', '--include-crds', ...set.flatMap((s) => ['--set', s]));
  return parseAllDocuments(out).map((d) => d.toJS() as K8sObject).filter((o) => o !== null);
}

const find = (objs: K8sObject[], kind: string, name?: string): K8sObject => {
  const o = objs.find((x) => x.kind === kind && (name === undefined || x.metadata.name === name));
  if (!o) throw new Error(`no ${kind} ${name ?? ''} rendered; got ${objs.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}`);
  return o;
};

type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };
const rules = (o: K8sObject): string[] =>
  (o.rules as Rule[]).flatMap((r) => r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${g || 'core'}/${res}:${v}`)))).sort();

describe('kuorum-operator Helm chart', () => {
  it('passes helm lint', () => {
    expect(helm('lint', chart)).toMatch(/0 chart\(s\) failed/);
  });

  it('renders the CRD, service account, RBAC, deployment and metrics service', () => {
    const objs = render();
    expect(objs.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      'ClusterRole/ops-kuorum-operator',
      'ClusterRoleBinding/ops-kuorum-operator',
      'CustomResourceDefinition/raftclusters.kuorum.dev',
      'Deployment/ops-kuorum-operator',
      'Role/ops-kuorum-operator-leader-election',
      'RoleBinding/ops-kuorum-operator-leader-election',
      'Service/ops-kuorum-operator-metrics',
      'ServiceAccount/ops-kuorum-operator',
    ]);
  });

  it('grants exactly the verbs the operator uses', () => {
    const objs = render();
    expect(rules(find(objs, 'ClusterRole'))).toEqual([
      'apps/statefulsets:create', 'apps/statefulsets:get', 'apps/statefulsets:list', 'apps/statefulsets:patch', 'apps/statefulsets:watch',
      'core/events:create',
      'core/persistentvolumeclaims:delete', 'core/persistentvolumeclaims:get', 'core/persistentvolumeclaims:list', 'core/persistentvolumeclaims:watch',
      'core/pods:delete', 'core/pods:get', 'core/pods:list', 'core/pods:watch',
      'core/services:create', 'core/services:patch',
      'kuorum.dev/raftclusters/status:patch',
      'kuorum.dev/raftclusters:get', 'kuorum.dev/raftclusters:list', 'kuorum.dev/raftclusters:watch',
      'policy/poddisruptionbudgets:create', 'policy/poddisruptionbudgets:patch',
    ].sort());
    const le = find(objs, 'Role', 'ops-kuorum-operator-leader-election');
    expect(le.metadata.namespace).toBe('kuorum-system');
    expect(rules(le)).toEqual(['coordination.k8s.io/leases:create', 'coordination.k8s.io/leases:get', 'coordination.k8s.io/leases:update']);
    const binding = find(objs, 'ClusterRoleBinding') as unknown as { subjects: { name: string; namespace: string }[] };
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'ops-kuorum-operator', namespace: 'kuorum-system' }]);
  });

  it('runs the operator with leader election, health probes and a metrics port', () => {
    const dep = find(render(), 'Deployment') as unknown as { spec: { template: { spec: { serviceAccountName: string; containers: Record<string, unknown>[] } } } };
    const pod = dep.spec.template.spec;
    expect(pod.serviceAccountName).toBe('ops-kuorum-operator');
    const c = pod.containers[0] as {
      image: string; command: string[]; args: string[]; env: { name: string }[];
      ports: { name: string; containerPort: number }[];
      livenessProbe: { httpGet: { path: string; port: string } }; readinessProbe: { httpGet: { path: string; port: string } };
    };
    expect(c.image).toBe('localhost/kuorum-operator:0.1.0');
    expect(c.command).toBeUndefined(); // the image's entrypoint
    expect(c.args).toEqual(expect.arrayContaining(['--leader-elect=true', '--leader-election-namespace=kuorum-system', '--http-address=0.0.0.0:8080']));
    expect(c.env.map((e) => e.name)).toEqual(['POD_NAME', 'POD_NAMESPACE']);
    expect(c.ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
  });

  it('can run the operator from another image with a command', () => {
    const dep = find(render('image.repository=localhost/kuorum', 'command={node,dist/operator/src/main.js}'), 'Deployment') as unknown as { spec: { template: { spec: { containers: { image: string; command: string[] }[] } } } };
    expect(dep.spec.template.spec.containers[0]).toMatchObject({ image: 'localhost/kuorum:0.1.0', command: ['node', 'dist/operator/src/main.js'] });
  });

  it('narrows RBAC to a Role when watching one namespace', () => {
    const objs = render('watchNamespace=apps');
    expect(objs.some((o) => o.kind === 'ClusterRole')).toBe(false);
    expect(find(objs, 'Role', 'ops-kuorum-operator').metadata.namespace).toBe('apps');
    const dep = find(objs, 'Deployment') as unknown as { spec: { template: { spec: { containers: { args: string[] }[] } } } };
    expect(dep.spec.template.spec.containers[0]?.args).toContain('--namespace=apps');
  });

  it('rejects values that break values.schema.json', () => {
    expect(() => render('replicaCount=-1')).toThrow(/replicaCount/);
    expect(() => render('image.pullPolicy=Sometimes')).toThrow(/pullPolicy/);
    expect(() => render('nonsense=1')).toThrow(/nonsense|additional/i);
  });
});
