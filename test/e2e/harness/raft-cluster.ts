// Helpers the operator e2e tests share: polling with a failure report, a RaftCluster manifest,
// reading a RaftCluster, and the "N healthy voters" condition.
import type { CustomObjectsApi } from '@kubernetes/client-node';
import type { RaftCluster } from '../../../operator/src/types.js';

export interface PollOptions {
  timeoutMs: number;
  everyMs?: number;
  /** Appended to the timeout error (cluster diagnostics, logs). */
  report?: () => string | Promise<string>;
  /** Checked before each probe: a reason to give up at once (e.g. the process under test exited). */
  giveUp?: () => string | undefined;
}

/** Polls `probe` until it returns a value; a thrown error counts as "not yet" and the last one is reported on timeout. */
export async function pollUntil<T>(what: string, probe: () => Promise<T | undefined>, options: PollOptions): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    const reason = options.giveUp?.();
    if (reason) throw new Error(`gave up waiting for ${what}: ${reason}`);
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, options.everyMs ?? 1000));
  }
  const report = options.report ? `\n${await options.report()}` : '';
  throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}${report}`);
}

/** A 3-member RaftCluster on the e2e node image with the bench's Raft timings. */
export function raftClusterManifest(name: string, namespace: string): string {
  return `
apiVersion: kuorum.dev/v1alpha1
kind: RaftCluster
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
  replicas: 3
  image: localhost/kuorum:0.1.0
  storage:
    size: 100Mi
  raft:
    electionTimeoutMs: 1000
    heartbeatIntervalMs: 100
`;
}

export async function readRaftCluster(custom: CustomObjectsApi, namespace: string, name: string): Promise<RaftCluster> {
  return (await custom.getNamespacedCustomObject({ group: 'kuorum.dev', version: 'v1alpha1', namespace, plural: 'raftclusters', name })) as RaftCluster;
}

/** Running, with `voters` ready replicas and `voters` healthy voting members in its status. */
export function hasHealthyVoters(rc: RaftCluster, voters: number): boolean {
  const s = rc.status;
  return s?.phase === 'Running' && s.replicas === voters && s.readyReplicas === voters &&
    (s.members ?? []).filter((m) => m.role === 'voter' && m.healthy).length === voters;
}

export const memberIds = (rc: RaftCluster): Record<string, string> => Object.fromEntries((rc.status?.members ?? []).map((m) => [m.name, m.id]));
