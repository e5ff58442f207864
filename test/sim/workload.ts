import type { ConfChange, NodeId } from '../../node/src/raft/index.js';
import type { Prng } from './prng.js';
import type { Simulation } from './simulation.js';

/** Per-tick probabilities of each kind of event. */
export interface WorkloadRates {
  propose: number;
  read: number;
  confChange: number;
  transfer: number;
  crash: number;
  partition: number;
  /** At most this many nodes down at once. */
  maxDown: number;
  /** Keys written and read (few keys = more contention). */
  keys: number;
  /** Upper bound on members in a configuration. */
  maxMembers: number;
  /** Upper bound on nodes ever created (IDs are never reused). */
  maxNodesCreated: number;
}

const EMPTY = new Uint8Array();

/** The seeded chaos: clients, an operator changing membership, crashes and partitions. */
export class Workload {
  private readonly restartAt = new Map<NodeId, number>();
  private healAt: number | undefined;
  private tickNo = 0;

  constructor(
    private readonly sim: Simulation,
    private readonly rng: Prng,
    private readonly rates: WorkloadRates,
  ) {}

  /** One tick of chaos; call at the start of every tick. */
  tick(): void {
    const sim = this.sim;
    const rng = this.rng;
    const r = this.rates;
    this.tickNo++;
    for (const [id, at] of this.restartAt) {
      if (at <= this.tickNo) {
        this.restartAt.delete(id);
        sim.restart(id);
      }
    }
    if (this.healAt !== undefined && this.healAt <= this.tickNo) {
      this.healAt = undefined;
      sim.heal();
    }
    const live = sim.liveNodes();
    if (live.length === 0) return;
    if (rng.chance(r.propose)) {
      const leader = sim.leader();
      const at = leader && rng.chance(0.6) ? leader : rng.pick(live);
      sim.propose(at.id, `k${rng.int(r.keys)}`, rng.chance(0.15) ? rng.between(2, 4) : 1);
    }
    if (rng.chance(r.read)) sim.read(rng.pick(live).id, `k${rng.int(r.keys)}`);
    if (rng.chance(r.confChange)) this.changeMembership();
    if (rng.chance(r.transfer)) this.transferLeadership();
    if (rng.chance(r.crash)) this.crashOne();
    if (this.healAt === undefined && rng.chance(r.partition)) this.partition();
  }

  /** Stops the chaos: heals the network and restarts every crashed node (restarts pending included). */
  calm(): void {
    this.restartAt.clear();
    this.healAt = undefined;
  }

  private changeMembership(): void {
    const sim = this.sim;
    const rng = this.rng;
    const leader = sim.leader();
    if (!leader) return;
    const st = leader.status();
    if (!st) return;
    const { voters, learners } = st.config;
    const options: (() => ConfChange | undefined)[] = [];
    const canAdd = voters.length + learners.length < this.rates.maxMembers && sim.nodes.size < this.rates.maxNodesCreated;
    if (canAdd) {
      options.push(() => this.addNew('addLearner'));
      if (rng.chance(0.3)) options.push(() => this.addNew('addVoter'));
    }
    if (learners.length > 0) options.push(() => ({ type: 'promote', nodeId: rng.pick(learners), context: EMPTY }));
    if (voters.length > 1) options.push(() => ({ type: 'remove', nodeId: rng.pick(voters), context: EMPTY }));
    if (learners.length > 0) options.push(() => ({ type: 'remove', nodeId: rng.pick(learners), context: EMPTY }));
    if (options.length === 0) return;
    const cc = rng.pick(options)();
    if (!cc) return;
    if (cc.type === 'remove' && cc.nodeId === leader.id) {
      // As the node's removeMember does: a leader is never asked to remove itself; it hands
      // leadership over first and the new leader removes it later. A leader that commits its own
      // removal may be the only member that knows the commit, and a removed member's process
      // goes away (the liveness phase retires it), leaving the others on the old configuration.
      sim.transfer(leader.id, rng.pick(voters.filter((v) => v !== leader.id)));
      return;
    }
    sim.proposeConfChange(rng.chance(0.8) ? leader.id : rng.pick(sim.liveNodes()).id, cc);
  }

  /** A new member: its process starts empty (as a pod would) before the leader is asked to add it. */
  private addNew(type: 'addLearner' | 'addVoter'): ConfChange {
    const id = this.sim.newNodeId();
    this.sim.addNode(id);
    return { type, nodeId: id, context: EMPTY };
  }

  private transferLeadership(): void {
    const sim = this.sim;
    const leader = sim.leader();
    const voters = leader?.status()?.config.voters.filter((v) => v !== leader.id) ?? [];
    if (!leader || voters.length === 0) return;
    const to = this.rng.pick(voters);
    const via = this.rng.chance(0.7) ? leader.id : (sim.nodes.get(to)?.alive ? to : leader.id);
    sim.transfer(via, to);
  }

  private crashOne(): void {
    const sim = this.sim;
    const down = [...sim.nodes.values()].filter((n) => !n.alive && !n.retired).length;
    if (down >= this.rates.maxDown) return;
    const victim = this.rng.pick(sim.liveNodes());
    sim.crash(victim.id);
    this.restartAt.set(victim.id, this.tickNo + this.rng.between(1, 60));
  }

  private partition(): void {
    const sim = this.sim;
    const rng = this.rng;
    const ids = [...sim.nodes.values()].filter((n) => !n.retired).map((n) => n.id);
    if (ids.length < 2) return;
    const kind = rng.int(4);
    if (kind === 0) {
      const a: NodeId[] = [];
      const b: NodeId[] = [];
      for (const id of ids) (rng.chance(0.5) ? a : b).push(id);
      if (a.length === 0 || b.length === 0) return;
      sim.partition([a, b]);
    } else if (kind === 1) {
      const leader = sim.leader();
      const lone = leader && rng.chance(0.6) ? leader.id : rng.pick(ids);
      sim.partition([[lone], ids.filter((x) => x !== lone)]);
    } else if (kind === 2) {
      const from = rng.pick(ids);
      const others = ids.filter((x) => x !== from);
      for (const to of others) if (rng.chance(0.6)) sim.cutOneWay(from, to);
    } else {
      const a = rng.pick(ids);
      const b = rng.pick(ids.filter((x) => x !== a));
      sim.cutOneWay(a, b);
      if (rng.chance(0.5)) sim.cutOneWay(b, a);
    }
    this.healAt = this.tickNo + rng.between(5, 80);
  }
}
