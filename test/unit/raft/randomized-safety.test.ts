// A small seeded chaos run over the in-process network: random ticks, message loss, duplication
// and reordering, partitions and restarts. After every step the Raft safety properties must hold.
// (The whole-cluster simulator in test/sim goes much further; this keeps the core honest on its own.)
import { describe, expect, it } from 'vitest';
import type { Message } from '../../../node/src/raft/index.js';
import { dec, enc, Network, type TestNode } from './network.js';

function prng(seed: number): (n: number) => number {
  let s = seed >>> 0 || 1;
  return (n: number) => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) % n;
  };
}

function runSchedule(seed: number): void {
  const rnd = prng(seed);
  const ids = ['a', 'b', 'c', 'd', 'e'].slice(0, 3 + (seed % 3));
  const net = new Network(ids, { randomInt: (n) => rnd(n), maxSizePerMsg: 64, maxInflightMsgs: 2 });
  const leaders = new Map<number, string>();
  const committed = new Map<number, string>(); // index → the payload everyone must apply there
  const checked = new WeakMap<TestNode, number>(); // how much of each node's applied list was checked
  let proposed = 0;
  net.filter = () => rnd(100) >= 15; // 15% loss
  for (let step = 0; step < 400; step++) {
    const r = rnd(100);
    if (r < 55) {
      for (const n of net.nodes.values()) n.raw.tick();
    } else if (r < 75) {
      const n = net.node(ids[rnd(ids.length)]!);
      try {
        n.raw.propose(enc(`v${proposed++}`));
      } catch {
        // dropped: no leader, transfer in progress, …
      }
    } else if (r < 80) {
      net.isolate(ids[rnd(ids.length)]!);
    } else if (r < 88) {
      net.heal();
    } else if (r < 91) {
      net.restart(ids[rnd(ids.length)]!);
    } else if (r < 94) {
      const q = net.queue;
      if (q.length > 1) {
        const i = rnd(q.length);
        const j = rnd(q.length);
        [q[i], q[j]] = [q[j]!, q[i]!]; // reorder
        q.push({ ...(q[rnd(q.length)] as Message) }); // duplicate
      }
    } else {
      const st = net.node(ids[rnd(ids.length)]!).raw.status();
      if (st.role === 'leader') net.node(st.id).raw.transferLeadership(ids[rnd(ids.length)]!);
    }
    net.deliverAll();
    for (const n of net.nodes.values()) {
      const st = n.raw.status();
      if (st.role === 'leader') {
        const prev = leaders.get(st.term);
        expect(prev === undefined || prev === st.id, `two leaders in term ${st.term}`).toBe(true);
        leaders.set(st.term, st.id);
      }
      // State machine safety: every node applies the same entry at each index.
      for (let i = checked.get(n) ?? 0; i < n.applied.length; i++) {
        const e = n.applied[i]!;
        const data = dec(e.data);
        const agreed = committed.get(e.index);
        if (agreed === undefined) committed.set(e.index, data);
        else expect(data, `seed ${seed}: ${n.id} applied a different entry at index ${e.index}`).toBe(agreed);
      }
      checked.set(n, n.applied.length);
    }
  }
  // Liveness after healing: one leader and a new write applied everywhere.
  net.filter = () => true;
  net.heal();
  let accepted = false;
  for (let i = 0; i < 100 && !accepted; i++) {
    net.tickAll(1);
    const leaders = net.leaderIds();
    if (leaders.length !== 1) continue;
    try {
      net.node(leaders[0]!).raw.propose(enc('final'));
      accepted = true;
    } catch {
      // e.g. a leadership transfer is still in progress
    }
  }
  expect(accepted, `seed ${seed}: no leader accepted a write after healing`).toBe(true);
  for (let i = 0; i < 30; i++) net.tickAll(1);
  for (const id of ids) expect(net.appliedData(id).at(-1), `seed ${seed}: ${id} did not apply the final write`).toBe('final');
}

describe('randomized safety (seeded)', () => {
  it('keeps election safety and state machine safety over 40 chaotic schedules, then recovers', () => {
    for (let seed = 1; seed <= 40; seed++) runSchedule(seed);
  });
});
