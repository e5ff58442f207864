import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { binary } from './binaries.js';
import { freePort } from './free-port.js';
import { writeKubeconfig } from './kubeconfig.js';
import { claimClusterDir, clusterDirPrefix, ownerEnv, reapOrphanedClusters } from './orphans.js';
import { createPki, issueClientCert, type Pki } from './pki.js';
import { spawnManaged, tailFile, type ManagedProcess } from './process-group.js';
import { waitHealthy } from './wait.js';

/** Bookkeeping only: no packet is ever sent to these addresses (there is no kube-proxy). */
export const serviceClusterIpRange = '10.96.0.0/16';
const firstServiceIp = '10.96.0.1';

export interface ControlPlaneOptions {
  /** Extra IP addresses the API server certificate must be valid for (e.g. the pod network gateway). */
  extraApiServerIps?: string[];
  /**
   * The address the API server advertises (the `kubernetes` Service endpoint). Endpoints may not
   * be loopback addresses, so a cluster whose pods reach the API server through a relay on the
   * pod network gateway advertises that gateway; the default 127.0.0.1 leaves the Service without
   * endpoints (the API server logs an error every 10 s, nothing else breaks).
   */
  advertiseAddress?: string;
  /** Keep the temp dir after stop() (also when KUORUM_E2E_KEEP=1). */
  keepDir?: boolean;
}

export interface ControlPlane {
  dir: string;
  apiUrl: string;
  apiPort: number;
  kubeconfigPath: string;
  pki: Pki;
  /** A kubeconfig for another identity, e.g. `system:node:kubelet-0` in group `system:nodes`. */
  kubeconfigFor(name: string, user: string, groups?: string[]): string;
  /** The tail of every component's log, for failure reports. */
  logTails(lines?: number): string;
  stop(): Promise<void>;
}

/**
 * Starts etcd, kube-apiserver, kube-controller-manager and kube-scheduler on free 127.0.0.1
 * ports in a fresh temp dir and waits until each reports healthy.
 */
