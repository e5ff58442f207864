import { Progress } from './progress.js';
import type { ConfState, NodeId } from './types.js';

export type VoteResult = 'won' | 'lost' | 'pending';

/** The configuration (voters and learners), each member's Progress, and the votes of an election. */
export class ProgressTracker {
  voters = new Set<NodeId>();
  learners = new Set<NodeId>();
  progress = new Map<NodeId, Progress>();
  votes = new Map<NodeId, boolean>();

  constructor(
    readonly maxInflightMsgs: number,
    readonly maxInflightBytes: number,
  ) {}

  quorum(): number {
    return Math.floor(this.voters.size / 2) + 1;
  }

  isSingleton(id: NodeId): boolean {
    return this.voters.size === 1 && this.voters.has(id);
  }

  confState(): ConfState {
    return { voters: [...this.voters].sort(), learners: [...this.learners].sort() };
  }

  /** Replaces the configuration; members keep their Progress, new ones start probing at `next`. */
  setConf(cs: ConfState, next: number): void {
    this.voters = new Set(cs.voters);
    this.learners = new Set(cs.learners.filter((id) => !this.voters.has(id)));
    for (const id of [...this.progress.keys()]) {
      if (!this.voters.has(id) && !this.learners.has(id)) this.progress.delete(id);
    }
    for (const id of [...this.voters, ...this.learners]) {
      const pr = this.progress.get(id);
      if (pr) pr.isLearner = this.learners.has(id);
      else this.progress.set(id, this.newProgress(next, this.learners.has(id)));
    }
  }

  newProgress(next: number, isLearner: boolean): Progress {
    return new Progress(Math.max(next, 1), this.maxInflightMsgs, this.maxInflightBytes, isLearner);
  }

  /** The highest index a quorum of voters has durably matched (0 with no voters). */
  committed(): number {
    if (this.voters.size === 0) return 0;
    const matches: number[] = [];
    for (const id of this.voters) matches.push(this.progress.get(id)?.match ?? 0);
    matches.sort((a, b) => b - a);
    return matches[this.quorum() - 1]!;
  }

  resetVotes(): void {
    this.votes.clear();
  }

  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  /** Counts only votes from voters: learners and strangers never decide an election. */
  tallyVotes(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    for (const id of this.voters) {
      const v = this.votes.get(id);
      if (v === true) granted++;
      else if (v === false) rejected++;
    }
    const q = this.quorum();
    let result: VoteResult = 'pending';
    if (this.voters.size > 0 && granted >= q) result = 'won';
    else if (this.voters.size - rejected < q) result = 'lost';
    return { granted, rejected, result };
  }

  /** Whether a quorum of voters was recently active (`self` always counts). */
  quorumActive(self: NodeId): boolean {
    let active = 0;
    for (const id of this.voters) {
      if (id === self || this.progress.get(id)?.recentActive) active++;
    }
    return active >= this.quorum();
  }

  /** Whether a quorum of voters is in `acks`. */
  hasQuorum(acks: Set<NodeId>): boolean {
    let n = 0;
    for (const id of this.voters) if (acks.has(id)) n++;
    return n >= this.quorum();
  }
}
