import type { Message, NodeId } from '../../node/src/raft/index.js';
import type { Prng } from './prng.js';

export interface NetworkFaults {
  /** Probability that a message is lost. */
  drop: number;
  /** Probability that a message is delivered twice. */
  duplicate: number;
  /** Latency in virtual time units (10 per tick); each copy draws its own, so messages reorder. */
  minLatency: number;
  maxLatency: number;
}

export const CALM_NETWORK: NetworkFaults = { drop: 0, duplicate: 0, minLatency: 1, maxLatency: 5 };

export type SendOutcome = { kind: 'deliver'; delays: number[] } | { kind: 'drop'; reason: 'partition' | 'loss' };

/** Wire copy: the receiver must never share objects with the sender. */
export function cloneMessage(m: Message): Message {
  const copy: Message = { ...m, entries: m.entries.map((e) => ({ ...e, data: e.data.slice() })) };
  if (m.context) copy.context = m.context.slice();
  if (m.snapshot) {
    const md = m.snapshot.metadata;
    copy.snapshot = {
      metadata: { index: md.index, term: md.term, confState: { voters: [...md.confState.voters], learners: [...md.confState.learners] } },
      data: m.snapshot.data.slice(),
    };
  }
  return copy;
}

/** The simulated network: directed links that can be cut (partitions, one-way), loss, duplication and latency. */
export class Network {
  private readonly cut = new Set<string>();

  constructor(
    private readonly rng: Prng,
    public faults: NetworkFaults,
  ) {}

  isCut(from: NodeId, to: NodeId): boolean {
    return this.cut.has(`${from}>${to}`);
  }

  cutOneWay(from: NodeId, to: NodeId): void {
    this.cut.add(`${from}>${to}`);
  }

  /** Restores one direction of a link. */
  restore(from: NodeId, to: NodeId): void {
    this.cut.delete(`${from}>${to}`);
  }

  /** Splits nodes into groups that cannot reach each other (both directions). */
  partition(groups: readonly (readonly NodeId[])[]): void {
    for (const [gi, g] of groups.entries()) {
      for (const [hi, h] of groups.entries()) {
        if (gi === hi) continue;
        for (const a of g) for (const b of h) this.cutOneWay(a, b);
      }
    }
  }

  heal(): void {
    this.cut.clear();
  }

  get cutLinks(): number {
    return this.cut.size;
  }

  send(m: Message): SendOutcome {
    if (this.isCut(m.from, m.to)) return { kind: 'drop', reason: 'partition' };
    if (this.faults.drop > 0 && this.rng.chance(this.faults.drop)) return { kind: 'drop', reason: 'loss' };
    const delays = [this.latency()];
    if (this.faults.duplicate > 0 && this.rng.chance(this.faults.duplicate)) delays.push(this.latency());
    return { kind: 'deliver', delays };
  }

  private latency(): number {
    return this.rng.between(this.faults.minLatency, this.faults.maxLatency);
  }
}
