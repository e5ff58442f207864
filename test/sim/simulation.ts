import type { ConfChange, Entry, Message, NodeId } from '../../node/src/raft/index.js';
import { EventQueue } from './event-queue.js';
import { encodePut, type PutCommand } from './kv-machine.js';
import { durableTerm } from './log-view.js';
import { Network, cloneMessage, type NetworkFaults } from './network.js';
import { Prng } from './prng.js';
import { SafetyChecker } from './safety-checker.js';
import { SimNode, type CoreSettings, type DiskWrite, type NodeHost } from './sim-node.js';
import { Trace } from './trace.js';

/** Virtual time units per Raft tick; messages and disk writes take fractions of a tick. */
export const TICK = 10;

export interface SimParams {
  seed: number;
  /** Members bootstrapped with the full voter set in an index-0 snapshot (1 = a one-member cluster). */
  initialVoters: number;
  core: CoreSettings;
  faults: NetworkFaults;
  /** Probability that a disk write is slow, and how slow it may be (time units). */
  diskSlowChance: number;
  diskMaxDelay: number;
  /** Index of the bootstrap snapshot: 0 is the contract's convention. */
  bootstrapIndex?: number;
}

export interface SimStats {
  messages: number;
  dropped: number;
  crashes: number;
  restarts: number;
  partitions: number;
  proposals: number;
  acked: number;
  reads: number;
  readsServed: number;
  confChangesProposed: number;
  confChangesApplied: number;
  transfers: number;
  snapshotsInstalled: number;
  /** Installed snapshots whose state was ahead of the index they name (sent as of sending). */
  snapshotsAhead: number;
  /** Restarts that restored the state machine from a received snapshot saved before a crash. */
  statesRestoredAtStart: number;
  /** Committed entries handed out again and skipped by a state machine (after an install or a restart)... */
  entriesSkipped: number;
  /** ...and conf changes among them, which the core still applied. */
  confChangesSkipped: number;
  /** suspectLeader hints a follower of that leader took (after a crash, or spurious). */
  leaderSuspicions: number;
  maxTerm: number;
}

/**
 * The whole-cluster discrete-event simulator: real RawNodes, one seeded PRNG, virtual time, a
 * faulty network and crashing disks. The safety checker sees every step; a violation throws.
 */
export class Simulation implements NodeHost {
  readonly checker = new SafetyChecker();
  readonly events: Trace;
  readonly rng: Prng;
  readonly network: Network;
  readonly core: CoreSettings;
  readonly nodes = new Map<NodeId, SimNode>();
  /** Membership as committed (applied by the first node to apply each conf change). */
  readonly voters = new Set<NodeId>();
  readonly learners = new Set<NodeId>();
  readonly removed = new Set<NodeId>();
  readonly stats: SimStats = {
    messages: 0,
    dropped: 0,
    crashes: 0,
    restarts: 0,
    partitions: 0,
    proposals: 0,
    acked: 0,
    reads: 0,
    readsServed: 0,
    confChangesProposed: 0,
    confChangesApplied: 0,
    transfers: 0,
    snapshotsInstalled: 0,
    snapshotsAhead: 0,
    statesRestoredAtStart: 0,
    entriesSkipped: 0,
    confChangesSkipped: 0,
    leaderSuspicions: 0,
    maxTerm: 0,
  };
  now = 0;
  /** Overridable by scenario tests. */
  diskDelayFn: (node: SimNode, write: DiskWrite) => number;
  crashOutcomeFn: (node: SimNode) => boolean;
  private readonly queue = new EventQueue<() => void>();
  private readonly diskRng: Prng;
  /** Its own stream, so that connection-loss hints do not shift the other draws of a seed. */
  private readonly hintRng: Prng;
  private nextNode = 1;
  private nextWrite = 1;
  private nextRead = 1;

