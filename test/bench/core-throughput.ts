// Microbenchmark of the pure Raft core (not a test): a 3-node cluster in one process with an
// instant in-memory network and no disk (MemoryStorage). The leader proposes 256-byte entries in
// batches; we count proposals committed and applied on the leader per second over ~5 s.
//
//   tsc -p . && node dist/test/bench/core-throughput.js [seconds] [batchSize] [batchesPerRound]
import { decodeConfChange, MemoryStorage, RawNode, type Message } from '../../node/src/raft/index.js';

const SECONDS = Number(process.argv[2] ?? 5);
const BATCH = Number(process.argv[3] ?? 256);
const BATCHES_PER_ROUND = Number(process.argv[4] ?? 4);
const PAYLOAD = 256;
const COMPACT_EVERY = 20_000;

interface BenchNode {
  id: string;
  storage: MemoryStorage;
  raw: RawNode;
  applied: number;
  lastCompact: number;
}

const ids = ['n1', 'n2', 'n3'];
let seed = 1;
const randomInt = (n: number): number => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed % n;
};

const nodes = new Map<string, BenchNode>();
for (const id of ids) {
  const storage = new MemoryStorage();
  storage.applySnapshot({ metadata: { index: 0, term: 0, confState: { voters: ids, learners: [] } }, data: new Uint8Array() });
  nodes.set(id, { id, storage, raw: new RawNode({ id, storage, electionTick: 10, heartbeatTick: 1, randomInt }), applied: 0, lastCompact: 0 });
}

const queue: Message[] = [];
let appliedOnLeader = 0;
let leaderId = '';

function processReadys(): boolean {
  let busy = false;
  for (const n of nodes.values()) {
    if (!n.raw.hasReady()) continue;
    busy = true;
    const rd = n.raw.ready();
    if (rd.snapshot) n.storage.applySnapshot(rd.snapshot);
    n.storage.append(rd.entries);
    if (rd.hardState) n.storage.setHardState(rd.hardState);
    for (const m of rd.messages) queue.push(m);
    for (const m of rd.messagesAfterPersist) queue.push(m);
    for (const e of rd.committedEntries) {
      if (e.type === 'confChange') n.raw.applyConfChange(decodeConfChange(e.data));
      if (n.id === leaderId && e.data.length === PAYLOAD) appliedOnLeader++;
      n.applied = e.index;
    }
    n.raw.advance(rd);
    if (n.applied - n.lastCompact >= COMPACT_EVERY) {
      n.storage.createSnapshot(n.applied, { voters: ids, learners: [] }, new Uint8Array());
      n.storage.compact(n.applied);
      n.lastCompact = n.applied;
    }
  }
  return busy;
}

function settle(): void {
  for (;;) {
    const busy = processReadys();
    if (queue.length === 0 && !busy) return;
    const batch = queue.splice(0, queue.length);
    for (const m of batch) nodes.get(m.to)!.raw.step(m);
  }
}

// Elect n1.
nodes.get('n1')!.raw.campaign();
settle();
leaderId = [...nodes.values()].find((n) => n.raw.status().role === 'leader')?.id ?? '';
if (leaderId === '') throw new Error('no leader elected');
const leader = nodes.get(leaderId)!;

const batch: Uint8Array[] = Array.from({ length: BATCH }, (_, i) => new Uint8Array(PAYLOAD).fill(i & 0xff));
const start = performance.now();
const deadline = start + SECONDS * 1000;
let proposed = 0;
let rounds = 0;
while (performance.now() < deadline) {
  for (let i = 0; i < BATCHES_PER_ROUND; i++) {
    leader.raw.proposeBatch(batch);
    proposed += BATCH;
  }
  settle();
  rounds++;
  if (rounds % 50 === 0) for (const n of nodes.values()) n.raw.tick();
}
const elapsed = (performance.now() - start) / 1000;
const st = leader.raw.status();
const rate = appliedOnLeader / elapsed;
console.log(JSON.stringify({
  benchmark: 'core-throughput',
  nodes: 3,
  payloadBytes: PAYLOAD,
  batchSize: BATCH,
  batchesPerRound: BATCHES_PER_ROUND,
  seconds: Number(elapsed.toFixed(2)),
  proposed,
  committedOnLeader: appliedOnLeader,
  proposalsPerSecond: Math.round(rate),
  mibPerSecond: Number(((rate * PAYLOAD) / (1024 * 1024)).toFixed(1)),
  leaderCommit: st.commit,
  term: st.term,
}));
if (appliedOnLeader !== proposed) {
  console.error(`not every proposal was committed: ${appliedOnLeader} of ${proposed}`);
  process.exitCode = 1;
}
