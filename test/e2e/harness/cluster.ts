import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { binary, binDir } from '../../controlplane/binaries.js';
import { freePort } from '../../controlplane/free-port.js';
import { issueServingCert } from '../../controlplane/pki.js';
import { startControlPlane, type ControlPlane } from '../../controlplane/launcher.js';
import { ApiServerRelay } from '../../kubelet/api-proxy.js';
import { ClusterDns } from '../../kubelet/cluster-dns.js';
import type { ImageMap } from '../../kubelet/images.js';
import { defaultImages } from '../../kubelet/images.js';
import { ProcessKubelet } from '../../kubelet/kubelet.js';
import { PodNetwork } from '../../kubelet/pod-network.js';
import { runCli, type CliResult } from './cli.js';
import { HostPathProvisioner } from './pv-provisioner.js';

export interface ClusterOptions {
  /** Number of process-kubelets (Nodes kubelet-0..n-1). */
  kubelets?: number;
  /** Extra image → local program mappings, merged over the defaults. */
  images?: ImageMap;
}

export interface Cluster {
  kubeconfigPath: string;
  apiUrl: string;
  dir: string;
  core: CoreV1Api;
  kubeConfig: KubeConfig;
  kubelets: ProcessKubelet[];
  network: PodNetwork;
  kubectl(...args: string[]): Promise<string>;
  /** kubectl with a manifest on stdin, e.g. `apply('-f', '-')`. */
  kubectlStdin(input: string, ...args: string[]): Promise<string>;
  helm(...args: string[]): Promise<string>;
  /** Component log tails, kubelet messages and pod container logs, for a failure report. */
  diagnostics(): string;
  stop(): Promise<void>;
}

function kubernetesVersion(): string {
  const out = execFileSync(binary('kube-apiserver'), ['--version'], { encoding: 'utf8' });
  return /v\d+\.\d+\.\d+\S*/.exec(out)?.[0] ?? 'v0.0.0';
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** What the e2e tier needs from the machine, checked up front for a clear failure. */
function preflight(): void {
  if (process.getuid?.() !== 0) throw new Error('the e2e tier must run as root: pods run in their own network and mount namespaces');
  const missing = ['ip', 'nsenter', 'unshare', 'mount', 'openssl'].filter((tool) => {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length > 0) throw new Error(`the e2e tier needs ${missing.join(', ')} (apt-get install iproute2 util-linux mount openssl)`);
  binDir(); // fails with a clear message when the binaries are not built
}

/**
 * A whole test cluster: control plane, pod network, cluster DNS, storage provisioner and
 * process-kubelets. stop() tears everything down; so does the process exiting.
 */
export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  preflight();
  const version = kubernetesVersion();
  const cleanups: (() => Promise<void>)[] = [];
  const stop = async (): Promise<void> => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      await cleanup().catch(() => undefined);
    }
  };
  let controlPlane: ControlPlane | undefined;
  const kubelets: ProcessKubelet[] = [];
  let provisioner: HostPathProvisioner | undefined;
  try {
    const network = await PodNetwork.create();
    cleanups.push(() => network.destroy());
    controlPlane = await startControlPlane({ extraApiServerIps: [network.gateway], advertiseAddress: network.gateway });
    const cp = controlPlane;
    cleanups.push(() => cp.stop());
    const relay = await ApiServerRelay.start(network.gateway, cp.apiPort, cp.apiPort);
    cleanups.push(() => relay.stop());

    const kc = new KubeConfig();
    kc.loadFromFile(cp.kubeconfigPath);
    const core = kc.makeApiClient(CoreV1Api);
    const dns = await ClusterDns.start(kc);
    cleanups.push(() => dns.stop());
    const p = new HostPathProvisioner(kc, join(cp.dir, 'volumes'));
    provisioner = p;
    await p.start();
    cleanups.push(() => p.stop());

    const images = { ...defaultImages(), ...options.images };
    for (let i = 0; i < (options.kubelets ?? 1); i++) {
      const nodeName = `kubelet-${i}`;
      const serving = issueServingCert(cp.pki, `${nodeName}-serving`, [network.gateway]);
      const kubelet = new ProcessKubelet({
        nodeName,
        kubeconfigPath: cp.kubeconfigFor(nodeName, `system:node:${nodeName}`, ['system:nodes']),
        network,
        dns,
        dir: join(cp.dir, nodeName),
        apiServerHost: relay.host,
        apiServerPort: relay.port,
        kubeletVersion: version,
        images,
        ownerMarker: cp.dir,
        server: { port: await freePort(network.gateway), cert: serving.cert, key: serving.key, clientCa: cp.pki.caCert },
      });
      cleanups.push(() => kubelet.stop());
      await kubelet.start();
      kubelets.push(kubelet);
    }

    await waitFor('every node Ready and untainted', async () => {
      const nodes = await core.listNode();
      return nodes.items.length === kubelets.length && nodes.items.every((n) =>
        n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') && !(n.spec?.taints ?? []).some((t) => t.effect === 'NoSchedule'));
    }, 60_000);
    await waitFor('the default ServiceAccount', async () => {
      await core.readNamespacedServiceAccount({ name: 'default', namespace: 'default' });
      return true;
    }, 60_000);

    const helmHome = join(cp.dir, 'helm');
    mkdirSync(helmHome, { recursive: true });
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: helmHome,
      KUBECONFIG: cp.kubeconfigPath,
      HELM_CACHE_HOME: join(helmHome, 'cache'),
      HELM_CONFIG_HOME: join(helmHome, 'config'),
      HELM_DATA_HOME: join(helmHome, 'data'),
    };
    const out = (r: CliResult): string => r.stdout;
    const kubectl = (...args: string[]) => runCli(binary('kubectl'), args, env).then(out);
    const kubectlStdin = (input: string, ...args: string[]) => runCli(binary('kubectl'), args, env, input).then(out);
    const helm = (...args: string[]) => runCli(binary('helm'), args, env).then(out);

    const diagnostics = (): string => {
      const parts = [cp.logTails(40)];
      for (const kubelet of kubelets) parts.push(`----- ${kubelet.nodeName} -----\n${kubelet.logLines.slice(-40).join('\n')}`);
      for (const kubelet of kubelets) {
        for (const line of kubelet.podLogPaths()) {
          let text: string;
          try {
            text = readFileSync(line.path, 'utf8').trimEnd().split('\n').slice(-20).join('\n');
          } catch {
            text = '(no log)';
          }
          parts.push(`----- pod ${line.pod} container ${line.container} -----\n${text}`);
        }
      }
      if (provisioner?.errors.length) parts.push(`----- provisioner -----\n${provisioner.errors.join('\n')}`);
      return parts.join('\n');
    };

    return {
      kubeconfigPath: cp.kubeconfigPath, apiUrl: cp.apiUrl, dir: cp.dir, core, kubeConfig: kc, kubelets, network,
      kubectl, kubectlStdin, helm, diagnostics, stop,
    };
  } catch (err) {
    const report = controlPlane ? controlPlane.logTails(40) : '';
    const kubeletReport = kubelets.map((k) => k.logLines.slice(-20).join('\n')).join('\n');
    await stop();
    throw new Error(`cluster failed to start: ${(err as Error).message}\n${report}\n${kubeletReport}`, { cause: err });
  }
}
