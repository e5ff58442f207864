import type { V1ConfigMap, V1Container, V1EnvVar, V1ObjectFieldSelector, V1Pod, V1Secret } from '@kubernetes/client-node';

/** What a container's environment may draw on besides its own spec. */
export interface EnvContext {
  pod: V1Pod;
  podIp: string;
  hostIp: string;
  /** Variables every container gets first (service discovery, image defaults). */
  base: Record<string, string>;
  configMap(name: string): Promise<V1ConfigMap | undefined>;
  secret(name: string): Promise<V1Secret | undefined>;
}

/**
 * Kubernetes `$(VAR)` expansion: references to defined variables are replaced, `$$` is an
 * escaped `$`, and references to undefined variables are left as written.
 */
export function expandVars(input: string, lookup: (name: string) => string | undefined): string {
  return input.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match: string, name: string | undefined) => {
    if (match === '$$') return '$';
    return (name !== undefined ? lookup(name) : undefined) ?? match;
  });
}

/** The value a downward-API field path names, as the real kubelet renders it. */
export function fieldRefValue(pod: V1Pod, ref: V1ObjectFieldSelector, podIp: string, hostIp: string): string {
  const path = ref.fieldPath;
  const keyed = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (keyed) {
    const map = keyed[1] === 'labels' ? pod.metadata?.labels : pod.metadata?.annotations;
    return map?.[keyed[2] ?? ''] ?? '';
  }
  switch (path) {
    case 'metadata.name': return pod.metadata?.name ?? '';
    case 'metadata.namespace': return pod.metadata?.namespace ?? '';
    case 'metadata.uid': return pod.metadata?.uid ?? '';
    case 'metadata.labels': return formatMap(pod.metadata?.labels);
    case 'metadata.annotations': return formatMap(pod.metadata?.annotations);
    case 'spec.nodeName': return pod.spec?.nodeName ?? '';
    case 'spec.serviceAccountName': return pod.spec?.serviceAccountName ?? '';
    case 'status.podIP': case 'status.podIPs': return podIp;
    case 'status.hostIP': case 'status.hostIPs': return hostIp;
    default: throw new Error(`unsupported fieldRef ${path}`);
  }
}

function formatMap(map: Record<string, string> | undefined): string {
  return Object.entries(map ?? {}).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join('\n');
}

async function envVarValue(v: V1EnvVar, ctx: EnvContext, defined: Map<string, string>): Promise<string | undefined> {
  if (v.valueFrom === undefined) return expandVars(v.value ?? '', (n) => defined.get(n));
  const from = v.valueFrom;
  if (from.fieldRef) return fieldRefValue(ctx.pod, from.fieldRef, ctx.podIp, ctx.hostIp);
  if (from.configMapKeyRef) {
    const ref = from.configMapKeyRef;
    const value = (await ctx.configMap(ref.name ?? ''))?.data?.[ref.key];
    if (value === undefined && !ref.optional) throw new Error(`configMap ${ref.name} key ${ref.key} not found`);
    return value;
  }
  if (from.secretKeyRef) {
    const ref = from.secretKeyRef;
    const data = (await ctx.secret(ref.name ?? ''))?.data?.[ref.key];
    if (data === undefined && !ref.optional) throw new Error(`secret ${ref.name} key ${ref.key} not found`);
    return data === undefined ? undefined : Buffer.from(data, 'base64').toString('utf8');
  }
  if (from.resourceFieldRef) {
    const limits = ctx.pod.spec?.containers.find((c) => c.name === (from.resourceFieldRef?.containerName ?? ''))?.resources?.limits;
    const resource = from.resourceFieldRef.resource;
    return String(limits?.[resource.replace(/^limits\./, '')] ?? (resource.endsWith('memory') ? 8 * 1024 ** 3 : 2));
  }
  throw new Error(`unsupported valueFrom in env ${v.name}`);
}

/** The full environment of a container: base, then envFrom, then env in order (with expansion). */
export async function resolveEnv(container: V1Container, ctx: EnvContext): Promise<Record<string, string>> {
  const defined = new Map(Object.entries(ctx.base));
  for (const source of container.envFrom ?? []) {
    const prefix = source.prefix ?? '';
    if (source.configMapRef) {
      const cm = await ctx.configMap(source.configMapRef.name ?? '');
      if (!cm && !source.configMapRef.optional) throw new Error(`configMap ${source.configMapRef.name} not found`);
      for (const [k, v] of Object.entries(cm?.data ?? {})) defined.set(prefix + k, v);
    }
    if (source.secretRef) {
      const secret = await ctx.secret(source.secretRef.name ?? '');
      if (!secret && !source.secretRef.optional) throw new Error(`secret ${source.secretRef.name} not found`);
      for (const [k, v] of Object.entries(secret?.data ?? {})) defined.set(prefix + k, Buffer.from(v, 'base64').toString('utf8'));
    }
  }
  for (const v of container.env ?? []) {
    const value = await envVarValue(v, ctx, defined);
    if (value !== undefined) defined.set(v.name, value);
  }
  return Object.fromEntries(defined);
}

/** The argv a container runs: its command (or the image entrypoint) and args, expanded against env. */
export function containerArgv(container: V1Container, entrypoint: string[], defaultArgs: string[], env: Record<string, string>): string[] {
  const lookup = (name: string): string | undefined => env[name];
  const command = container.command?.length ? container.command.map((c) => expandVars(c, lookup)) : entrypoint;
  const args = container.args !== undefined ? container.args.map((a) => expandVars(a, lookup)) : container.command?.length ? [] : defaultArgs;
  if (command.length === 0) throw new Error(`container ${container.name} has no command and its image no entrypoint`);
  return [...command, ...args];
}