  constructor(
    readonly params: SimParams,
    traceLines = 60,
  ) {
    this.events = new Trace(traceLines);
    const root = new Prng(params.seed);
    this.rng = root.fork();
    this.network = new Network(root.fork(), params.faults);
    this.diskRng = root.fork();
    this.hintRng = root.fork();
    this.core = params.core;
    this.diskDelayFn = () => (this.diskRng.chance(params.diskSlowChance) ? this.diskRng.between(1, params.diskMaxDelay) : 0);
    this.crashOutcomeFn = () => this.diskRng.chance(0.5);
    const ids = Array.from({ length: params.initialVoters }, () => this.newNodeId());
    for (const id of ids) this.voters.add(id);
    for (const id of ids) this.addNode(id, ids);
    this.everyTick(() => {
      this.spuriousLeaderHint();
      return true;
    });
  }

  newNodeId(): NodeId {
    return `n${this.nextNode++}`;
  }

  addNode(id: NodeId, bootstrapVoters?: NodeId[]): SimNode {
    if (this.nodes.has(id)) throw new Error(`node ${id} already exists`);
    const node = new SimNode(id, this, bootstrapVoters, this.params.bootstrapIndex ?? 0);
    this.nodes.set(id, node);
    this.scheduleTick(node, this.now + 1 + this.rng.int(TICK));
    this.trace(`${id} started${bootstrapVoters ? ` with voters [${bootstrapVoters.join(',')}]` : ' empty'}`);
    return node;
  }

  private scheduleTick(node: SimNode, at: number): void {
    this.queue.push(at, () => {
      if (node.retired) return;
      node.input({ kind: 'tick' });
      this.scheduleTick(node, at + TICK);
    });
  }

