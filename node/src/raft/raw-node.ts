import { resolveConfig } from './config.js';
import { encodeConfChange } from './conf-change.js';
import { malformedReason, newMessage } from './messages.js';
import { Raft } from './raft.js';
import type { ConfChange, ConfState, HardState, Message, NodeId, RaftConfig, Ready, SoftState, Status } from './types.js';
import { NO_NODE } from './types.js';

export { decodeConfChange, encodeConfChange } from './conf-change.js';

/** What ready() handed out, so that advance() (or acceptReady and persisted) acknowledges exactly that. */
interface ReadyRecord {
  hardState: HardState;
  accepted: boolean;
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

/**
 * The application's handle on the Raft state machine: feed it ticks, peer messages and
 * proposals; collect Readys; persist, send and apply them; then advance().
 * Only one Ready may be outstanding: call advance(rd) before the next ready(). Or, to write in
 * the background: acceptReady(rd) at once (then the next ready() may follow) and persisted(rd)
 * when its state is durable, in the order accepted.
 */
export class RawNode {
  private readonly raft: Raft;
  private prevSoftState: SoftState;
  private prevHardState: HardState;
  private readonly outstanding = new WeakMap<Ready, ReadyRecord>();
  /** Accepted Readys not yet persisted: one of them may hold this term's vote. */
  private writesInFlight = 0;

  constructor(config: RaftConfig) {
    this.raft = new Raft(resolveConfig(config));
    this.prevSoftState = this.raft.softState();
    this.prevHardState = this.raft.hardState();
  }

  tick(): void {
    this.raft.tick();
  }

  campaign(): void {
    this.raft.hup(false);
  }

  /** Steps a message from a peer. Malformed, misaddressed or stale input is dropped and logged. */
  step(m: Message): void {
    const bad = malformedReason(m);
    if (bad !== undefined) {
      this.raft.logger.warn('dropping malformed message', { reason: bad });
      return;
    }
    if (m.to !== this.raft.id) {
      this.raft.logger.warn('dropping a message addressed to another node', { to: m.to, type: m.type });
      return;
    }
    if (m.from === this.raft.id && m.type !== 'transferLeader') {
      this.raft.logger.warn('dropping a message from ourselves', { type: m.type });
      return;
    }
    try {
      this.raft.step(m);
    } catch (err) {
      this.raft.logger.error('error while stepping a message; dropped', { type: m.type, from: m.from, err: String(err) });
    }
  }

  propose(data: Uint8Array): void {
    this.raft.propose([{ term: 0, index: 0, type: 'normal', data }], true);
  }

  proposeBatch(data: Uint8Array[]): void {
    this.raft.propose(data.map((d) => ({ term: 0, index: 0, type: 'normal' as const, data: d })), true);
  }

  proposeConfChange(cc: ConfChange): void {
    this.raft.propose([{ term: 0, index: 0, type: 'confChange', data: encodeConfChange(cc) }], true);
  }

  applyConfChange(cc: ConfChange): ConfState {
    return this.raft.applyConfChange(cc);
  }

  readIndex(context: Uint8Array): void {
    this.raft.readIndex(newMessage('readIndex', this.raft.id, { entries: [{ term: 0, index: 0, type: 'normal', data: context }] }));
  }

  transferLeadership(to: NodeId): void {
    this.raft.transferLeadership(to);
  }

  reportUnreachable(id: NodeId): void {
    this.raft.reportUnreachable(id);
  }

  /**
   * The connection to `id` ended abnormally (e.g. its process died). A follower of `id` campaigns
   * after a short grace instead of a whole election timeout, unless `id` is heard from meanwhile.
   * Returns the ticks until it would campaign, or undefined when the hint does not apply.
   */
  suspectLeader(id: NodeId): number | undefined {
    return this.raft.suspectLeader(id);
  }

  /** With deferCommitBroadcast: some follower waits for a commit index that no message carried yet. */
  commitNoticeDue(): boolean {
    return this.raft.commitNoticeDue();
  }

  /** With deferCommitBroadcast: sends the commit index to the followers commitNoticeDue() counts. */
  broadcastCommit(): void {
    this.raft.broadcastCommit();
  }

  reportSnapshot(id: NodeId, ok: boolean): void {
    this.raft.reportSnapshot(id, ok);
  }

  hasReady(): boolean {
    const r = this.raft;
    const soft = r.softState();
    if (soft.leader !== this.prevSoftState.leader || soft.role !== this.prevSoftState.role) return true;
    if (!sameHardState(r.hardState(), this.prevHardState)) return true;
    if (r.log.hasPendingSnapshot()) return true;
    if (r.msgs.length > 0 || r.msgsAfterPersist.length > 0 || r.readStates.length > 0) return true;
    if (r.log.unstable.hasEntriesToPersist()) return true;
    return r.log.hasNextCommittedEnts();
  }

