import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import http from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NoLeaderError } from '../../../node/src/errors.js';
import { createLogger } from '../../../node/src/logger.js';
import { NodeMetrics } from '../../../node/src/metrics.js';
import { buildHttpServer } from '../../../node/src/server/app.js';
import { InMemoryNodeSimulator } from './in-memory-node.js';

/**
 * Plain PUTs are answered before fastify (server/fast-put.ts). The oracle is the fastify route
 * itself: `inject` never reaches the server's request listener, so the same requests sent over
 * HTTP to one server and injected into a twin (each with a fresh node) must get the same status,
 * headers and body. A logger whose child() counts tells which requests fastify handled (it makes
 * a child logger per request).
 */
interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

interface Case {
  name: string;
  url: string;
  body?: string;
  headers?: Record<string, string>;
  /** Whether the request should skip fastify. */
  fast: boolean;
}

const LIMITS = { maxKeyBytes: 64, maxValueBytes: 1024 };
const TRANSPORT_HEADERS = ['date', 'connection', 'keep-alive', 'transfer-encoding'];

function countingLogger(): { logger: FastifyBaseLogger; fastifyRequests: () => number } {
  let children = 0;
  const base = createLogger('silent');
  const counting = (): object => ({ ...base, child: () => (children++, counting()) });
  const logger = counting();
  return { logger: logger as unknown as FastifyBaseLogger, fastifyRequests: () => children };
}

let viaHttp: { app: FastifyInstance; node: InMemoryNodeSimulator; port: number; fastifyRequests: () => number };
let viaInject: { app: FastifyInstance; node: InMemoryNodeSimulator };

beforeEach(async () => {
  const node = new InMemoryNodeSimulator();
  const counted = countingLogger();
  const app = await buildHttpServer({ node, metrics: new NodeMetrics(), limits: LIMITS, logger: counted.logger });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as { port: number }).port;
  viaHttp = { app, node, port, fastifyRequests: counted.fastifyRequests };
  const twin = new InMemoryNodeSimulator();
  viaInject = { app: await buildHttpServer({ node: twin, metrics: new NodeMetrics(), limits: LIMITS, logger: countingLogger().logger }), node: twin };
});
afterEach(async () => {
  await viaHttp.app.close();
  await viaInject.app.close();
});

