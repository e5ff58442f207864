// The operator's side of the kuorum node admin API (DESIGN.md), spoken over HTTP to pod IPs
// exactly as a user with curl would. Every call has a timeout; replies are validated, not trusted.
import type { NodeMember, NodeStatus } from './types.js';

export class NodeApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
  ) {
    super(message);
  }
}

export interface NodeClientOptions {
  timeoutMs: number;
  port: number;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'bigint' ? String(v) : '');
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' && v !== '' && Number.isFinite(Number(v)) ? Number(v) : undefined);

function record(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new NodeApiError(`${what}: expected a JSON object`, 0, 'BadReply');
  return v as Record<string, unknown>;
}

export function parseStatus(body: unknown): NodeStatus {
  const o = record(body, 'GET /v1/status');
  const id = str(o.id);
  if (!id) throw new NodeApiError('GET /v1/status: no member id in reply', 0, 'BadReply');
  return {
    id,
    name: str(o.name),
    clusterId: str(o.clusterId ?? o.cluster_id),
    role: str(o.role),
    term: num(o.term) ?? 0,
    leaderId: str(o.leaderId ?? o.leader),
    commit: num(o.commit ?? o.commitIndex) ?? 0,
    applied: num(o.applied ?? o.appliedIndex) ?? 0,
    lastIndex: num(o.lastIndex) ?? 0,
    ...(num(o.configIndex) !== undefined ? { configIndex: num(o.configIndex) } : {}),
  };
}

/** Milliseconds since last contact, from a number of ms or an ISO timestamp. */
function contactMs(v: unknown, now: number): number | undefined {
  const n = num(v);
  if (n !== undefined) return n;
  if (typeof v === 'string') {
    const t = Date.parse(v);
    if (Number.isFinite(t)) return Math.max(0, now - t);
  }
  return undefined;
}

export function parseMembers(body: unknown, now = Date.now()): NodeMember[] {
  const list = Array.isArray(body) ? body : record(body, 'GET /v1/members').members;
  if (!Array.isArray(list)) throw new NodeApiError('GET /v1/members: expected a list of members', 0, 'BadReply');
  return list.map((raw) => {
    const o = record(raw, 'GET /v1/members entry');
    const id = str(o.id);
    if (!id) throw new NodeApiError('GET /v1/members: a member without id', 0, 'BadReply');
    const learner = o.role === 'learner' || o.learner === true || o.isLearner === true;
    return {
      id,
      name: str(o.name),
      peerAddress: str(o.peerAddress),
      role: learner ? 'learner' : 'voter',
      matchIndex: num(o.matchIndex ?? o.match),
      lastContactMs: contactMs(o.lastContactMs ?? o.lastContact, now),
    } satisfies NodeMember;
  });
}

export class NodeClient {
  constructor(private readonly options: NodeClientOptions = { timeoutMs: 3_000, port: 8080 }) {}

  private url(ip: string, path: string): string {
    const host = ip.includes(':') ? `[${ip}]` : ip;
    return `http://${host}:${this.options.port}${path}`;
  }

  private async call(ip: string, method: string, path: string, body?: unknown): Promise<unknown> {
    let res: Response;
    try {
      res = await fetch(this.url(ip, path), {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
    } catch (err) {
      throw new NodeApiError(`${method} ${path} on ${ip}: ${(err as Error).message}`, 0, 'Unreachable');
    }
    const text = await res.text();
    let parsed: unknown = undefined;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    if (!res.ok) {
      const o = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
      throw new NodeApiError(`${method} ${path} on ${ip}: ${res.status} ${str(o.error) || text.slice(0, 200)}`, res.status, str(o.code) || `HTTP${res.status}`);
    }
    return parsed;
  }

  async status(ip: string): Promise<NodeStatus> {
    return parseStatus(await this.call(ip, 'GET', '/v1/status'));
  }

  async members(ip: string): Promise<NodeMember[]> {
    return parseMembers(await this.call(ip, 'GET', '/v1/members'));
  }

  async bootstrap(ip: string): Promise<void> {
    await this.call(ip, 'POST', '/v1/bootstrap', {});
  }

  async addMember(ip: string, member: { id: string; name: string; peerAddress: string; learner: boolean }): Promise<void> {
    await this.call(ip, 'POST', '/v1/members', member);
  }

  async promote(ip: string, id: string): Promise<void> {
    await this.call(ip, 'POST', `/v1/members/${encodeURIComponent(id)}/promote`, {});
  }

  async removeMember(ip: string, id: string): Promise<void> {
    await this.call(ip, 'DELETE', `/v1/members/${encodeURIComponent(id)}`);
  }

  async transferLeadership(ip: string, to?: string): Promise<void> {
    await this.call(ip, 'POST', '/v1/leader/transfer', to ? { to } : {});
  }
}
