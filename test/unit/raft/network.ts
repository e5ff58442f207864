// A tiny in-process, instant, lossless-by-default network of RawNodes for unit tests.
// Each node persists into its own MemoryStorage; messages are delivered in FIFO order.
import {
  MemoryStorage, RawNode, decodeConfChange, type ConfState, type Entry, type Message, type RaftConfig, type ReadState, type Ready,
} from '../../../node/src/raft/index.js';

export interface TestNode {
  id: string;
  storage: MemoryStorage;
  raw: RawNode;
  applied: Entry[];
  readStates: ReadState[];
  confState: ConfState;
}

export type NodeOptions = Partial<Omit<RaftConfig, 'id' | 'storage'>>;

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

/** A deterministic randomInt: always 0 unless a per-node value is given (so timeouts are exact). */
export function fixedRandom(value = 0): (n: number) => number {
  return (n: number) => Math.min(value, n - 1);
}

export function newStorage(voters: string[], learners: string[] = []): MemoryStorage {
  const s = new MemoryStorage();
  s.applySnapshot({ metadata: { index: 0, term: 0, confState: { voters, learners } }, data: new Uint8Array() });
  return s;
}

export class Network {
  readonly nodes = new Map<string, TestNode>();
  /** Messages in flight, delivered FIFO by deliverAll(). */
  queue: Message[] = [];
  /** Return false to drop a message. */
  filter: (m: Message) => boolean = () => true;
  private readonly cut = new Set<string>();
  /** Nodes whose Ready loop the test drives by hand (deliverAll skips them). */
  readonly manual = new Set<string>();
  /** Every message ever sent (for assertions). */
  readonly sent: Message[] = [];

  constructor(
    ids: string[],
    private readonly opts: NodeOptions = {},
    learners: string[] = [],
  ) {
    for (const id of [...ids, ...learners]) this.add(id, newStorage(ids, learners));
  }

  add(id: string, storage: MemoryStorage, extra: NodeOptions = {}): TestNode {
    const raw = new RawNode({ id, storage, electionTick: 10, heartbeatTick: 1, randomInt: fixedRandom(0), ...this.opts, ...extra });
    const node: TestNode = { id, storage, raw, applied: [], readStates: [], confState: storage.initialState().confState };
    this.nodes.set(id, node);
    return node;
  }

  /** Restarts a node from its storage (losing only volatile state, since everything was persisted). */
  restart(id: string, extra: NodeOptions = {}): TestNode {
    const old = this.node(id);
    const node = this.add(id, old.storage, { applied: 0, ...extra });
    return node;
  }

  node(id: string): TestNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  isolate(id: string): void {
    for (const other of this.nodes.keys()) if (other !== id) this.cutLink(id, other);
  }

  cutLink(a: string, b: string): void {
    this.cut.add(`${a}>${b}`);
    this.cut.add(`${b}>${a}`);
  }

  heal(): void {
    this.cut.clear();
  }

  /** Persists, sends and applies one Ready of a node (the normal, synchronous Ready loop). */
  processReady(n: TestNode): Ready {
    const rd = n.raw.ready();
    if (rd.snapshot) {
      n.storage.applySnapshot(rd.snapshot);
      n.confState = rd.snapshot.metadata.confState;
    }
    n.storage.append(rd.entries);
    if (rd.hardState) n.storage.setHardState(rd.hardState);
    this.send(rd.messages);
    this.send(rd.messagesAfterPersist);
    for (const e of rd.committedEntries) {
      if (e.type === 'confChange') n.confState = n.raw.applyConfChange(decodeConfChange(e.data));
      n.applied.push(e);
    }
    n.readStates.push(...rd.readStates);
    n.raw.advance(rd);
    return rd;
  }

  send(msgs: Message[]): void {
    for (const m of msgs) {
      this.sent.push(m);
      this.queue.push(m);
    }
  }

  /** Runs Ready loops and delivers messages until nothing is left to do. */
  deliverAll(maxSteps = 100_000): void {
    for (let steps = 0; steps < maxSteps; steps++) {
      let busy = false;
      for (const n of this.nodes.values()) {
        if (!this.manual.has(n.id) && n.raw.hasReady()) {
          this.processReady(n);
          busy = true;
        }
      }
      const m = this.queue.shift();
      if (m) {
        busy = true;
        const to = this.nodes.get(m.to);
        if (to && !this.cut.has(`${m.from}>${m.to}`) && this.filter(m)) to.raw.step(m);
      }
      if (!busy) return;
    }
    throw new Error('network did not settle');
  }

  tick(id: string, n = 1): void {
    for (let i = 0; i < n; i++) {
      this.node(id).raw.tick();
      this.deliverAll();
    }
  }

  tickAll(n = 1): void {
    for (let i = 0; i < n; i++) {
      for (const node of this.nodes.values()) node.raw.tick();
      this.deliverAll();
    }
  }

  campaign(id: string): void {
    this.node(id).raw.campaign();
    this.deliverAll();
  }

  leaderIds(): string[] {
    return [...this.nodes.values()].filter((n) => n.raw.status().role === 'leader').map((n) => n.id);
  }

  propose(id: string, data: string): void {
    this.node(id).raw.propose(enc(data));
    this.deliverAll();
  }

  appliedData(id: string): string[] {
    return this.node(id).applied.filter((e) => e.type === 'normal' && e.data.length > 0).map((e) => dec(e.data));
  }
}

/** A storage holding entries with the given terms at indexes 1.. and an optional hard state. */
export function storageWithLog(voters: string[], terms: number[], hard?: { term: number; vote?: string; commit?: number }, learners: string[] = []): MemoryStorage {
  const s = newStorage(voters, learners);
  s.append(terms.map((term, i) => ({ term, index: i + 1, type: 'normal' as const, data: enc(`t${term}i${i + 1}`) })));
  if (hard) s.setHardState({ term: hard.term, vote: hard.vote ?? '', commit: hard.commit ?? 0 });
  return s;
}

/** Network whose nodes start from the given storages (all voters unless the storages say otherwise). */
export function networkFrom(storages: Record<string, MemoryStorage>, opts: NodeOptions = {}): Network {
  const net = new Network([], opts);
  for (const [id, s] of Object.entries(storages)) net.add(id, s);
  return net;
}

export function logTerms(n: TestNode): number[] {
  const st = n.raw.status();
  const out: number[] = [];
  for (let i = n.storage.firstIndex(); i <= st.lastIndex; i++) out.push(n.storage.term(i));
  return out;
}