  ready(): Ready {
    const r = this.raft;
    const rd: Ready = {
      entries: r.log.unstableEntries(),
      committedEntries: r.log.nextCommittedEnts(),
      messages: r.msgs,
      messagesAfterPersist: r.msgsAfterPersist,
      readStates: r.readStates,
      mustSync: false,
    };
    r.msgs = [];
    r.msgsAfterPersist = [];
    r.readStates = [];
    const soft = r.softState();
    if (soft.leader !== this.prevSoftState.leader || soft.role !== this.prevSoftState.role) {
      rd.softState = soft;
      this.prevSoftState = soft;
    }
    const hs = r.hardState();
    if (!sameHardState(hs, this.prevHardState)) {
      rd.hardState = hs;
      rd.mustSync = hs.term !== this.prevHardState.term || hs.vote !== this.prevHardState.vote;
      this.prevHardState = hs;
    }
    if (rd.entries.length > 0) rd.mustSync = true;
    if (r.log.unstable.snapshot) {
      rd.snapshot = r.log.unstable.snapshot;
      rd.mustSync = true;
    }
    const lastCommitted = rd.committedEntries[rd.committedEntries.length - 1];
    if (lastCommitted) r.log.acceptApplying(lastCommitted.index);
    this.outstanding.set(rd, { hardState: hs, accepted: false });
    return rd;
  }

  /**
   * Takes the Ready while its entries and hard state are still being written: its committed
   * entries count as handed out, and the next ready() hands out only newer entries. Call
   * persisted(rd) once they are durable. A Ready with a snapshot is advanced once written instead.
   */
  acceptReady(rd: Ready): void {
    const rec = this.outstanding.get(rd);
    if (!rec || rec.accepted) throw new Error('acceptReady() called with a Ready that was not returned by ready() (or was already accepted)');
    if (rd.snapshot) throw new Error('a Ready with a snapshot must be written, then advanced; it cannot be accepted before');
    rec.accepted = true;
    this.writesInFlight++;
    const r = this.raft;
    const lastEntry = rd.entries[rd.entries.length - 1];
    if (lastEntry) r.log.unstable.acceptInProgress(lastEntry.index, lastEntry.term);
    this.handedOutApplied(rd);
  }

  /** The accepted Ready's entries and hard state are durable (called in the order accepted). */
  persisted(rd: Ready): void {
    const rec = this.outstanding.get(rd);
    if (!rec || !rec.accepted) throw new Error('persisted() called with a Ready that was not accepted (or was already persisted)');
    this.outstanding.delete(rd);
    this.writesInFlight--;
    const lastEntry = rd.entries[rd.entries.length - 1];
    if (lastEntry) this.raft.log.stableTo(lastEntry.index, lastEntry.term);
    this.durable(rec);
  }

  /** The Ready's state is durable, its messages sent and its committed entries applied. */
  advance(rd: Ready): void {
    const rec = this.outstanding.get(rd);
    if (!rec || rec.accepted) throw new Error('advance() called with a Ready that was not returned by ready() (or was already advanced or accepted)');
    if (this.writesInFlight > 0 && (rd.entries.length > 0 || rd.hardState || rd.snapshot || rd.messagesAfterPersist.length > 0)) {
      // Its state would count as durable before the writes accepted ahead of it (stableTo covers
      // them too), and its acknowledgements may cover their entries (a resent append).
      throw new Error('advance() called with a Ready that has state to write or messages to send after persisting while accepted Readys are still being written: accept it too, or persist those first');
    }
    this.outstanding.delete(rd);
    const r = this.raft;
    if (rd.snapshot) {
      r.log.stableSnapTo(rd.snapshot.metadata.index);
      if (rd.snapshot.metadata.index > r.log.applied) {
        r.log.committed = Math.max(r.log.committed, rd.snapshot.metadata.index);
        r.log.appliedTo(rd.snapshot.metadata.index);
      }
    }
    const lastEntry = rd.entries[rd.entries.length - 1];
    if (lastEntry) r.log.stableTo(lastEntry.index, lastEntry.term);
    this.handedOutApplied(rd);
    this.durable(rec);
  }

  private handedOutApplied(rd: Ready): void {
    const lastCommitted = rd.committedEntries[rd.committedEntries.length - 1];
    if (lastCommitted) {
      this.raft.log.appliedTo(lastCommitted.index);
      this.raft.reduceUncommittedSize(rd.committedEntries);
    }
  }

  /**
   * A leader counts its own entries toward commit, a candidate its own vote, only once durable:
   * the vote is durable when no accepted Ready (which may hold it) is still being written.
   */
  private durable(rec: ReadyRecord): void {
    const r = this.raft;
    if (rec.hardState.term === r.term && rec.hardState.vote === r.id && this.writesInFlight === 0) r.selfVoteDurable();
    r.selfDurable(r.log.lastStableIndex());
  }

  status(): Status {
    const r = this.raft;
    const st: Status = {
      id: r.id,
      term: r.term,
      vote: r.vote,
      commit: r.log.committed,
      applied: r.log.applied,
      lastIndex: r.log.lastIndex(),
      leader: r.lead,
      role: r.state,
      leadTransferee: r.leadTransferee,
      config: r.trk.confState(),
    };
    if (r.state === 'leader') {
      st.progress = new Map([...r.trk.progress].map(([id, pr]) => [id, pr.toStatus()]));
      st.pendingConfIndex = r.pendingConfIndex;
    }
    return st;
  }
}

export { NO_NODE };
