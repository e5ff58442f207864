import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { BoundHistogram, type HistogramCell } from './bound-histogram.js';

export interface LoopGaugeValues {
  term: number;
  isLeader: boolean;
  hasLeader: boolean;
  commitIndex: number;
  appliedIndex: number;
  snapshotIndex: number;
  proposalsPending: number;
  /** On the leader: entries between its last index and each peer's match index; absent elsewhere. */
  peerLag?: Iterable<[peer: string, lag: number]>;
}

/** Everything the node exports on /metrics. One registry per node (tests run several in a process). */
export class NodeMetrics {
  readonly registry = new Registry();

  /**
   * The Raft loop's state, read on each scrape: the gauges below show it (setting them on every
   * pass of the loop cost the loop more than scrapes do). Undefined until the node runs.
   */
  loopSource: () => LoopGaugeValues | undefined = () => undefined;
  readonly term = this.loopGauge('kuorum_term', 'Current Raft term.', (v) => v.term);
  readonly isLeader = this.loopGauge('kuorum_is_leader', '1 if this node is the leader.', (v) => (v.isLeader ? 1 : 0));
  readonly hasLeader = this.loopGauge('kuorum_has_leader', '1 if this node knows a leader.', (v) => (v.hasLeader ? 1 : 0));
  readonly leaderChanges = new Counter({ name: 'kuorum_leader_changes_total', help: 'Leader changes seen by this node.', registers: [this.registry] });
  readonly commitIndex = this.loopGauge('kuorum_commit_index', 'Raft commit index.', (v) => v.commitIndex);
  readonly appliedIndex = this.loopGauge('kuorum_applied_index', 'Index of the last entry applied to the state machine.', (v) => v.appliedIndex);
  readonly snapshotIndex = this.loopGauge('kuorum_snapshot_index', 'Index of the latest snapshot.', (v) => v.snapshotIndex);
  /** Counted on every write as a plain number (prom-client's inc() hashes a labels object per call); exported on each scrape. */
  proposalsCommittedCount = 0;
  readonly proposalsCommitted: Counter = (() => {
    const metrics = this; // eslint-disable-line @typescript-eslint/no-this-alias
    return new Counter({
      name: 'kuorum_proposals_committed_total',
      help: 'Proposals by this node that were committed and applied.',
      registers: [this.registry],
      collect() {
        this.reset();
        if (metrics.proposalsCommittedCount > 0) this.inc(metrics.proposalsCommittedCount);
      },
    });
  })();
  readonly proposalsFailed = new Counter({
    name: 'kuorum_proposals_failed_total',
    help: 'Proposals by this node that failed (dropped, timed out, lost leadership).',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly raftMessagesWithheld = new Counter({
    name: 'kuorum_raft_messages_withheld_total',
    help: 'Raft messages this node did not send because it knows it was removed from the cluster.',
    registers: [this.registry],
  });
  readonly proposalsPending = this.loopGauge('kuorum_proposals_pending', 'Proposals by this node waiting to be applied.', (v) => v.proposalsPending);
  /** Observed per Ready and per applied batch: BoundHistogram cells (prom-client's observe() hashes a labels object per call). */
  readonly fsyncDuration: HistogramCell = new BoundHistogram(
    'kuorum_fsync_duration_seconds',
    'Time from handing one Ready to the Raft log until it is durable (one synced append, after the writes before it).',
    [],
    [0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1],
    this.registry,
  ).cell();
  readonly applyDuration: HistogramCell = new BoundHistogram(
    'kuorum_apply_duration_seconds',
    'Time to apply one batch of committed entries.',
    [],
    [0.0001, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256],
    this.registry,
  ).cell();
  readonly peerLag: Gauge = (() => {
    const metrics = this; // eslint-disable-line @typescript-eslint/no-this-alias
    return new Gauge({
      name: 'kuorum_peer_replication_lag_entries',
      help: 'On the leader: entries between its last index and each peer\'s match index.',
      labelNames: ['peer'],
      registers: [this.registry],
      collect() {
        const lags = metrics.loopSource()?.peerLag;
        if (!lags) return;
        this.reset();
        for (const [peer, lag] of lags) this.set({ peer }, lag);
      },
    });
  })();
  /** Where peer error counts come from (the transport keeps monotonic counters); read on each scrape. */
  peerErrorSource: () => { peer: string; kind: string; count: number }[] = () => [];
  readonly peerMessageErrors: Counter = (() => {
    const metrics = this; // eslint-disable-line @typescript-eslint/no-this-alias
    return new Counter({
      name: 'kuorum_peer_message_errors_total',
      help: 'Peer messages that were dropped, failed to send or were rejected, by peer and kind.',
      labelNames: ['peer', 'kind'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const e of metrics.peerErrorSource()) if (e.count > 0) this.inc({ peer: e.peer, kind: e.kind }, e.count);
      },
    });
  })();
  /** Observed on every HTTP request: cells are looked up once per label set (see BoundHistogram). */
  readonly httpDuration = new BoundHistogram(
    'kuorum_http_request_duration_seconds',
    'HTTP request duration by method, route and status.',
    ['method', 'route', 'status'],
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    this.registry,
  );

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'kuorum_process_' });
  }

  private loopGauge(name: string, help: string, pick: (v: LoopGaugeValues) => number): Gauge {
    const metrics = this; // eslint-disable-line @typescript-eslint/no-this-alias
    return new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        const v = metrics.loopSource();
        if (v) this.set(pick(v));
      },
    });
  }
}
