import { describe, expect, it } from 'vitest';
import { NodeMetrics, type LoopGaugeValues } from '../../../node/src/metrics.js';

const values: LoopGaugeValues = { term: 4, isLeader: true, hasLeader: true, commitIndex: 30, appliedIndex: 29, snapshotIndex: 10, proposalsPending: 2, peerLag: [['n2', 0], ['n3', 5]] };

describe('loop gauges', () => {
  it('show the loop state as of the scrape', async () => {
    const m = new NodeMetrics();
    let current: LoopGaugeValues | undefined;
    m.loopSource = () => current;
    expect(await m.registry.metrics()).toMatch(/^kuorum_term 0$/m); // before the node runs
    current = values;
    const text = await m.registry.metrics();
    for (const line of ['kuorum_term 4', 'kuorum_is_leader 1', 'kuorum_has_leader 1', 'kuorum_commit_index 30', 'kuorum_applied_index 29', 'kuorum_snapshot_index 10', 'kuorum_proposals_pending 2', 'kuorum_peer_replication_lag_entries{peer="n2"} 0', 'kuorum_peer_replication_lag_entries{peer="n3"} 5']) {
      expect(text.split('\n')).toContain(line);
    }
    current = { ...values, term: 5, isLeader: false, peerLag: [['n2', 1]] };
    const later = (await m.registry.metrics()).split('\n');
    expect(later).toContain('kuorum_term 5');
    expect(later).toContain('kuorum_is_leader 0');
    expect(later).toContain('kuorum_peer_replication_lag_entries{peer="n2"} 1');
    expect(later.some((l) => l.includes('peer="n3"'))).toBe(false); // a peer no longer tracked is dropped
  });
});
