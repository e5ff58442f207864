// kuorum-operator: reconciles RaftCluster objects. Runs in a cluster (service account) or outside
// one (--kubeconfig or KUBECONFIG), with leader election on a Lease.
import { CoordinationV1Api, KubeConfig } from '@kubernetes/client-node';
import { ConfigError, parseConfig } from './config.js';
import { startHttpServer } from './http-server.js';
import { makeInformers, type InformerSet } from './informers.js';
import { KubeClient } from './kube.js';
import { LeaderElector } from './leader-election.js';
import { OperatorMetrics } from './metrics.js';
import { NodeClient } from './node-client.js';
import { Reconciler } from './reconciler.js';
import { WorkQueue } from './workqueue.js';

function log(msg: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), msg, ...fields })}\n`);
}

async function main(): Promise<void> {
  let config;
  try {
    config = parseConfig(process.argv.slice(2), process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const kc = new KubeConfig();
  if (config.kubeconfig) kc.loadFromFile(config.kubeconfig);
  else kc.loadFromDefault();

  const metrics = new OperatorMetrics();
  metrics.isLeader.set(0);
  const nodes = new NodeClient({ timeoutMs: config.nodeTimeoutMs, port: config.nodePort });
  const kube = new KubeClient(kc, config.identity);
  let informers: InformerSet | undefined;
  let started = false;
  let queue: WorkQueue | undefined;

  const startReconciling = (): void => {
    metrics.isLeader.set(1);
    // Keys seen before every cache has listed wait: reconciling against a half-filled cache would
    // take a StatefulSet that is merely not listed yet for one that does not exist.
    const early = new Set<string>();
    const enqueue = (key: string): void => {
      if (started && queue) queue.add(key);
      else early.add(key);
    };
    const inf = makeInformers(kc, config.namespace, enqueue, log);
    informers = inf;
    const reconciler = new Reconciler(inf.caches, kube, nodes, metrics, log);
    queue = new WorkQueue((key) => reconciler.reconcile(key), { workers: config.workers, baseDelayMs: 250, maxDelayMs: 60_000 }, (key, err) =>
      log('reconcile failed', { cluster: key, error: (err as Error).message }),
    );
    const q = queue;
    const waitForSync = (): void => {
      if (!inf.synced()) {
        setTimeout(waitForSync, 100);
        return;
      }
      started = true;
      for (const c of inf.caches.clusters.list()) early.add(`${c.metadata.namespace}/${c.metadata.name}`);
      for (const key of early) q.add(key);
      early.clear();
      log('caches synced; reconciling', { namespace: config.namespace ?? '(all)' });
    };
    inf.start().then(waitForSync, (err: Error) => log('informers failed to start', { error: err.message }));
  };

  const elector = config.leaderElect
    ? new LeaderElector(
        kc.makeApiClient(CoordinationV1Api),
        { namespace: config.leaseNamespace, name: config.leaseName, identity: config.identity, leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 },
        {
          onStartedLeading: startReconciling,
          onStoppedLeading: () => {
            // Another replica may already be acting: stop at once and let the pod restart clean.
            log('leadership lost; exiting');
            process.exit(1);
          },
          log,
        },
      )
    : undefined;
  const server = await startHttpServer(config.httpAddress.host, config.httpAddress.port, metrics.registry, () => (started && informers?.healthy() === true) || (elector !== undefined && !elector.isLeader));
  log('listening', { address: `${config.httpAddress.host}:${config.httpAddress.port}` });

  if (elector) elector.start();
  else startReconciling();

  let stopping = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log('shutting down', { signal });
    queue?.stop();
    // Let a step in flight finish before the lease is handed over, so two leaders never overlap.
    if (queue) await Promise.race([queue.idle(), new Promise((r) => setTimeout(r, 10_000))]);
    await informers?.stop().catch(() => {});
    await elector?.stop();
    server.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err: Error) => {
  log('fatal', { error: err.message, stack: err.stack });
  process.exit(1);
});
