// The RaftCluster CRD, checked as data: structural schema, validation, defaults, docs, subresources.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const crdText = readFileSync(`${root}crds/raftcluster.yaml`, 'utf8');
const crd = parse(crdText);
const version = crd.spec.versions[0];
const schema = version.schema.openAPIV3Schema;
const spec = schema.properties.spec;
const status = schema.properties.status;

type Node = Record<string, unknown> & { properties?: Record<string, Node>; items?: Node; additionalProperties?: Node | boolean };

/** Every schema node with its dotted path. */
function walk(node: Node, path: string, out: [string, Node][] = []): [string, Node][] {
  out.push([path, node]);
  for (const [k, child] of Object.entries(node.properties ?? {})) walk(child, `${path}.${k}`, out);
  if (node.items) walk(node.items, `${path}[]`, out);
  if (node.additionalProperties && typeof node.additionalProperties === 'object') walk(node.additionalProperties, `${path}{}`, out);
  return out;
}

describe('RaftCluster CRD', () => {
  it('names the resource as DESIGN.md fixes it', () => {
    expect(crd.metadata.name).toBe('raftclusters.kuorum.dev');
    expect(crd.spec.group).toBe('kuorum.dev');
    expect(crd.spec.scope).toBe('Namespaced');
    expect(crd.spec.names).toMatchObject({ kind: 'RaftCluster', plural: 'raftclusters', singular: 'raftcluster', shortNames: ['raft'] });
    expect(crd.spec.versions.map((v: { name: string }) => v.name)).toEqual(['v1alpha1']);
    expect(version.served && version.storage).toBe(true);
  });

  it('has the status and scale subresources wired to replicas and the selector', () => {
    expect(version.subresources.status).toEqual({});
    expect(version.subresources.scale).toEqual({ specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.status.selector' });
    expect(status.properties.selector.type).toBe('string');
    expect(status.properties.replicas.type).toBe('integer');
  });

  it('prints Replicas, Ready, Leader, Phase and Age', () => {
    expect(version.additionalPrinterColumns.map((c: { name: string; jsonPath: string }) => [c.name, c.jsonPath])).toEqual([
      ['Replicas', '.spec.replicas'],
      ['Ready', '.status.readyReplicas'],
      ['Leader', '.status.leader'],
      ['Phase', '.status.phase'],
      ['Age', '.metadata.creationTimestamp'],
    ]);
  });

  it('is structural: every node has a type unless it is int-or-string or deliberately open', () => {
    for (const [path, node] of walk(schema, 'root')) {
      if (path === 'root.metadata') continue;
      if (node['x-kubernetes-int-or-string'] === true) continue;
      expect(node.type, path).toBeDefined();
    }
  });

  it('keeps unknown fields only where a whole core/v1 type is embedded (affinity)', () => {
    const open = walk(schema, 'root').filter(([, n]) => n['x-kubernetes-preserve-unknown-fields'] === true).map(([p]) => p);
    expect(open).toEqual(['root.spec.affinity']);
  });

  it('documents every spec and status field (kubectl explain)', () => {
    const undocumented = [...walk(spec, 'spec'), ...walk(status, 'status')].filter(([, n]) => typeof n.description !== 'string' || n.description === '').map(([p]) => p);
    expect(undocumented).toEqual([]);
  });

  it('validates replicas 1-9 with default 3, and requires an image', () => {
    expect(spec.properties.replicas).toMatchObject({ type: 'integer', minimum: 1, maximum: 9, default: 3 });
    expect(spec.required).toContain('image');
    expect(spec.properties.imagePullPolicy.enum).toEqual(['Always', 'IfNotPresent', 'Never']);
    expect(spec.properties.paused).toMatchObject({ type: 'boolean', default: false });
  });

  it('accepts resource quantities for storage.size and rejects anything else', () => {
    const size = spec.properties.storage.properties.size;
    const re = new RegExp(size.pattern);
    for (const ok of ['1Gi', '500Mi', '10G', '1.5Gi', '1024', '2Ti']) expect(re.test(ok), ok).toBe(true);
    for (const bad of ['', 'Gi', '1 Gi', '-1Gi', '1GB', '1gi', 'lots']) expect(re.test(bad), bad).toBe(false);
    expect(re.test(size.default)).toBe(true);
  });

  it('has defaults that satisfy their own bounds', () => {
    for (const [path, node] of walk(schema, 'root')) {
      if (typeof node.default !== 'number') continue;
      if (typeof node.minimum === 'number') expect(node.default, path).toBeGreaterThanOrEqual(node.minimum);
      if (typeof node.maximum === 'number') expect(node.default, path).toBeLessThanOrEqual(node.maximum);
    }
  });

  it('keys conditions by type so server-side apply merges them', () => {
    expect(status.properties.conditions['x-kubernetes-list-type']).toBe('map');
    expect(status.properties.conditions['x-kubernetes-list-map-keys']).toEqual(['type']);
  });

  it('ships byte-identical in the Helm chart (one source of truth)', () => {
    const copy = readFileSync(`${root}charts/kuorum-operator/crds/raftcluster.yaml`, 'utf8');
    expect(copy === crdText, 'charts/kuorum-operator/crds/raftcluster.yaml differs from crds/raftcluster.yaml: run `make operator-crds`').toBe(true);
  });
});
