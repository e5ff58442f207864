/**
 * A single-member, in-memory simulator of NodeApi for testing the HTTP layer in isolation
 * (status codes, bodies, SSE framing, forwarding). The real node is exercised by node.test.ts
 * and the cluster tier.
 */
import { ConflictError, GoneError, NotFoundError, PreconditionFailedError } from '../../../node/src/errors.js';
import type {
  AddMemberRequest,
  ForwardedRequest,
  ForwardedResponse,
  KvRecord,
  MemberInfo,
  NodeApi,
  NodeStatus,
  WatchEvent,
  WriteCondition,
} from '../../../node/src/server/node-api.js';

export class InMemoryNodeSimulator implements NodeApi {
  leader = true;
  forwarded: ForwardedRequest[] = [];
  forwardTarget?: (req: ForwardedRequest) => Promise<ForwardedResponse>;
  handler?: (req: ForwardedRequest) => Promise<ForwardedResponse>;
  private data = new Map<string, KvRecord>();
  private history: WatchEvent[] = [];
  private watchers = new Set<{ prefix: string; fn: (e: WatchEvent) => void }>();
  private rev = 0;
  private compactedBelow = 0;
  private memberList: MemberInfo[] = [{ id: '00000000000000aa', name: 'n1', peerAddress: '127.0.0.1:7000', role: 'voter', isLeader: true }];

  settled(): Promise<void> | undefined {
    return undefined; // every write is in the map when it is answered
  }

  status(): NodeStatus {
    return {
      id: '00000000000000aa', name: 'n1', clusterId: 'c1', role: this.leader ? 'leader' : 'follower', term: 1, leaderId: this.leader ? '00000000000000aa' : '00000000000000bb',
      commit: this.rev, applied: this.rev, lastIndex: this.rev, snapshotIndex: 0, configIndex: 1, revision: this.rev, member: true, removed: false, peerAddress: '127.0.0.1:7000',
    };
  }
  readiness() {
    return { ready: this.leader, reason: this.leader ? '' : 'no leader contact' };
  }
  isLeader(): boolean {
    return this.leader;
  }
  async forwardToLeader(req: ForwardedRequest): Promise<ForwardedResponse> {
    this.forwarded.push(req);
    if (!this.forwardTarget) throw new Error('no forward target');
    return this.forwardTarget(req);
  }
  setForwardHandler(h: (req: ForwardedRequest) => Promise<ForwardedResponse>): void {
    this.handler = h;
  }
  async get(key: string): Promise<KvRecord | undefined> {
    return this.data.get(key);
  }
  async list(prefix: string, limit: number) {
    const keys = [...this.data.keys()].filter((k) => k.startsWith(prefix)).sort();
    return { items: keys.slice(0, limit).map((k) => this.data.get(k)!), revision: this.rev, more: keys.length > limit };
  }
  watch(prefix: string, fromRevision: number, onEvent: (e: WatchEvent) => void) {
    if (fromRevision > 0 && fromRevision < this.compactedBelow) throw new GoneError(`revision ${fromRevision} is compacted`);
    if (fromRevision > 0) for (const e of this.history) if (e.revision >= fromRevision && e.key.startsWith(prefix)) onEvent(e);
    const w = { prefix, fn: onEvent };
    this.watchers.add(w);
    return { cancel: () => this.watchers.delete(w) };
  }
  compact(below: number): void {
    this.compactedBelow = below;
  }
  private check(key: string, cond: WriteCondition): void {
    const cur = this.data.get(key);
    if (cond.ifNoneMatch && cur) throw new PreconditionFailedError('key exists', cur.modRevision);
    if (cond.ifMatch !== undefined && (cur?.modRevision ?? 0) !== cond.ifMatch) throw new PreconditionFailedError('revision mismatch', cur?.modRevision ?? 0);
  }
  private emit(e: WatchEvent): void {
    this.history.push(e);
    for (const w of this.watchers) if (e.key.startsWith(w.prefix)) w.fn(e);
  }
  async put(key: string, value: Uint8Array, cond: WriteCondition) {
    this.check(key, cond);
    const cur = this.data.get(key);
    const revision = ++this.rev;
    this.data.set(key, { key, value: new Uint8Array(value), createRevision: cur?.createRevision ?? revision, modRevision: revision, version: (cur?.version ?? 0) + 1 });
    this.emit({ type: 'put', key, value: new Uint8Array(value), revision });
    return { revision };
  }
  async delete(key: string, cond: WriteCondition) {
    if (!this.data.has(key)) throw new NotFoundError('absent', 'key_not_found');
    this.check(key, cond);
    this.data.delete(key);
    const revision = ++this.rev;
    this.emit({ type: 'delete', key, revision });
    return { revision };
  }
  members(): MemberInfo[] {
    return this.memberList;
  }
  async listMembers(): Promise<MemberInfo[]> {
    return this.memberList;
  }
  async bootstrap(): Promise<NodeStatus> {
    throw new ConflictError('already a member of a cluster', 'already_formed');
  }
  async addMember(req: AddMemberRequest): Promise<MemberInfo> {
    const m: MemberInfo = { id: req.id, name: req.name, peerAddress: req.peerAddress, role: req.learner ? 'learner' : 'voter', isLeader: false };
    this.memberList.push(m);
    return m;
  }
  async promoteMember(id: string): Promise<MemberInfo> {
    const m = this.memberList.find((x) => x.id === id);
    if (!m) throw new NotFoundError(`member ${id} not found`, 'member_not_found');
    if (m.role === 'voter') throw new ConflictError(`member ${id} is already a voter`);
    m.role = 'voter';
    return m;
  }
  async removeMember(id: string) {
    if (!this.memberList.some((x) => x.id === id)) throw new NotFoundError(`member ${id} not found`, 'member_not_found');
    this.memberList = this.memberList.filter((x) => x.id !== id);
    return { id };
  }
  introduced: unknown[] = [];
  async noticeRemoved(): Promise<void> {}
  async introduce(body: unknown): Promise<void> {
    this.introduced.push(body);
  }
  async transferLeadership(to?: string) {
    return { leaderId: to ?? '00000000000000aa' };
  }
}
