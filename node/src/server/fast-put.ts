/**
 * PUT /v1/kv/<key> for the plain requests a write load is made of, answered on the HTTP server
 * without fastify's per-request machinery (routing, request and reply objects, a child logger,
 * the content-type parser, hooks, the serializer): a lone server answering the bench's load
 * generator (put ×64, 10 ms per write) took 41 instead of 48–51 µs of CPU per request. Same
 * answers as the fastify route (routes/kv.ts), which every other request still reaches, byte
 * for byte apart from the Date header: test/unit/server/fast-put.test.ts compares the two.
 * A request qualifies only if nothing in it needs what fastify would do:
 * - the key is plain in the URL (no percent-encoding, query, fragment or non-ASCII: the path
 *   after /v1/kv/ is the key as it is) and not longer than the key limit;
 * - the body has a Content-Length within the value limit (no chunked body: fastify's 413 and
 *   length checks stay with fastify), and the Content-Type, if any, is a bare type/subtype.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { FastifyBaseLogger } from 'fastify';
import { ApiError, PayloadTooLargeError, PreconditionFailedError } from '../errors.js';
import type { BoundHistogram, HistogramCell } from '../bound-histogram.js';
import { parseConditions } from './conditions.js';
import { validateKey } from './keys.js';
import type { Limits } from './limits.js';
import type { NodeApi } from './node-api.js';

export const KV_PREFIX = '/v1/kv/';
/** The route's label in the request duration histogram (the fastify route's pattern). */
const ROUTE = '/v1/kv/*';
const JSON_UTF8 = 'application/json; charset=utf-8';
/** Characters a key may have to be taken from the URL as it is (RFC 3986 unreserved, sub-delims, ':', '@', '/'). */
const PLAIN_KEY = /^[A-Za-z0-9\-._~!$&'()*+,=:@/]+$/;
const BARE_CONTENT_TYPE = /^[\w!#$%&'*+.^`|~-]+\/[\w!#$%&'*+.^`|~-]+$/;
const DIGITS = /^\d{1,15}$/;
const EMPTY = Buffer.alloc(0);
const ignore = (): void => {};

export interface FastPutOptions {
  node: NodeApi;
  limits: Limits;
  histogram: BoundHistogram;
  log: FastifyBaseLogger;
  /** True once the server is closing: then fastify answers (its 503 while closing). */
  closing: () => boolean;
}

/** Returns a request listener's front: true when it has taken the request, false for fastify's. */
export function fastPut(opts: FastPutOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const { node, limits, histogram, log, closing } = opts;
  const cells = new Map<number, HistogramCell>();
  const observe = (status: number, started: number): void => {
    let cell = cells.get(status);
    if (!cell) cells.set(status, (cell = histogram.cell('PUT', ROUTE, String(status))));
    cell.observe((performance.now() - started) / 1000);
  };

  const answer = (res: ServerResponse, started: number, revision: number): void => {
    const body = `{"revision":${revision}}`;
    res.writeHead(200, ['etag', `"${revision}"`, 'content-type', JSON_UTF8, 'content-length', String(body.length)]);
    res.end(body);
    observe(200, started);
  };

  const fail = (req: IncomingMessage, res: ServerResponse, started: number, err: unknown): void => {
    let e: ApiError;
    if (err instanceof ApiError) e = err;
    else {
      log.error({ err, url: req.url }, 'request failed');
      e = new ApiError(500, 'internal', `internal error: ${(err as Error).message}`);
    }
    const fields: Record<string, unknown> = { error: e.message, code: e.code };
    if (e instanceof PreconditionFailedError && e.currentRevision !== undefined) fields.currentRevision = e.currentRevision;
    const body = JSON.stringify(fields);
    const headers = ['content-type', JSON_UTF8, 'content-length', String(Buffer.byteLength(body))];
    if (e.retryAfter !== undefined) headers.unshift('retry-after', String(e.retryAfter));
    res.writeHead(e.status, headers);
    res.end(body);
    observe(e.status, started);
  };

  const put = (req: IncomingMessage, res: ServerResponse, started: number, key: string, value: Buffer): void => {
    let result: Promise<{ revision: number }>;
    try {
      validateKey(key, limits.maxKeyBytes);
      const cond = parseConditions(header(req, 'if-match'), header(req, 'if-none-match'));
      if (value.length > limits.maxValueBytes) throw new PayloadTooLargeError(`value is ${value.length} bytes; the limit is ${limits.maxValueBytes}`);
      result = node.put(key, value, cond);
    } catch (err) {
      fail(req, res, started, err);
      return;
    }
    result.then(
      (r) => answer(res, started, r.revision),
      (err: unknown) => fail(req, res, started, err),
    );
  };

  return (req, res) => {
    if (req.method !== 'PUT') return false;
    const url = req.url!;
    if (!url.startsWith(KV_PREFIX) || url.length - KV_PREFIX.length > limits.maxKeyBytes) return false;
    const key = url.slice(KV_PREFIX.length);
    if (!PLAIN_KEY.test(key)) return false;
    const headers = req.headers;
    const length = headers['content-length'];
    if (length === undefined || headers['transfer-encoding'] !== undefined || !DIGITS.test(length)) return false;
    const bytes = Number(length);
    if (bytes > limits.maxValueBytes) return false;
    const type = headers['content-type'];
    if (type !== undefined && !BARE_CONTENT_TYPE.test(type)) return false;
    if (closing()) return false;

    const started = performance.now();
    if (bytes === 0) {
      put(req, res, started, key, EMPTY);
      return true;
    }
    let first: Buffer | undefined;
    let more: Buffer[] | undefined;
    req.on('data', (chunk: Buffer) => {
      if (first === undefined) first = chunk;
      else (more ??= [first]).push(chunk);
    });
    req.on('end', () => put(req, res, started, key, more ? Buffer.concat(more) : (first ?? EMPTY)));
    req.on('error', ignore); // the client went away mid-body: nobody to answer
    return true;
  };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/** Puts `front` ahead of the server's request listeners (fastify's): they get what it does not take. */
export function installFront(server: Server, front: (req: IncomingMessage, res: ServerResponse) => boolean): void {
  const rest = server.listeners('request') as RequestListener[];
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (front(req, res)) return;
    for (const listener of rest) listener.call(server, req, res);
  });
}
