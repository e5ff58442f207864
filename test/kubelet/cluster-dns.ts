import { DiscoveryV1Api, type KubeConfig, type V1EndpointSlice, type V1Pod } from '@kubernetes/client-node';
import { watchResource, type ResourceWatch } from './watch.js';

export const clusterDomain = 'cluster.local';

interface Record {
  namespace: string;
  service: string;
  hostname?: string;
  ip: string;
}

/**
 * The cluster's DNS, rendered as per-pod hosts files (each pod gets its file bind-mounted over
 * /etc/hosts): Service names resolve to their ready endpoint addresses (there is no kube-proxy,
 * so a ClusterIP Service answers with its endpoints, as a headless one does) and
 * `<hostname>.<service>` names to the endpoint with that hostname, as StatefulSet pods get.
 * Names in the pod's own namespace also resolve in their short forms, as the search path
 * `<ns>.svc.cluster.local svc.cluster.local cluster.local` would make them. Fed by EndpointSlices,
 * watched with the cluster-DNS identity (the admin kubeconfig here), as CoreDNS does.
 */
export class ClusterDns {
  private readonly listeners = new Set<() => void>();
  private watch: ResourceWatch<V1EndpointSlice> | undefined;
  private pending: NodeJS.Timeout | undefined;

  private constructor() {}

  static async start(kc: KubeConfig): Promise<ClusterDns> {
    const dns = new ClusterDns();
    const api = kc.makeApiClient(DiscoveryV1Api);
    const changed = (): void => dns.changed();
    dns.watch = await watchResource<V1EndpointSlice>(kc, '/apis/discovery.k8s.io/v1/endpointslices',
      () => api.listEndpointSliceForAllNamespaces(), { upsert: changed, remove: changed });
    return dns;
  }

  /** Listeners run (debounced) whenever an EndpointSlice changes. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    if (this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      for (const listener of this.listeners) listener();
    }, 50);
  }

  private records(): Record[] {
    const records: Record[] = [];
    for (const slice of this.watch?.list() ?? []) {
      const service = slice.metadata?.labels?.['kubernetes.io/service-name'];
      const namespace = slice.metadata?.namespace;
      if (!service || !namespace || slice.addressType === 'IPv6') continue;
      for (const endpoint of slice.endpoints ?? []) {
        if (endpoint.conditions?.ready === false) continue;
        const ip = endpoint.addresses[0];
        if (ip) records.push({ namespace, service, ip, ...(endpoint.hostname ? { hostname: endpoint.hostname } : {}) });
      }
    }
    return records.sort((a, b) => `${a.namespace}/${a.service}/${a.hostname}/${a.ip}`.localeCompare(`${b.namespace}/${b.service}/${b.hostname}/${b.ip}`));
  }

  /** The /etc/hosts a pod sees. */
  hostsFor(pod: V1Pod, podIp: string): string {
    const namespace = pod.metadata?.namespace ?? 'default';
    const hostname = pod.spec?.hostname ?? pod.metadata?.name ?? 'pod';
    const subdomain = pod.spec?.subdomain;
    const lines = [
      '# Kubernetes-managed hosts file (process-kubelet).',
      '127.0.0.1\tlocalhost',
      '::1\tlocalhost ip6-localhost ip6-loopback',
      subdomain ? `${podIp}\t${hostname}.${subdomain}.${namespace}.svc.${clusterDomain}\t${hostname}` : `${podIp}\t${hostname}`,
    ];
    for (const r of this.records()) {
      const service = `${r.service}.${r.namespace}`;
      const names = [`${service}.svc.${clusterDomain}`, `${service}.svc`, service];
      if (r.namespace === namespace) names.push(r.service);
      lines.push(`${r.ip}\t${names.join(' ')}`);
      if (r.hostname) {
        const own = names.map((n) => `${r.hostname}.${n}`);
        lines.push(`${r.ip}\t${own.join(' ')}`);
      }
    }
    return `${lines.join('\n')}\n`;
  }

  async stop(): Promise<void> {
    if (this.pending) clearTimeout(this.pending);
    this.listeners.clear();
    await this.watch?.stop();
  }
}
