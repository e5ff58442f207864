import type { ConfState, Entry } from '../../node/src/raft/index.js';

/**
 * The simulated replicated state machine: a tiny KV whose contents, applied index, membership and
 * a rolling digest of every applied entry are durable together (one atomic write per apply batch).
 */
export interface PutCommand {
  id: string;
  key: string;
  value: string;
}

export interface StoredValue {
  value: string;
  id: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodePut(cmd: PutCommand): Uint8Array {
  return encoder.encode(JSON.stringify([cmd.id, cmd.key, cmd.value]));
}

export function decodePut(data: Uint8Array): PutCommand {
  const parsed: unknown = JSON.parse(decoder.decode(data));
  if (!Array.isArray(parsed) || parsed.length !== 3 || !parsed.every((x) => typeof x === 'string')) {
    throw new Error('not a put command');
  }
  const [id, key, value] = parsed as string[];
  return { id: id!, key: key!, value: value! };
}

/** FNV-1a over the previous digest and the entry's index, term, type and bytes. */
export function mixDigest(prev: number, e: Entry): number {
  let h = (prev ^ 0x811c9dc5) >>> 0;
  const mix = (byte: number): void => {
    h ^= byte & 0xff;
    h = Math.imul(h, 0x01000193) >>> 0;
  };
  for (const n of [e.index, e.term, e.type === 'confChange' ? 1 : 0]) {
    for (let s = 0; s < 32; s += 8) mix(n >>> s);
    for (let s = 0; s < 21; s += 8) mix(Math.floor(n / 2 ** 32) >>> s);
  }
  for (const b of e.data) mix(b);
  return h;
}

export class KvMachine {
  applied = 0;
  digest = 0;
  confState: ConfState;
  readonly values = new Map<string, StoredValue>();
  /** Write IDs already applied: a network-duplicated 'prop' can append the same command twice. */
  readonly seen = new Set<string>();

  constructor(confState: ConfState) {
    this.confState = { voters: [...confState.voters], learners: [...confState.learners] };
  }

  /** Applies a put; returns false if this write ID was applied before (the duplicate is ignored). */
  put(cmd: PutCommand): boolean {
    if (this.seen.has(cmd.id)) return false;
    this.seen.add(cmd.id);
    this.values.set(cmd.key, { value: cmd.value, id: cmd.id });
    return true;
  }

  /** Marks an entry applied: advances the index and folds the entry into the digest. */
  markApplied(e: Entry): void {
    this.applied = e.index;
    this.digest = mixDigest(this.digest, e);
  }

  serialize(): Uint8Array {
    return encoder.encode(
      JSON.stringify({
        applied: this.applied,
        digest: this.digest,
        confState: this.confState,
        values: [...this.values].map(([k, v]) => [k, v.value, v.id]),
        seen: [...this.seen],
      }),
    );
  }

  static deserialize(data: Uint8Array): KvMachine {
    const o = JSON.parse(decoder.decode(data)) as {
      applied: number;
      digest: number;
      confState: ConfState;
      values: [string, string, string][];
      seen: string[];
    };
    if (typeof o.applied !== 'number' || typeof o.digest !== 'number' || !Array.isArray(o.values)) {
      throw new Error('not a KV snapshot');
    }
    const kv = new KvMachine(o.confState);
    kv.applied = o.applied;
    kv.digest = o.digest;
    for (const [k, value, id] of o.values) kv.values.set(k, { value, id });
    for (const id of o.seen) kv.seen.add(id);
    return kv;
  }
}
