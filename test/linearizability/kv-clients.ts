/**
 * Concurrent KV clients for the linearizability test: each loops put / get / If-Match CAS on a
 * small key space through a random member, recording every operation. A reply that proves the
 * operation had no effect (connection refused, 503 no_leader / not_ready) is not recorded; a
 * timeout, reset or any other 5xx is recorded as unknown, and the client then continues under a
 * fresh client id (its unknown operation stays open forever in the history).
 */
import type { HistoryRecorder, OpResult } from './history-recorder.js';

export interface ClientOptions {
  clients: number;
  keys: string[];
  /** Base URLs (http://host:port) of the members, read before every operation. */
  targets: () => string[];
  recorder: HistoryRecorder;
  requestTimeoutMs: number;
  maxOpsPerClient: number;
  /** Pause between a client's operations. */
  thinkMs: number;
}

const DEFINITELY_NOT_DONE = new Set(['no_leader', 'not_ready']);

function pick<T>(items: readonly T[]): T {
  return items[Math.floor(Math.random() * items.length)]!;
}

function connectionRefused(err: unknown): boolean {
  const cause = (err as { cause?: { code?: string } }).cause;
  return cause?.code === 'ECONNREFUSED';
}

async function errorCode(res: Response): Promise<string> {
  try {
    return ((await res.json()) as { code?: string }).code ?? '';
  } catch {
    return '';
  }
}

type Outcome = OpResult | 'no-effect';

async function send(url: string, init: RequestInit, timeoutMs: number, onReply: (res: Response) => Promise<Outcome>): Promise<Outcome> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    return connectionRefused(err) ? 'no-effect' : { unknown: true };
  }
  try {
    return await onReply(res);
  } catch {
    return { unknown: true }; // the body broke off: the status said nothing certain yet
  }
}

async function writeReply(res: Response, isCas: boolean): Promise<Outcome> {
  if (res.status === 200) return { revision: ((await res.json()) as { revision: number }).revision };
  if (isCas && res.status === 412) return { mismatch: true };
  if (res.status === 503 && DEFINITELY_NOT_DONE.has(await errorCode(res))) return 'no-effect';
  if (res.status >= 500) return { unknown: true };
  throw new Error(`unexpected reply to a write: ${res.status} ${await res.text()}`);
}

async function readReply(res: Response): Promise<Outcome> {
  if (res.status === 200) {
    const value = await res.text();
    const etag = res.headers.get('etag') ?? '';
    const revision = Number(/^"(\d+)"$/.exec(etag)?.[1]);
    if (!Number.isSafeInteger(revision)) throw new Error(`a read returned no usable ETag: ${JSON.stringify(etag)}`);
    return { found: true, value, revision };
  }
  if (res.status === 404) return { found: false };
  if (res.status >= 500) return 'no-effect'; // a failed read changed nothing
  throw new Error(`unexpected reply to a read: ${res.status} ${await res.text()}`);
}

export class KvClients {
  private stopped = false;
  private nextClientId = 0;
  readonly unexpected: Error[] = [];

  constructor(private readonly o: ClientOptions) {}

  stop(): void {
    this.stopped = true;
  }

  async run(): Promise<void> {
    await Promise.all(Array.from({ length: this.o.clients }, (_, i) => this.loop(i)));
  }

  private async loop(worker: number): Promise<void> {
    let client = this.nextClientId++;
    const seenRev = new Map<string, number>();
    for (let seq = 0; seq < this.o.maxOpsPerClient && !this.stopped; seq++) {
      const key = pick(this.o.keys);
      const url = `${pick(this.o.targets())}/v1/kv/${key}`;
      const roll = Math.random();
      const ifRev = seenRev.get(key);
      let result: OpResult | undefined;
      try {
        if (roll < 0.4) {
          const value = `w${worker}-${seq}`;
          result = await this.record(client, 'put', key, { value }, () => send(url, { method: 'PUT', body: value }, this.o.requestTimeoutMs, (r) => writeReply(r, false)));
        } else if (roll < 0.55 && ifRev !== undefined) {
          const value = `c${worker}-${seq}`;
          const headers = { 'if-match': `"${ifRev}"` };
          result = await this.record(client, 'cas', key, { value, ifRev }, () => send(url, { method: 'PUT', body: value, headers }, this.o.requestTimeoutMs, (r) => writeReply(r, true)));
        } else {
          result = await this.record(client, 'get', key, {}, () => send(url, { method: 'GET' }, this.o.requestTimeoutMs, readReply));
        }
      } catch (err) {
        this.unexpected.push(err as Error);
        return;
      }
      if (result?.unknown) client = this.nextClientId++;
      else if (result?.revision !== undefined) seenRev.set(key, result.revision);
      if (this.o.thinkMs > 0) await new Promise((r) => setTimeout(r, Math.random() * this.o.thinkMs));
    }
  }

  /** Records the operation unless its outcome proves it had no effect. */
  private async record(client: number, op: 'put' | 'get' | 'cas', key: string, input: { value?: string; ifRev?: number }, run: () => Promise<Outcome>): Promise<OpResult | undefined> {
    const call = this.o.recorder.now();
    const outcome = await run();
    if (outcome === 'no-effect') return undefined;
    this.o.recorder.add({ client, call, op, key, ...input, result: outcome, ...(outcome.unknown ? {} : { return: this.o.recorder.now() }) });
    return outcome;
  }
}
