/** Waits until members agree on their logs, then compares what each holds for a set of keys. */
import { waitFor } from '../harness.js';
import type { NsCluster, NodeStatus } from './ns-cluster.js';
import type { NsNode } from './ns-node.js';

/** Every member reports the same commit, last index and leader, and has applied all it committed. */
export async function waitConverged(cluster: NsCluster, nodes: NsNode[], timeoutMs = 30_000): Promise<NodeStatus[]> {
  let last: (NodeStatus | undefined)[] = [];
  try {
    return await waitFor(
      'the members to converge',
      async () => {
        last = await Promise.all(nodes.map((n) => cluster.statusOf(n)));
        const all = last.filter((s): s is NodeStatus => s !== undefined);
        if (all.length !== nodes.length) return undefined;
        const [first] = all;
        const agree = all.every((s) => s.commit === first!.commit && s.applied === s.commit && s.lastIndex === first!.lastIndex && s.leaderId === first!.leaderId && s.leaderId);
        return agree ? all : undefined;
      },
      timeoutMs,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; last statuses: ${JSON.stringify(last)}`, { cause: err });
  }
}

export interface KeyCopy {
  node: string;
  status: number;
  value: string;
  etag: string | null;
}

/** What each node holds locally (serializable read) for `key`. */
export async function localCopies(nodes: NsNode[], key: string): Promise<KeyCopy[]> {
  return Promise.all(
    nodes.map(async (n) => {
      const r = await n.request('GET', `/v1/kv/${key}?consistency=serializable`);
      return { node: n.name, status: r.status, value: r.status === 200 ? r.text : '', etag: r.headers.get('etag') };
    }),
  );
}
