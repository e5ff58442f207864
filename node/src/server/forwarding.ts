import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { NotLeaderError } from '../errors.js';
import type { ForwardedRequest, ForwardedResponse, NodeApi } from './node-api.js';

/** Marks a request another member forwarded; such a request is never forwarded again (no loops). */
export const FORWARDED_HEADER = 'x-kuorum-forwarded';

const FORWARDED_REQUEST_HEADERS = ['content-type', 'if-match', 'if-none-match', 'accept'];
const HOP_BY_HOP = new Set(['content-length', 'connection', 'transfer-encoding', 'keep-alive', 'date']);

type Handler = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

/**
 * Wraps a handler that must run on the leader: on a follower the request goes to the leader over
 * the peer transport; if leadership moves while the handler runs, the request follows it once.
 */
export function leaderOnly(node: NodeApi, forwardTimeoutMs: number, handler: Handler): Handler {
  return async (request, reply) => {
    if (!node.isLeader()) return forward(node, forwardTimeoutMs, request, reply);
    try {
      return await handler(request, reply);
    } catch (err) {
      if (err instanceof NotLeaderError && !wasForwarded(request)) return forward(node, forwardTimeoutMs, request, reply);
      throw err;
    }
  };
}

function wasForwarded(request: FastifyRequest): boolean {
  return request.headers[FORWARDED_HEADER] !== undefined;
}

async function forward(node: NodeApi, timeoutMs: number, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  if (wasForwarded(request)) throw new NotLeaderError('this node is not the leader (the request was already forwarded once)');
  const headers: Record<string, string> = {};
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const v = request.headers[name];
    if (typeof v === 'string') headers[name] = v;
  }
  let body: Uint8Array;
  if (request.body === undefined || request.body === null) body = new Uint8Array();
  else if (Buffer.isBuffer(request.body)) body = request.body;
  else {
    body = Buffer.from(JSON.stringify(request.body));
    headers['content-type'] = 'application/json';
  }
  const req = { method: request.method, path: request.url, headers, body };
  let res = await node.forwardToLeader(req, timeoutMs);
  // The leader may hand over leadership while serving (e.g. removing itself): follow it, a few times at most.
  for (let attempt = 0; attempt < 3 && isNotLeader(res); attempt++) {
    await new Promise((r) => setTimeout(r, 100 * (attempt + 1)));
    if (node.isLeader()) return reply.code(503).header('retry-after', '1').send({ error: 'leadership moved to this node; retry', code: 'not_leader' });
    res = await node.forwardToLeader(req, timeoutMs);
  }
  reply.code(res.status);
  for (const [k, v] of Object.entries(res.headers)) if (!HOP_BY_HOP.has(k.toLowerCase())) reply.header(k, v);
  return reply.send(Buffer.from(res.body.buffer, res.body.byteOffset, res.body.byteLength));
}

function isNotLeader(res: ForwardedResponse): boolean {
  if (res.status !== 503) return false;
  try {
    return (JSON.parse(Buffer.from(res.body).toString()) as { code?: string }).code === 'not_leader';
  } catch {
    return false;
  }
}

/** Executes a request forwarded by another member against this node's own routes. */
export function injectForwarded(app: FastifyInstance): (req: ForwardedRequest) => Promise<ForwardedResponse> {
  return async (req) => {
    const res = await app.inject({
      method: req.method as 'GET',
      url: req.path,
      headers: { ...req.headers, [FORWARDED_HEADER]: '1' },
      payload: Buffer.from(req.body.buffer, req.body.byteOffset, req.body.byteLength),
    });
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers)) {
      if (v === undefined) continue;
      headers[k] = Array.isArray(v) ? v.join(', ') : String(v);
    }
    return { status: res.statusCode, headers, body: new Uint8Array(res.rawPayload) };
  };
}
