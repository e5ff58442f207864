// Prometheus metrics of the operator, all named kuorum_operator_*.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class OperatorMetrics {
  readonly registry = new Registry();
  readonly reconciles = new Counter({ name: 'kuorum_operator_reconcile_total', help: 'Reconciles by result.', labelNames: ['result'] as const, registers: [this.registry] });
  readonly reconcileDuration = new Histogram({
    name: 'kuorum_operator_reconcile_duration_seconds',
    help: 'Time to reconcile one RaftCluster.',
    buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly membershipChanges = new Counter({
    name: 'kuorum_operator_membership_changes_total',
    help: 'Membership and rollout steps carried out, by action.',
    labelNames: ['action'] as const,
    registers: [this.registry],
  });
  readonly members = new Gauge({ name: 'kuorum_operator_cluster_members', help: 'Raft members by role.', labelNames: ['namespace', 'cluster', 'role'] as const, registers: [this.registry] });
  readonly readyReplicas = new Gauge({ name: 'kuorum_operator_cluster_ready_replicas', help: 'Ready member pods.', labelNames: ['namespace', 'cluster'] as const, registers: [this.registry] });
  readonly faultTolerance = new Gauge({ name: 'kuorum_operator_cluster_fault_tolerance', help: 'Voters that may still fail without losing quorum.', labelNames: ['namespace', 'cluster'] as const, registers: [this.registry] });
  readonly hasLeader = new Gauge({ name: 'kuorum_operator_cluster_has_leader', help: '1 when the cluster has a reachable leader.', labelNames: ['namespace', 'cluster'] as const, registers: [this.registry] });
  readonly isLeader = new Gauge({ name: 'kuorum_operator_is_leader', help: '1 when this operator replica holds the leader-election lease.', registers: [this.registry] });

  constructor(defaultMetrics = true) {
    if (defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'kuorum_operator_' });
  }

  forgetCluster(namespace: string, cluster: string): void {
    for (const g of [this.readyReplicas, this.faultTolerance, this.hasLeader]) g.remove({ namespace, cluster });
    for (const role of ['voter', 'learner']) this.members.remove({ namespace, cluster, role });
  }
}
