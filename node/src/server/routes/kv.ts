import type { FastifyInstance, FastifyRequest } from 'fastify';
import { NotFoundError, PayloadTooLargeError } from '../../errors.js';
import { etag, parseConditions } from '../conditions.js';
import { validateKey, validatePrefix } from '../keys.js';
import type { Limits } from '../limits.js';
import type { Consistency, NodeApi } from '../node-api.js';
import { errorResponses } from '../schemas.js';

const consistencyQuery = {
  type: 'object',
  properties: { consistency: { type: 'string', enum: ['linearizable', 'serializable'], default: 'linearizable' } },
  additionalProperties: false,
} as const;

const keyParams = {
  type: 'object',
  properties: { '*': { type: 'string', description: 'The key; may contain slashes. Percent-encode other reserved characters.' } },
  required: ['*'],
} as const;

const revisionReply = {
  type: 'object',
  properties: { revision: { type: 'integer' } },
  required: ['revision'],
} as const;

const JSON_UTF8 = 'application/json; charset=utf-8';

type KeyRequest = FastifyRequest<{ Params: { '*': string }; Querystring: { consistency?: Consistency } }>;

/** Client KV routes. Registered in their own context: PUT bodies are raw bytes whatever the content type. */
export async function kvRoutes(app: FastifyInstance, opts: { node: NodeApi; limits: Limits }): Promise<void> {
  const { node, limits } = opts;
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: limits.maxValueBytes }, (_req, body, done) => done(null, body));

  app.get(
    '/v1/kv/*',
    {
      schema: {
        summary: 'Read a key: the raw value bytes, with ETag "<modRevision>"',
        tags: ['kv'],
        params: keyParams,
        querystring: consistencyQuery,
        response: { 200: { description: 'The value bytes', type: 'string', format: 'binary' }, ...errorResponses(400, 404, 503) },
      },
    },
    async (request: KeyRequest, reply) => {
      const key = request.params['*'];
      validateKey(key, limits.maxKeyBytes);
      const rec = await node.get(key, request.query.consistency ?? 'linearizable');
      if (!rec) throw new NotFoundError(`key ${JSON.stringify(key)} not found`, 'key_not_found');
      return reply
        .header('etag', etag(rec.modRevision))
        .header('x-kuorum-create-revision', String(rec.createRevision))
        .header('x-kuorum-version', String(rec.version))
        .type('application/octet-stream')
        .send(Buffer.from(rec.value.buffer, rec.value.byteOffset, rec.value.byteLength));
    },
  );

  app.put(
    '/v1/kv/*',
    {
      bodyLimit: limits.maxValueBytes,
      schema: {
        summary: 'Write a key. Body = raw value bytes. If-Match: "<rev>" compares-and-sets; If-None-Match: * creates only',
        tags: ['kv'],
        params: keyParams,
        headers: {
          type: 'object',
          properties: { 'if-match': { type: 'string' }, 'if-none-match': { type: 'string' } },
        },
        response: { 200: revisionReply, ...errorResponses(400, 412, 413, 503) },
      },
    },
    async (request: KeyRequest, reply) => {
      const key = request.params['*'];
      validateKey(key, limits.maxKeyBytes);
      const cond = parseConditions(header(request, 'if-match'), header(request, 'if-none-match'));
      const value = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      if (value.length > limits.maxValueBytes) throw new PayloadTooLargeError(`value is ${value.length} bytes; the limit is ${limits.maxValueBytes}`);
      const { revision } = await node.put(key, value, cond);
      // Serialized here (what the 200 schema would produce): fastify sends a JSON string as it is.
      return reply.header('etag', etag(revision)).header('content-type', JSON_UTF8).send(`{"revision":${revision}}`);
    },
  );

  app.delete(
    '/v1/kv/*',
    {
      schema: {
        summary: 'Delete a key; honours If-Match',
        tags: ['kv'],
        params: keyParams,
        headers: { type: 'object', properties: { 'if-match': { type: 'string' } } },
        response: { 200: revisionReply, ...errorResponses(400, 404, 412, 503) },
      },
    },
    async (request: KeyRequest, reply) => {
      const key = request.params['*'];
      validateKey(key, limits.maxKeyBytes);
      const cond = parseConditions(header(request, 'if-match'), header(request, 'if-none-match'));
      const result = await node.delete(key, cond);
      return reply.send({ revision: result.revision });
    },
  );

  app.get(
    '/v1/kv',
    {
      schema: {
        summary: 'List keys by prefix, in key order (values base64)',
        tags: ['kv'],
        querystring: {
          type: 'object',
          properties: {
            prefix: { type: 'string', default: '' },
            limit: { type: 'integer', minimum: 1, maximum: 10000, default: 1000 },
            consistency: { type: 'string', enum: ['linearizable', 'serializable'], default: 'linearizable' },
          },
          additionalProperties: false,
        },
        response: {
          200: {
            type: 'object',
            properties: {
              revision: { type: 'integer' },
              more: { type: 'boolean' },
              items: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    key: { type: 'string' },
                    value: { type: 'string', description: 'base64' },
                    createRevision: { type: 'integer' },
                    modRevision: { type: 'integer' },
                    version: { type: 'integer' },
                  },
                },
              },
            },
          },
          ...errorResponses(400, 503),
        },
      },
    },
    async (request: FastifyRequest<{ Querystring: { prefix: string; limit: number; consistency: Consistency } }>) => {
      const { prefix, limit, consistency } = request.query;
      validatePrefix(prefix, limits.maxKeyBytes);
      const list = await node.list(prefix, limit, consistency);
      return {
        revision: list.revision,
        more: list.more,
        items: list.items.map((r) => ({
          key: r.key,
          value: Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength).toString('base64'),
          createRevision: r.createRevision,
          modRevision: r.modRevision,
          version: r.version,
        })),
      };
    },
  );
}

function header(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}