export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  reapOrphanedClusters();
  const dir = mkdtempSync(join(tmpdir(), clusterDirPrefix));
  const keep = !!options.keepDir || process.env.KUORUM_E2E_KEEP === '1';
  claimClusterDir(dir, keep);
  const logs = join(dir, 'logs');
  mkdirSync(logs);
  const processes: ManagedProcess[] = [];
  const [etcdClient, etcdPeer, apiPort, kcmPort, schedulerPort] = await Promise.all(
    Array.from({ length: 5 }, () => freePort()),
  ) as [number, number, number, number, number];
  const apiUrl = `https://127.0.0.1:${apiPort}`;

  const pki = createPki(
    join(dir, 'pki'),
    ['127.0.0.1', firstServiceIp, ...(options.extraApiServerIps ?? [])],
    ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'],
  );
  const kubeconfigFor = (name: string, user: string, groups: string[] = []): string => {
    const client = issueClientCert(pki, name, user, groups);
    return writeKubeconfig(join(dir, `${name}.kubeconfig`), apiUrl, pki.caCert, user, client.cert, client.key);
  };
  const kubeconfigPath = kubeconfigFor('admin', 'kuorum-admin', ['system:masters']);
  // The API server's identity towards kubelets (logs); kubelets accept any client of the cluster CA.
  const kubeletClient = issueClientCert(pki, 'apiserver-kubelet-client', 'kube-apiserver-kubelet-client', ['kubeadm:cluster-admins']);
  const kcmKubeconfig = kubeconfigFor('controller-manager', 'system:kube-controller-manager');
  const schedulerKubeconfig = kubeconfigFor('scheduler', 'system:kube-scheduler');

  const start = (name: string, args: string[]): ManagedProcess => {
    const proc = spawnManaged(name, binary(name as Parameters<typeof binary>[0]), args, {
      logPath: join(logs, `${name}.log`),
      env: { ...process.env, [ownerEnv]: dir },
    });
    processes.push(proc);
    return proc;
  };

  const logTails = (lines = 30): string =>
    processes.map((p) => `----- ${p.name} (${p.logPath}) -----\n${tailFile(p.logPath, lines)}`).join('\n');

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    for (const proc of [...processes].reverse()) await proc.stop(5000);
    if (!keep) rmSync(dir, { recursive: true, force: true });
  };

  try {
    const etcd = start('etcd', [
      '--name=default', `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdClient}`, `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`, `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
      // A throwaway test store on a shared disk: durability buys nothing here.
      '--unsafe-no-fsync', '--log-level=warn',
    ]);
    await waitHealthy('etcd', { url: `http://127.0.0.1:${etcdClient}/health` }, etcd.running, 30_000);

    const apiserver = start('kube-apiserver', [
      `--etcd-servers=http://127.0.0.1:${etcdClient}`,
      '--bind-address=127.0.0.1', `--secure-port=${apiPort}`, `--advertise-address=${options.advertiseAddress ?? '127.0.0.1'}`,
      `--tls-cert-file=${pki.apiServerCert}`, `--tls-private-key-file=${pki.apiServerKey}`,
      `--client-ca-file=${pki.caCert}`,
      `--requestheader-client-ca-file=${pki.frontProxyCaCert}`, '--requestheader-allowed-names=front-proxy-client',
      '--requestheader-username-headers=X-Remote-User', '--requestheader-group-headers=X-Remote-Group',
      '--requestheader-extra-headers-prefix=X-Remote-Extra-',
      `--proxy-client-cert-file=${pki.frontProxyClientCert}`, `--proxy-client-key-file=${pki.frontProxyClientKey}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${pki.serviceAccountPub}`,
      `--service-account-signing-key-file=${pki.serviceAccountKey}`,
      `--service-cluster-ip-range=${serviceClusterIpRange}`,
      '--authorization-mode=Node,RBAC',
      '--enable-admission-plugins=NodeRestriction',
      '--allow-privileged=true',
      `--kubelet-client-certificate=${kubeletClient.cert}`, `--kubelet-client-key=${kubeletClient.key}`,
      '--kubelet-preferred-address-types=InternalIP,Hostname',
      '--profiling=false',
      `--cert-dir=${join(dir, 'apiserver')}`,
    ]);
    await waitHealthy('kube-apiserver', { url: `${apiUrl}/readyz`, caCert: pki.caCert }, apiserver.running, 90_000);

    const common = (kubeconfig: string, port: number, name: string): string[] => [
      `--kubeconfig=${kubeconfig}`, `--authentication-kubeconfig=${kubeconfig}`, `--authorization-kubeconfig=${kubeconfig}`,
      '--bind-address=127.0.0.1', `--secure-port=${port}`, `--cert-dir=${join(dir, name)}`, '--leader-elect=false',
    ];
    const kcm = start('kube-controller-manager', [
      ...common(kcmKubeconfig, kcmPort, 'kube-controller-manager'),
      // Every default controller, which includes statefulset, garbage-collector, endpoints,
      // endpointslice, persistentvolume-binder, pv-protection, pvc-protection, namespace,
      // serviceaccount, serviceaccount-token, root-ca-certificate-publisher and node-lifecycle.
      '--controllers=*',
      '--use-service-account-credentials=true',
      `--service-account-private-key-file=${pki.serviceAccountKey}`,
      `--root-ca-file=${pki.caCert}`,
      `--cluster-signing-cert-file=${pki.caCert}`, `--cluster-signing-key-file=${pki.caKey}`,
    ]);
    const scheduler = start('kube-scheduler', common(schedulerKubeconfig, schedulerPort, 'kube-scheduler'));
    await Promise.all([
      waitHealthy('kube-controller-manager', { url: `https://127.0.0.1:${kcmPort}/healthz` }, kcm.running, 60_000),
      waitHealthy('kube-scheduler', { url: `https://127.0.0.1:${schedulerPort}/healthz` }, scheduler.running, 60_000),
    ]);
  } catch (err) {
    const report = logTails();
    await stop();
    throw new Error(`${(err as Error).message}\n${report}`, { cause: err });
  }

  return { dir, apiUrl, apiPort, kubeconfigPath, pki, kubeconfigFor, logTails, stop };
}