function overHttp(c: Case): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = c.body === undefined ? undefined : Buffer.from(c.body);
    const headers: Record<string, string> = { ...c.headers, 'content-length': String(payload?.length ?? 0) };
    const req = http.request({ host: '127.0.0.1', port: viaHttp.port, method: 'PUT', path: c.url, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

async function injected(c: Case): Promise<Answer> {
  const payload = c.body === undefined ? undefined : Buffer.from(c.body);
  const res = await viaInject.app.inject({ method: 'PUT', url: c.url, payload, headers: { ...c.headers, 'content-length': String(payload?.length ?? 0) } });
  return { status: res.statusCode, headers: res.headers as Answer['headers'], body: res.body };
}

function comparable(a: Answer): Answer {
  const headers = { ...a.headers };
  for (const h of TRANSPORT_HEADERS) delete headers[h];
  return { ...a, headers };
}

async function expectSameAnswer(c: Case): Promise<Answer> {
  const before = viaHttp.fastifyRequests();
  const fast = await overHttp(c);
  const oracle = await injected(c);
  expect(comparable(fast), c.name).toEqual(comparable(oracle));
  expect(viaHttp.fastifyRequests() === before, `${c.name}: skipped fastify`).toBe(c.fast);
  return fast;
}

const OCTETS = { 'content-type': 'application/octet-stream' };

describe('PUT /v1/kv/<key> answered before fastify', () => {
  it('answers plain writes exactly as the fastify route does', async () => {
    const cases: Case[] = [
      { name: 'plain', url: '/v1/kv/k1', body: 'v', headers: OCTETS, fast: true },
      { name: 'no content type', url: '/v1/kv/k2', body: 'raw', fast: true },
      { name: 'json content type, not parsed', url: '/v1/kv/k3', body: '{"a":1}', headers: { 'content-type': 'application/json' }, fast: true },
      { name: 'empty body', url: '/v1/kv/empty', fast: true },
      { name: 'slashes in the key', url: '/v1/kv/a/b/c', body: 'x', headers: OCTETS, fast: true },
      { name: 'create only, exists', url: '/v1/kv/k1', body: 'v2', headers: { ...OCTETS, 'if-none-match': '*' }, fast: true },
      { name: 'create only, new', url: '/v1/kv/k9', body: 'v', headers: { ...OCTETS, 'if-none-match': '*' }, fast: true },
      { name: 'if-match, current', url: '/v1/kv/k1', body: 'v3', headers: { ...OCTETS, 'if-match': '"1"' }, fast: true },
      { name: 'if-match, stale', url: '/v1/kv/k1', body: 'v4', headers: { ...OCTETS, 'if-match': '"1"' }, fast: true },
      { name: 'if-match malformed', url: '/v1/kv/k1', body: 'v', headers: { ...OCTETS, 'if-match': 'abc' }, fast: true },
      { name: 'both conditions', url: '/v1/kv/k1', body: 'v', headers: { ...OCTETS, 'if-match': '"1"', 'if-none-match': '*' }, fast: true },
      { name: 'content type with parameters', url: '/v1/kv/k4', body: 'v', headers: { 'content-type': 'text/plain; charset=utf-8' }, fast: false },
      { name: 'invalid content type', url: '/v1/kv/k4', body: 'v', headers: { 'content-type': 'nonsense' }, fast: false },
      { name: 'percent-encoded key', url: '/v1/kv/a%20b', body: 'v', headers: OCTETS, fast: false },
      { name: 'query string', url: '/v1/kv/q?x=1', body: 'v', headers: OCTETS, fast: false },
      { name: 'empty key', url: '/v1/kv/', body: 'v', headers: OCTETS, fast: false },
      { name: 'key over the limit', url: `/v1/kv/${'k'.repeat(65)}`, body: 'v', headers: OCTETS, fast: false },
      { name: 'value over the limit', url: '/v1/kv/big', body: 'x'.repeat(1025), headers: OCTETS, fast: false },
      { name: 'value at the limit', url: '/v1/kv/big', body: 'x'.repeat(1024), headers: OCTETS, fast: true },
    ];
    for (const c of cases) await expectSameAnswer(c);
    expect((await viaHttp.node.get('k1'))?.value).toEqual(new Uint8Array(Buffer.from('v3')));
    expect((await viaHttp.node.get('k3'))?.value).toEqual(new Uint8Array(Buffer.from('{"a":1}')));
  });

  it('answers a node error as the fastify route does (503 with Retry-After, 500 for an unexpected error)', async () => {
    for (const n of [viaHttp.node, viaInject.node]) n.put = () => Promise.reject(new NoLeaderError());
    const unavailable = await expectSameAnswer({ name: 'no leader', url: '/v1/kv/k', body: 'v', headers: OCTETS, fast: true });
    expect(unavailable.status).toBe(503);
    expect(unavailable.headers['retry-after']).toBeDefined();
    for (const n of [viaHttp.node, viaInject.node]) n.put = () => Promise.reject(new Error('disk on fire'));
    expect((await expectSameAnswer({ name: 'internal', url: '/v1/kv/k', body: 'v', headers: OCTETS, fast: true })).status).toBe(500);
  });

  it('records the request duration under the route, like the fastify hook', async () => {
    await expectSameAnswer({ name: 'plain', url: '/v1/kv/m', body: 'v', headers: OCTETS, fast: true });
    await expectSameAnswer({ name: 'malformed', url: '/v1/kv/m', body: 'v', headers: { ...OCTETS, 'if-match': 'x' }, fast: true });
    const text = await (await fetch(`http://127.0.0.1:${viaHttp.port}/metrics`)).text();
    expect(text).toContain('kuorum_http_request_duration_seconds_count{method="PUT",route="/v1/kv/*",status="200"} 1');
    expect(text).toContain('kuorum_http_request_duration_seconds_count{method="PUT",route="/v1/kv/*",status="400"} 1');
  });
});
