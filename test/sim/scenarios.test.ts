import { describe, expect, it } from 'vitest';
import { InvariantViolation } from './safety-checker.js';
import { Simulation, type SimParams } from './simulation.js';
import { CALM_NETWORK } from './network.js';
import type { SimNode } from './sim-node.js';
import { durableTerm } from './log-view.js';
import { checkLiveness } from './run-seed.js';
import { KvMachine } from './kv-machine.js';

function calm(initialVoters: number, seed = 7): SimParams {
  return {
    seed,
    initialVoters,
    core: {
      electionTick: 10,
      heartbeatTick: 1,
      maxSizePerMsg: 64 * 1024,
      maxInflightMsgs: 64,
      maxUncommittedEntriesSize: 0,
      maxCommittedSizePerReady: 0,
      snapshotEvery: 1000,
      keepEntries: 5,
    },
    faults: { ...CALM_NETWORK },
    diskSlowChance: 0,
    diskMaxDelay: 1,
  };
}

function electLeader(sim: Simulation): SimNode {
  expect(sim.runTicks(200, () => sim.leader() !== undefined), 'a leader is elected').toBe(true);
  return sim.leader()!;
}

function commitOne(sim: Simulation, at: SimNode, key = 'k'): string {
  const [id] = sim.propose(at.id, key);
  expect(sim.runTicks(100, () => sim.checker.isAcked(id!)), `write ${id} is acknowledged`).toBe(true);
  return id!;
}