  node(id: NodeId): SimNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  liveNodes(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.alive);
  }

  /** The live leader of the highest term, if any. */
  leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.nodes.values()) {
      if (n.alive && n.role === 'leader' && (!best || n.term > best.term)) best = n;
    }
    return best;
  }

  // ---- NodeHost ----

  trace(text: string): void {
    this.events.add(this.now, text);
  }

  send(from: SimNode, msgs: Message[]): void {
    for (const core of msgs) {
      // As the node's transport: a snapshot carries the sender's state as of sending, ahead of the
      // index the message names (its core's snapshot has no data of its own).
      const m = core.type === 'snap' ? from.withCurrentState(core) : core;
      if (m !== core) this.trace(`${from.id} sends snapshot ${m.snapshot!.metadata.index} to ${m.to} with its state at ${from.kv.applied}`);
      this.stats.messages++;
      if (m.term > this.stats.maxTerm) this.stats.maxTerm = m.term;
      const out = this.network.send(m);
      const incarnation = from.incarnation;
      if (out.kind === 'drop') {
        this.stats.dropped++;
        this.onUndelivered(m, incarnation, out.reason === 'partition');
        continue;
      }
      for (const delay of out.delays) {
        const copy = cloneMessage(m);
        this.queue.push(this.now + delay, () => this.deliver(copy, incarnation));
      }
    }
  }

  private deliver(m: Message, senderIncarnation: number): void {
    const to = this.nodes.get(m.to);
    if (!to || !to.alive || this.network.isCut(m.from, m.to)) {
      this.stats.dropped++;
      this.onUndelivered(m, senderIncarnation, true);
      return;
    }
    if (m.type !== 'heartbeat' && m.type !== 'heartbeatResp') {
      this.trace(`${m.type} ${m.from}>${m.to} term=${m.term} idx=${m.index} logTerm=${m.logTerm} n=${m.entries.length} commit=${m.commit}${m.reject ? ` reject hint=${m.rejectHint}/${m.logTermHint ?? '-'}` : ''} (${m.to} last=${to.view.lastIndex()})`);
    }
    to.input({ kind: 'step', msg: m });
    if (m.type === 'snap') this.reportToSender(m, senderIncarnation, { kind: 'reportSnapshot', to: m.to, ok: true });
  }

  /** What a transport tells the sender about a message that did not arrive. */
  private onUndelivered(m: Message, senderIncarnation: number, unreachable: boolean): void {
    if (m.type === 'snap') this.reportToSender(m, senderIncarnation, { kind: 'reportSnapshot', to: m.to, ok: false });
    else if (unreachable && this.rng.chance(0.3)) this.reportToSender(m, senderIncarnation, { kind: 'reportUnreachable', to: m.to });
  }

  private reportToSender(
    m: Message,
    senderIncarnation: number,
    report: { kind: 'reportSnapshot'; to: NodeId; ok: boolean } | { kind: 'reportUnreachable'; to: NodeId },
  ): void {
    this.queue.push(this.now + TICK, () => {
      const sender = this.nodes.get(m.from);
      if (sender && sender.alive && sender.incarnation === senderIncarnation) sender.input(report);
    });
  }

  diskDelay(node: SimNode, write: DiskWrite): number {
    return this.diskDelayFn(node, write);
  }

  schedule(delay: number, fn: () => void): void {
    this.queue.push(this.now + delay, fn);
  }

  crashOutcomeDurable(node: SimNode): boolean {
    return this.crashOutcomeFn(node);
  }

  durablyHolds(id: NodeId, index: number, term: number): boolean {
    const n = this.nodes.get(id);
    if (!n) return false;
    const t = durableTerm(n.storage, index);
    return t === term || t === 'compacted';
  }

  onFirstApply(e: Entry, cc: ConfChange | undefined): void {
    if (!cc) return;
    this.stats.confChangesApplied++;
    const id = cc.nodeId;
    switch (cc.type) {
      case 'addVoter':
        this.learners.delete(id);
        this.voters.add(id);
        break;
      case 'addLearner':
        if (!this.voters.has(id)) this.learners.add(id);
        break;
      case 'promote':
        if (this.learners.delete(id)) this.voters.add(id);
        break;
      case 'remove':
        if (this.voters.has(id) && this.voters.size === 1) break;
        if (this.voters.delete(id) || this.learners.delete(id)) this.removed.add(id);
        break;
    }
    this.trace(`committed membership at ${e.index}: voters [${[...this.voters].join(',')}] learners [${[...this.learners].join(',')}]`);
  }

  onReadServed(): void {
    this.stats.readsServed++;
  }

  onSnapshotInstalled(ahead: number): void {
    this.stats.snapshotsInstalled++;
    if (ahead > 0) this.stats.snapshotsAhead++;
  }

  onStateRestoredAtStart(): void {
    this.stats.statesRestoredAtStart++;
  }

  onEntrySkipped(e: Entry): void {
    this.stats.entriesSkipped++;
    if (e.type === 'confChange') this.stats.confChangesSkipped++;
  }

  onLeaderSuspected(): void {
    this.stats.leaderSuspicions++;
  }

  /**
   * A transport reports a connection loss when a peer's process dies, but also when a connection
   * merely resets while the peer lives on: now and then a random node is told it lost its leader
   * (or some other member), whatever the truth.
   */
  private spuriousLeaderHint(): void {
    const rng = this.hintRng;
    if (!rng.chance(0.05)) return;
    const live = this.liveNodes();
    if (live.length === 0) return;
    const n = rng.pick(live);
    const about = rng.chance(0.8) ? n.leaderHint : rng.pick([...this.nodes.keys()]);
    if (about) n.input({ kind: 'suspectLeader', about });
  }

  /** The kernel closes a dead process's connections: most of its followers hear of it soon after. */
  private reportConnectionsLost(dead: NodeId): void {
    for (const n of this.liveNodes()) {
      if (n.leaderHint !== dead || !this.hintRng.chance(0.8)) continue;
      const incarnation = n.incarnation;
      this.queue.push(this.now + this.hintRng.between(1, TICK), () => {
        if (n.alive && n.incarnation === incarnation) n.input({ kind: 'suspectLeader', about: dead });
      });
    }
  }

  // ---- running ----

  /** Runs events up to `ticks` more ticks of virtual time, or until `until` returns true. */
  runTicks(ticks: number, until?: () => boolean): boolean {
    const end = this.now + ticks * TICK;
    while (true) {
      const t = this.queue.peekTime();
      if (t === undefined || t > end) break;
      const ev = this.queue.pop()!;
      this.now = ev.time;
      ev.item();
      if (until?.()) return true;
    }
    this.now = end;
    return until?.() ?? false;
  }

  /** Calls fn at the start of every tick from now on, while it returns true. */
  everyTick(fn: () => boolean): void {
    const at = Math.floor(this.now / TICK) * TICK + TICK;
    this.queue.push(at, () => {
      if (fn()) this.everyTick(fn);
    });
  }

  // ---- client and operator actions ----

  propose(nodeId: NodeId, key: string, batch = 1): string[] {
    const writes: PutCommand[] = [];
    for (let i = 0; i < batch; i++) {
      const n = this.nextWrite++;
      const w = { id: `w${n}`, key, value: `v${n}` };
      this.checker.proposeWrite(w.id, w.key, w.value);
      writes.push(w);
    }
    this.stats.proposals += batch;
    this.trace(`client put ${key} [${writes.map((w) => w.id).join(',')}] at ${nodeId}`);
    this.node(nodeId).input({ kind: 'propose', writes, data: writes.map(encodePut) });
    return writes.map((w) => w.id);
  }

  read(nodeId: NodeId, key: string): string {
    const readId = `r${this.nextRead++}`;
    this.stats.reads++;
    this.trace(`client read ${key} (${readId}) at ${nodeId}`);
    this.node(nodeId).input({ kind: 'read', readId, key });
    return readId;
  }

  proposeConfChange(nodeId: NodeId, cc: ConfChange): void {
    this.stats.confChangesProposed++;
    this.trace(`operator ${cc.type} ${cc.nodeId} at ${nodeId}`);
    this.node(nodeId).input({ kind: 'confChange', cc });
  }

  transfer(nodeId: NodeId, to: NodeId): void {
    this.stats.transfers++;
    this.trace(`transfer leadership to ${to} via ${nodeId}`);
    this.node(nodeId).input({ kind: 'transfer', to });
  }

  crash(id: NodeId): void {
    const n = this.node(id);
    if (!n.alive) return;
    this.stats.crashes++;
    this.trace(`CRASH ${id}${n.writing ? ` (while writing ${n.writing})` : ''}`);
    n.crash();
    this.reportConnectionsLost(id);
  }

  restart(id: NodeId): void {
    const n = this.node(id);
    if (n.alive || n.retired) return;
    this.stats.restarts++;
    this.trace(`RESTART ${id} (applied ${n.kv.applied}, disk last index ${n.storage.lastIndex()})`);
    n.restart();
  }

  retire(id: NodeId): void {
    const n = this.node(id);
    if (n.retired) return;
    this.trace(`RETIRE ${id}`);
    n.retire();
  }

  partition(groups: NodeId[][]): void {
    this.stats.partitions++;
    this.trace(`PARTITION ${groups.map((g) => `[${g.join(',')}]`).join(' | ')}`);
    this.network.partition(groups);
  }

  cutOneWay(from: NodeId, to: NodeId): void {
    this.stats.partitions++;
    this.trace(`CUT ${from} -> ${to}`);
    this.network.cutOneWay(from, to);
  }

  /** Reconnects a and b (both directions), leaving every other cut in place. */
  connect(a: NodeId, b: NodeId): void {
    this.trace(`CONNECT ${a} <-> ${b}`);
    this.network.restore(a, b);
    this.network.restore(b, a);
  }

  /** Disconnects a and b (both directions). */
  disconnect(a: NodeId, b: NodeId): void {
    this.trace(`DISCONNECT ${a} <-> ${b}`);
    this.network.cutOneWay(a, b);
    this.network.cutOneWay(b, a);
  }

  campaign(id: NodeId): void {
    this.trace(`${id} told to campaign`);
    this.node(id).input({ kind: 'campaign' });
  }

  heal(): void {
    if (this.network.cutLinks > 0) this.trace('HEAL network');
    this.network.heal();
  }
}
