// The real Raft core on three real transports: election, replication, a member whose transport
// restarts, and catching it up with a snapshot streamed over SendSnapshot.
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStorage, RawNode, type NodeId, type Snapshot } from '../../../node/src/raft/index.js';
import { PeerTransport } from '../../../node/src/transport/index.js';
import { waitFor } from './helpers.js';

const IDS = ['n1', 'n2', 'n3'];
const encoder = new TextEncoder();
const decoder = new TextDecoder();

class RaftMember {
  readonly storage = new MemoryStorage();
  readonly raw: RawNode;
  applied: string[] = [];
  transport!: PeerTransport;
  port = 0;
  snapshotsInstalled = 0;
  snapshotReports: [NodeId, boolean][] = [];
  private readonly ticker: NodeJS.Timeout;
  private pumping = false;

  constructor(readonly id: NodeId) {
    this.storage.applySnapshot({ metadata: { index: 1, term: 1, confState: { voters: IDS, learners: [] } }, data: encoder.encode('[]') });
    this.storage.setHardState({ term: 1, vote: '', commit: 1 });
    this.raw = new RawNode({ id, storage: this.storage, electionTick: 30, heartbeatTick: 1, applied: 1, randomInt: (n) => Math.floor(Math.random() * n) });
    this.ticker = setInterval(() => {
      this.raw.tick();
      this.pump();
    }, 10);
  }

  async startTransport(listen = '127.0.0.1:0'): Promise<void> {
    this.transport = new PeerTransport({ selfId: this.id, clusterId: 'raft-test', backoff: { initialMs: 20, maxMs: 200 }, shutdownGraceMs: 200, snapshotChunkBytes: 64 * 1024 });
    this.transport.onMessage((batch) => {
      for (const m of batch) this.raw.step(m);
      this.pump();
    });
    this.transport.onUnreachable((id) => this.raw.reportUnreachable(id));
    this.transport.onSnapshotStatus((id, ok) => {
      this.snapshotReports.push([id, ok]);
      this.raw.reportSnapshot(id, ok);
    });
    this.port = await this.transport.start(listen);
  }

  connect(members: RaftMember[]): void {
    for (const m of members) if (m.id !== this.id) this.transport.addPeer(m.id, `127.0.0.1:${m.port}`);
  }

  propose(value: string): void {
    this.raw.propose(encoder.encode(value));
    this.pump();
  }

  /** Snapshot the state machine at the applied index and drop the log before it. */
  compact(): number {
    const st = this.raw.status();
    this.storage.createSnapshot(st.applied, st.config, encoder.encode(JSON.stringify(this.applied)));
    this.storage.compact(st.applied);
    return st.applied;
  }

  pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.raw.hasReady()) {
        const rd = this.raw.ready();
        if (rd.snapshot) this.install(rd.snapshot);
        this.storage.append(rd.entries);
        if (rd.hardState) this.storage.setHardState(rd.hardState);
        this.transport.send(rd.messages);
        this.transport.send(rd.messagesAfterPersist);
        for (const e of rd.committedEntries) if (e.type === 'normal' && e.data.length > 0) this.applied.push(decoder.decode(e.data));
        this.raw.advance(rd);
      }
    } finally {
      this.pumping = false;
    }
  }

  private install(snap: Snapshot): void {
    this.storage.applySnapshot(snap);
    this.applied = JSON.parse(decoder.decode(snap.data)) as string[];
    this.snapshotsInstalled++;
  }

  async stop(): Promise<void> {
    clearInterval(this.ticker);
    await this.transport.stop();
  }
}

const members: RaftMember[] = [];
afterEach(async () => {
  await Promise.all(members.splice(0).map((m) => m.stop()));
});

function leaderOf(ms: RaftMember[]): RaftMember | undefined {
  return ms.find((m) => m.raw.status().role === 'leader');
}

describe('Raft over the gRPC transport', () => {
  it('elects, replicates, and catches a member up by snapshot after its transport restarts', async () => {
    for (const id of IDS) members.push(new RaftMember(id));
    for (const m of members) await m.startTransport();
    for (const m of members) m.connect(members);

    await waitFor('a leader', () => leaderOf(members) !== undefined);
    const leader = leaderOf(members)!;
    leader.propose('a');
    leader.propose('b');
    await waitFor('replicated everywhere', () => members.every((m) => m.applied.join() === 'a,b'));

    // One follower's transport goes away; the other two still form a quorum.
    const lagging = members.find((m) => m !== leader)!;
    const port = lagging.port;
    await lagging.transport.stop();
    for (let i = 0; i < 20; i++) leader.propose(`v${i}`);
    const others = members.filter((m) => m !== lagging);
    await waitFor('committed without the lagging member', () => others.every((m) => m.applied.length === 22));
    expect(lagging.applied.length).toBe(2);

    // The leader compacts its log, so the lagging member can only be caught up by a snapshot.
    const snapIndex = leader.compact();
    expect(leader.storage.firstIndex()).toBe(snapIndex + 1);

    await lagging.startTransport(`127.0.0.1:${port}`);
    lagging.connect(members);
    await waitFor('lagging member caught up', () => lagging.applied.length === 22, 15_000);
    expect(lagging.applied).toEqual(leader.applied);
    expect(lagging.snapshotsInstalled).toBe(1);
    // The sender hears the receiver's acknowledgement just after the receiver installed it.
    await waitFor('snapshot reported to the leader', () => leader.snapshotReports.length > 0);
    expect(leader.snapshotReports).toContainEqual([lagging.id, true]);
    expect(leader.transport.stats().peers[lagging.id]!.snapshotsSent).toBeGreaterThanOrEqual(1);

    leader.propose('after');
    await waitFor('replicated after catch-up', () => members.every((m) => m.applied.at(-1) === 'after'));
  });
});
