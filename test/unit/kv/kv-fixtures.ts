import type { ConfChange, ConfState, Entry } from '../../../node/src/raft/index.js';
import { encodeCommand, encodeMemberContext, type CommittedEntry } from '../../../node/src/kv/index.js';

/** Builds committed entries with consecutive indexes, starting after `applied`. */
export class EntryBuilder {
  private index: number;
  private seq = 0;

  constructor(applied = 0) {
    this.index = applied;
  }

  private entry(data: Uint8Array, type: Entry['type'] = 'normal'): CommittedEntry {
    return { index: ++this.index, term: 1, type, data };
  }

  put(key: string, value: string, pre: { ifMatch?: number; ifNoneMatch?: boolean } = {}): CommittedEntry {
    return this.entry(encodeCommand({ ifMatch: pre.ifMatch, ifNoneMatch: pre.ifNoneMatch, op: 'put', requestId: `r${++this.seq}`, key, value: new TextEncoder().encode(value) }));
  }

  del(key: string, pre: { ifMatch?: number } = {}): CommittedEntry {
    return this.entry(encodeCommand({ ifMatch: pre.ifMatch, op: 'delete', requestId: `r${++this.seq}`, key }));
  }

  noop(): CommittedEntry {
    return this.entry(encodeCommand({ op: 'noop', requestId: `r${++this.seq}` }));
  }

  empty(): CommittedEntry {
    return this.entry(new Uint8Array());
  }

  raw(data: Uint8Array): CommittedEntry {
    return this.entry(data);
  }

  conf(type: ConfChange['type'], nodeId: string, confState: ConfState, member?: { name: string; peerAddress: string }): CommittedEntry {
    const confChange: ConfChange = { type, nodeId, context: member ? encodeMemberContext(member) : new Uint8Array() };
    return { ...this.entry(new Uint8Array([1]), 'confChange'), confChange, confState };
  }
}

export const text = (b: Uint8Array | undefined): string | undefined => (b ? new TextDecoder().decode(b) : undefined);
