/** Opens a data dir and starts a node: storage, state machine, transport, Ready loop, HTTP API. */
import type { FastifyInstance } from 'fastify';
import { tickSettings, type NodeConfig } from './config.js';
import { openStateMachine } from './kv-adapter.js';
import type { JsonLogger } from './logger.js';
import { NodeMetrics } from './metrics.js';
import type { StateMachine } from './node-ports.js';
import { KuorumNode } from './node.js';
import { buildHttpServer } from './server/app.js';
import { DataDirError, RaftLogStore, openIdentity, randomId64, readRemovalMark, recordClusterId, writeRemovalMark } from './storage/index.js';
import { stateSnapshotSource } from './state-snapshot-source.js';
import { PeerTransportAdapter } from './transport-adapter.js';

export interface RunningNode {
  node: KuorumNode;
  http: FastifyInstance;
  metrics: NodeMetrics;
  /** Graceful stop: a leader hands over leadership first, then HTTP, the loop, gRPC and LevelDB close. */
  shutdown(): Promise<void>;
}

export interface StartOptions {
  /** Default: log and exit the process (a failed fsync leaves the disk state unknown). */
  onFatal?: (err: Error) => void;
  /** Collect process metrics (off in tests that run several nodes in one process). */
  processMetrics?: boolean;
}

export async function startNode(cfg: NodeConfig, log: JsonLogger, opts: StartOptions = {}): Promise<RunningNode> {
  let { identity } = await openIdentity(cfg.dataDir, { name: cfg.name });
  const removal = await readRemovalMark(cfg.dataDir, identity);
  if (removal) log.warn('this data dir belongs to a member removed from its cluster: it starts as removed and never campaigns; empty the data dir to join as a new member', { ...removal });
  // The state machine's LevelDB first: its lock keeps a second process off this data dir,
  // the Raft log (a plain WAL) has none of its own.
  const kv = await openStateMachine(cfg.dataDir, { historyWindow: cfg.watchHistory, keyCacheBytes: cfg.keyCacheBytes });
  let store;
  try {
    store = await RaftLogStore.open(cfg.dataDir);
  } catch (err) {
    await kv.close();
    throw err;
  }
  try {
    await catchUpWithSnapshot(store, kv, log);
  } catch (err) {
    await kv.close();
    await store.close();
    throw err;
  }

  const metrics = new NodeMetrics({ processMetrics: opts.processMetrics ?? true });
  const transport = new PeerTransportAdapter(
    {
      selfId: identity.memberId,
      clusterId: identity.clusterId ?? '',
      advertiseAddress: cfg.advertisePeer,
      logger: log.child({ component: 'transport' }),
      // A lagging follower's snapshot is the state as of sending, encoded as it is streamed.
      snapshotData: () => stateSnapshotSource(kv),
    },
    `${cfg.listenPeer.host}:${cfg.listenPeer.port}`,
  );
  const ticks = tickSettings(cfg);
  const node = new KuorumNode(
    {
      name: cfg.name,
      advertisePeer: cfg.advertisePeer,
      ...ticks,
      electionTimeoutMs: cfg.electionTimeoutMs,
      snapshotThreshold: cfg.snapshotThreshold,
      snapshotCatchupEntries: cfg.snapshotCatchupEntries,
      proposalTimeoutMs: cfg.proposalTimeoutMs,
      promoteMaxLag: 1000,
    },
    {
      memberId: identity.memberId,
      clusterId: identity.clusterId,
      store,
      kv,
      transport,
      metrics,
      log,
      recordClusterId: async (clusterId) => {
        identity = await recordClusterId(cfg.dataDir, identity, clusterId);
      },
      newClusterId: randomId64,
      removed: removal !== null,
      recordRemoved: (clusterId, learnedBy) =>
        writeRemovalMark(cfg.dataDir, { formatVersion: 1, memberId: identity.memberId, clusterId, learnedBy, recordedAt: new Date().toISOString() }),
      onFatal:
        opts.onFatal ??
        ((err) => {
          log.fatal({ err }, 'fatal error; exiting');
          process.exit(1);
        }),
    },
  );
  try {
    await node.start();
  } catch (err) {
    await Promise.allSettled([transport.stop(), kv.close(), store.close()]);
    throw err;
  }

  let http: FastifyInstance;
  try {
    http = await buildHttpServer({
      node,
      metrics,
      limits: { maxKeyBytes: cfg.maxKeyBytes, maxValueBytes: cfg.maxValueBytes, forwardTimeoutMs: cfg.proposalTimeoutMs + 2000 },
      logger: log.child({ component: 'http' }),
    });
    await http.listen({ host: cfg.listenHttp.host, port: cfg.listenHttp.port });
  } catch (err) {
    await node.stop();
    throw err;
  }
  log.info('serving', { http: `${cfg.listenHttp.host}:${cfg.listenHttp.port}`, peer: `${cfg.listenPeer.host}:${cfg.listenPeer.port}`, advertisePeer: cfg.advertisePeer, id: identity.memberId });

  if (cfg.bootstrap) {
    if (node.canBootstrap()) await node.bootstrap();
    else log.info('--bootstrap ignored: the data dir already belongs to a cluster');
  }

  let stopping: Promise<void> | null = null;
  return {
    node,
    http,
    metrics,
    shutdown: () =>
      (stopping ??= (async () => {
        await node.handOverLeadership(cfg.shutdownTimeoutMs);
        await http.close();
        await node.stop();
      })()),
  };
}

/**
 * Refuses a state machine without its Raft log (lost: starting empty would forget the term and
 * vote). The state machine's writes are not fsynced, but taking a snapshot syncs them first: it is never
 * behind the Raft log's snapshot, unless that snapshot came from the leader (its data is in the
 * snapshot file, written before the state was replaced) or from a version that kept every
 * snapshot's data in a file.
 */
async function catchUpWithSnapshot(store: RaftLogStore, kv: StateMachine, log: JsonLogger): Promise<void> {
  if (store.isEmpty() && kv.appliedIndex() > 0) {
    // Starting on an empty log would forget this member's term and vote: it could vote twice in a term.
    throw new DataDirError('log_missing', store.walDir, `the Raft log is empty, but the state machine is applied up to index ${kv.appliedIndex()}: the log was lost; empty the data dir and add this node as a new member`);
  }
  const snap = store.storage.snapshot();
  if (kv.appliedIndex() >= snap.metadata.index) return;
  const data = await store.readSnapshotData();
  if (data.length === 0) {
    throw new DataDirError('state_behind_snapshot', store.snapDir, `the state machine is applied up to index ${kv.appliedIndex()}, behind the Raft log's snapshot at ${snap.metadata.index}, and that snapshot has no data of its own (it is the state machine's): the state dir was replaced or lost writes; empty the data dir and add this node as a new member`);
  }
  log.info('restoring the state machine from the latest snapshot', { applied: kv.appliedIndex(), snapshotIndex: snap.metadata.index });
  await kv.restore(data, snap.metadata.index);
}