describe('simulator scenarios', () => {
  it('a partitioned old leader cannot commit, and the majority moves on', () => {
    const sim = new Simulation(calm(5));
    const old = electLeader(sim);
    commitOne(sim, old);
    const commitBefore = old.status()!.commit;
    const oldTerm = old.term;
    const others = [...sim.nodes.keys()].filter((id) => id !== old.id);
    sim.partition([[old.id], others]);
    const stranded = sim.propose(old.id, 'k', 3);
    sim.runTicks(100);
    expect(old.status()!.commit).toBe(commitBefore);
    expect(stranded.some((w) => sim.checker.isAcked(w))).toBe(false);
    const fresh = sim.leader()!;
    expect(fresh.id).not.toBe(old.id);
    expect(fresh.term).toBeGreaterThan(oldTerm);
    commitOne(sim, fresh);
    // A linearizable read at the old leader must not be answered from its stale state.
    const served = sim.stats.readsServed;
    sim.read(old.id, 'k');
    sim.runTicks(50);
    expect(sim.stats.readsServed).toBe(served);
    sim.heal();
    sim.runTicks(100);
    // The old leader rejoined as a follower and its stranded entries were replaced.
    expect(old.role).toBe('follower');
    expect(old.kv.applied).toBe(fresh.kv.applied);
    expect(stranded.some((w) => sim.checker.indexOfWrite(w) !== undefined)).toBe(false);
  });

  it('a forwarded read is not answered at once when the requester and a deposed leader are no quorum (5 voters)', () => {
    const sim = new Simulation(calm(5, 13));
    const old = electLeader(sim);
    commitOne(sim, old);
    const ids = [...sim.nodes.keys()].filter((id) => id !== old.id);
    const [follower, next] = [ids[0]!, ids[1]!];
    const majority = ids.slice(1);
    sim.partition([[old.id, follower], majority]);
    sim.network.restore(old.id, next); // only for the transfer's timeoutNow: the old leader hears nothing back
    sim.transfer(old.id, next);
    expect(sim.runTicks(5, () => sim.node(next).role === 'leader'), 'the majority elects a new leader at once').toBe(true);
    const newer = commitOne(sim, sim.node(next));
    expect(old.role, 'the old leader does not know yet').toBe('leader');
    // The follower still follows the old leader; with the forwarder as one ack of five, a read
    // answered without a heartbeat round would miss the newer write.
    const served = sim.stats.readsServed;
    sim.read(follower, 'k');
    sim.runTicks(3);
    expect(sim.checker.isAcked(newer)).toBe(true);
    expect(sim.stats.readsServed).toBe(served);
  });

  it('a minority side commits nothing', () => {
    const sim = new Simulation(calm(5, 11));
    const leader = electLeader(sim);
    const ids = [...sim.nodes.keys()];
    const minority = [leader.id, ids.find((id) => id !== leader.id)!];
    const majority = ids.filter((id) => !minority.includes(id));
    sim.partition([minority, majority]);
    const commits = minority.map((id) => sim.node(id).status()!.commit);
    const writes = minority.flatMap((id) => sim.propose(id, 'm'));
    sim.runTicks(150);
    expect(minority.map((id) => sim.node(id).status()!.commit)).toEqual(commits);
    expect(writes.some((w) => sim.checker.isAcked(w))).toBe(false);
    expect(minority.every((id) => sim.node(id).role !== 'leader')).toBe(true); // CheckQuorum stepped down
    expect(majority).toContain(sim.leader()!.id);
  });

  it('a crash loses an unsynced Ready whole, and the cluster recovers', () => {
    const sim = new Simulation(calm(3, 21));
    const leader = electLeader(sim);
    commitOne(sim, leader);
    const victim = [...sim.nodes.values()].find((n) => n !== leader)!;
    // The victim's disk becomes slow; the crash hits while a Ready is being written and loses it.
    sim.diskDelayFn = (n) => (n === victim ? 100 : 0);
    sim.crashOutcomeFn = () => false;
    const before = { last: victim.storage.lastIndex(), hs: victim.storage.hardStateNow() };
    const id = sim.propose(leader.id, 'k')[0]!;
    expect(sim.runTicks(20, () => victim.writing === 'persist')).toBe(true);
    sim.crash(victim.id);
    expect(victim.storage.lastIndex()).toBe(before.last);
    expect(victim.storage.hardStateNow()).toEqual(before.hs);
    // Leader + the third node still form a quorum.
    expect(sim.runTicks(50, () => sim.checker.isAcked(id))).toBe(true);
    sim.diskDelayFn = () => 0;
    sim.restart(victim.id);
    expect(sim.runTicks(100, () => victim.kv.applied >= sim.checker.indexOfWrite(id)!)).toBe(true);
  });

  it('a crash after the batch reached the disk keeps all of it', () => {
    const sim = new Simulation(calm(3, 22));
    const leader = electLeader(sim);
    const victim = [...sim.nodes.values()].find((n) => n !== leader)!;
    sim.diskDelayFn = (n) => (n === victim ? 100 : 0);
    sim.crashOutcomeFn = () => true;
    const last = victim.storage.lastIndex();
    sim.propose(leader.id, 'k');
    expect(sim.runTicks(20, () => victim.writing === 'persist')).toBe(true);
    sim.crash(victim.id);
    expect(victim.storage.lastIndex()).toBeGreaterThan(last);
  });

  it('a lying disk that forgets votes is caught by the checkers', () => {
    // A harness-level fault that Raft cannot survive: a crash wipes the node's term and vote.
    // Across seeds the checkers must report it; this proves they can fail end to end.
    let caught: InvariantViolation | undefined;
    for (let seed = 1; seed <= 60 && !caught; seed++) {
      const sim = new Simulation(calm(3, seed));
      sim.crashOutcomeFn = () => false;
      try {
        for (let round = 0; round < 40; round++) {
          sim.runTicks(sim.rng.between(1, 12));
          const victim = sim.rng.pick([...sim.nodes.values()]);
          sim.crash(victim.id);
          victim.storage.setHardState({ ...victim.storage.hardStateNow(), vote: '', term: 0 });
          sim.restart(victim.id);
          const live = sim.liveNodes();
          sim.propose(sim.rng.pick(live).id, 'k');
        }
      } catch (e) {
        if (!(e instanceof InvariantViolation)) throw e;
        caught = e;
      }
    }
    expect(caught, 'some seed breaks a safety rule').toBeInstanceOf(InvariantViolation);
  });

  it('the liveness check fails when a majority never comes back', () => {
    const sim = new Simulation(calm(3, 41));
    electLeader(sim);
    const [a, b] = [...sim.nodes.keys()];
    sim.retire(a!);
    sim.retire(b!);
    let caught: unknown;
    try {
      checkLiveness(sim);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(InvariantViolation);
    expect((caught as InvariantViolation).rule).toBe('Liveness');
  });

  // F1 / F1b in FINDINGS.md: a joiner must learn the bootstrap membership, whether the leader's
  // snapshot is still the index-0 bootstrap one or a later one with the old entries kept.
  for (const [label, snapshotEvery] of [
    ['with the index-0 bootstrap snapshot', 1000],
    ['after the leader snapshotted but kept its log', 3],
  ] as const) {
    it(`a node added as a learner and promoted knows every voter (${label})`, () => {
      const params = calm(3, 31);
      params.core.snapshotEvery = snapshotEvery;
      params.core.keepEntries = 1000; // snapshot, but never compact: the log still starts at 1
      const sim = new Simulation(params);
      const leader = electLeader(sim);
      for (let i = 0; i < 4; i++) commitOne(sim, leader);
      const id = sim.newNodeId();
      const joiner = sim.addNode(id);
      sim.proposeConfChange(leader.id, { type: 'addLearner', nodeId: id, context: new Uint8Array() });
      expect(sim.runTicks(100, () => sim.learners.has(id) && joiner.kv.applied >= sim.checker.committedIndex)).toBe(true);
      expect(joiner.status()!.config.voters.sort()).toEqual(['n1', 'n2', 'n3']);
      sim.proposeConfChange(sim.leader()!.id, { type: 'promote', nodeId: id, context: new Uint8Array() });
      expect(sim.runTicks(100, () => sim.voters.has(id))).toBe(true);
      expect(sim.runTicks(100, () => joiner.status()!.config.voters.length === 4)).toBe(true);
      commitOne(sim, sim.leader()!);
      expect(joiner.kv.applied).toBeGreaterThan(0);
    });
  }
});

describe('snapshots carry the state as of sending', () => {
  /**
   * A follower is cut off while the leader compacts its log (snapshot at C) and then, with its next
   * snapshot stuck, applies a conf change (a new learner) and more writes up to A' > C. The
   * follower comes back: the leader's snapshot names C but carries its state at A'.
   */
  /** A 3-node cluster snapshotting every 5 entries whose leader commits 8 more while a follower is cut off. */
  function followerLeftBehind(seed: number, snapshotIndex: 'waitForCore' | 'state' = 'waitForCore') {
    const params = calm(3, seed);
    params.core.snapshotEvery = 5;
    params.core.keepEntries = 0;
    params.core.snapshotIndex = snapshotIndex;
    const sim = new Simulation(params);
    const leader = electLeader(sim);
    commitOne(sim, leader);
    const follower = [...sim.nodes.values()].find((n) => n !== leader)!;
    for (const other of sim.nodes.keys()) if (other !== follower.id) sim.disconnect(follower.id, other);
    for (let i = 0; i < 8; i++) commitOne(sim, leader);
    return { params, sim, leader, follower };
  }

  function catchUpFromAhead(snapshotIndex: 'waitForCore' | 'state', followerSnapshots: 'slow' | 'at once') {
    const { params, sim, leader, follower } = followerLeftBehind(51, snapshotIndex);
    const c = leader.storage.snapshot().metadata.index;
    expect(c, 'the leader compacted its log past the follower').toBeGreaterThan(follower.storage.lastIndex());
    sim.diskDelayFn = (n, write) => (write === 'snapshot' && (n === leader || followerSnapshots === 'slow') ? 1_000_000 : 0);
    commitOne(sim, leader);
    const learner = sim.newNodeId();
    sim.addNode(learner);
    sim.proposeConfChange(leader.id, { type: 'addLearner', nodeId: learner, context: new Uint8Array() });
    expect(sim.runTicks(100, () => sim.learners.has(learner))).toBe(true);
    for (let i = 0; i < 6; i++) commitOne(sim, leader);
    expect(leader.storage.snapshot().metadata.index).toBe(c);
    const stateAt = leader.kv.applied;
    expect(stateAt - c).toBeGreaterThanOrEqual(params.core.snapshotEvery);
    const before = { ahead: sim.stats.snapshotsAhead, skipped: sim.stats.confChangesSkipped };
    for (const other of sim.nodes.keys()) if (other !== follower.id) sim.connect(follower.id, other);
    const caughtUp = () => follower.kv.applied >= stateAt && follower.status()!.applied >= stateAt;
    return { sim, leader, follower, learner, before, caughtUp };
  }

  it("a far-behind follower installs the leader's state ahead of the snapshot, skips the entries in between, and its core applies the conf change among them", () => {
    const { sim, leader, follower, learner, before, caughtUp } = catchUpFromAhead('state', 'slow');
    expect(sim.runTicks(100, caughtUp)).toBe(true);
    expect(sim.stats.snapshotsAhead, 'the follower installed a state ahead of the snapshot').toBeGreaterThan(before.ahead);
    expect(sim.stats.confChangesSkipped, 'the conf change was skipped by the state machine, not by the core').toBeGreaterThan(before.skipped);
    expect(follower.status()!.config.learners).toEqual([learner]);
    expect(follower.kv.confState.learners).toEqual([learner]);
    commitOne(sim, leader);
    expect(sim.runTicks(50, () => follower.kv.applied === leader.kv.applied)).toBe(true);
    expect(follower.kv.digest).toBe(leader.kv.digest);
  });

  // F7 in FINDINGS.md: the node's snapshot scheduler records a snapshot at the state machine's
  // applied index, which after such an install is ahead of what the core handed out; compacting
  // the log there loses the committed entries (and the conf change) the core has yet to hand out.
  it('a snapshot at the state machine index before the core caught up compacts entries the core still needs (node bug F7)', () => {
    // Any node that installs a state ahead of its snapshot trips it: the follower, or already the new learner.
    expect(() => {
      const { sim, caughtUp } = catchUpFromAhead('state', 'at once');
      sim.runTicks(100, caughtUp);
    }).toThrow(/compacts its log to \d+, but its core handed out only up to \d+/);
  });

  it("a crash between saving a leader's snapshot and restoring the state from it: the restart restores it from the disk", () => {
    const { sim, leader, follower } = followerLeftBehind(52);
    sim.diskDelayFn = (n, write) => (n === follower && write === 'persist' ? 50 : 0);
    const outcomes = [true, false]; // the batch with the snapshot is on disk, the state restore is not
    sim.crashOutcomeFn = () => outcomes.shift() ?? false;
    for (const other of sim.nodes.keys()) if (other !== follower.id) sim.connect(follower.id, other);
    expect(sim.runTicks(50, () => follower.writing === 'persist' && follower.view.snapshotIndex() > follower.kv.applied)).toBe(true);
    sim.crash(follower.id);
    const snapIndex = follower.storage.snapshot().metadata.index;
    expect(follower.kv.applied, 'the state is behind the snapshot on disk').toBeLessThan(snapIndex);
    sim.diskDelayFn = () => 0;
    sim.restart(follower.id);
    expect(sim.stats.statesRestoredAtStart).toBe(1);
    expect(follower.kv.applied).toBeGreaterThanOrEqual(snapIndex);
    commitOne(sim, leader);
    expect(sim.runTicks(50, () => follower.kv.applied === leader.kv.applied)).toBe(true);
    expect(follower.kv.digest).toBe(leader.kv.digest);
  });

  it('a node whose state machine is behind its own snapshot (which has no data) refuses to start', () => {
    const params = calm(3, 53);
    params.core.snapshotEvery = 5;
    const sim = new Simulation(params);
    const leader = electLeader(sim);
    for (let i = 0; i < 6; i++) commitOne(sim, leader);
    const victim = [...sim.nodes.values()].find((n) => n !== leader)!;
    expect(sim.runTicks(50, () => victim.storage.snapshot().metadata.index > 0)).toBe(true);
    sim.crash(victim.id);
    victim.kv = new KvMachine(victim.kv.confState); // the state dir was replaced
    expect(() => sim.restart(victim.id)).toThrow(/behind its log's snapshot at \d+, which has no data: it refuses to start/);
  });

  it('a node that waits with its snapshot until its core has handed out up to its state keeps the catch-up right (the fix for F7)', () => {
    const { sim, leader, follower, learner, caughtUp } = catchUpFromAhead('waitForCore', 'at once');
    expect(sim.runTicks(100, caughtUp)).toBe(true);
    expect(follower.status()!.config.learners).toEqual([learner]);
    commitOne(sim, leader);
    expect(sim.runTicks(50, () => follower.kv.applied === leader.kv.applied)).toBe(true);
    expect(follower.kv.digest).toBe(leader.kv.digest);
  });
});

describe('Raft paper, Figure 8', () => {
  /** Campaigns `id` every few ticks until it leads (leases of the voters must expire first). */
  function elect(sim: Simulation, id: string): SimNode {
    const node = sim.node(id);
    for (let i = 0; i < 40 && node.role !== 'leader'; i++) {
      sim.campaign(id);
      sim.runTicks(3, () => node.role === 'leader');
    }
    expect(node.role, `${id} becomes leader`).toBe('leader');
    return node;
  }

  function isolate(sim: Simulation, id: string): void {
    for (const other of sim.nodes.keys()) if (other !== id) sim.disconnect(id, other);
  }

  it('an old-term entry stored on a majority is not committed by counting, and may be overwritten', () => {
    const params = calm(5, 88);
    params.core.maxSizePerMsg = 1; // one entry per 'app', so a leader's entries arrive one by one
    params.core.maxInflightMsgs = 1;
    const sim = new Simulation(params);
    const [s1, s2, s3, s4, s5] = ['n1', 'n2', 'n3', 'n4', 'n5'].map((id) => sim.node(id)) as [SimNode, SimNode, SimNode, SimNode, SimNode];
    const others = ['n2', 'n3', 'n4', 'n5'];
    for (const a of others) for (const b of others) if (a < b) sim.disconnect(a, b); // only s1 reaches everyone

    // (a) s1 leads term A; its no-op commits everywhere; entry 2 reaches s2 only.
    elect(sim, 'n1');
    expect(sim.runTicks(50, () => [s2, s3, s4, s5].every((n) => n.kv.applied >= 1))).toBe(true);
    const termA = s1.term;
    for (const id of ['n3', 'n4', 'n5']) sim.disconnect('n1', id);
    sim.propose('n1', 'x');
    expect(sim.runTicks(20, () => durableTerm(s2.storage, 2) === termA)).toBe(true);

    // (b) s1 crashes; s5 leads term B with votes of s3 and s4; its no-op at index 2 stays on s5 only.
    sim.crash('n1');
    sim.connect('n5', 'n3');
    sim.connect('n5', 'n4');
    elect(sim, 'n5');
    const termB = s5.term;
    expect(sim.runTicks(5, () => durableTerm(s5.storage, 2) === termB)).toBe(true); // its no-op's write completes
    isolate(sim, 'n5');
    sim.crash('n5');
    expect(durableTerm(s5.storage, 2)).toBe(termB);

    // (c) s1 restarts and leads term C with s2 and s3; it copies entry 2 (term A) to s3, so it is on
    // a majority {s1, s2, s3}; s1 crashes before its own term-C entry reaches a majority.
    sim.restart('n1');
    sim.connect('n1', 'n2');
    sim.connect('n1', 'n3');
    elect(sim, 'n1');
    expect(sim.runTicks(50, () => (s1.status()?.progress?.get('n3')?.match ?? 0) >= 2)).toBe(true);
    isolate(sim, 'n1');
    sim.crash('n1');
    expect([s1, s2, s3].map((n) => durableTerm(n.storage, 2))).toEqual([termA, termA, termA]);
    // A correct leader did not commit it: it is not of its term.
    expect(sim.checker.committedIndex).toBe(1);

    // (d) s5 restarts and wins term D with s3 and s4 (its last term B beats A), overwriting index 2.
    sim.restart('n5');
    sim.connect('n5', 'n3');
    sim.connect('n5', 'n4');
    elect(sim, 'n5');
    sim.propose('n5', 'y');
    expect(sim.runTicks(50, () => durableTerm(s3.storage, 2) === termB && s3.kv.applied >= 2)).toBe(true);
    expect(durableTerm(s4.storage, 2)).toBe(termB);
  });
});
