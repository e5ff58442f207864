import type { FastifyInstance, FastifyRequest } from 'fastify';
import { BadRequestError } from '../../errors.js';
import { validatePrefix } from '../keys.js';
import type { Limits } from '../limits.js';
import type { NodeApi, WatchEvent } from '../node-api.js';
import { errorResponses } from '../schemas.js';

const KEEPALIVE_MS = 15_000;

/** Open watch streams, ended when the server closes. */
export type WatchRegistry = Set<() => void>;

/**
 * GET /v1/watch: server-sent events, one per change, in revision order. Each event has
 * `id: <revision>` so a client reconnecting with Last-Event-ID resumes right after it.
 */
export async function watchRoutes(app: FastifyInstance, opts: { node: NodeApi; limits: Limits; open: WatchRegistry }): Promise<void> {
  const { node, limits, open } = opts;
  app.get(
    '/v1/watch',
    {
      schema: {
        summary: 'Watch a prefix as server-sent events (event: put|delete, id: revision, data: JSON with base64 value)',
        tags: ['kv'],
        querystring: {
          type: 'object',
          properties: {
            prefix: { type: 'string', default: '' },
            fromRevision: { type: 'integer', minimum: 0, description: 'Replay history from this revision; omitted = only new changes' },
          },
          additionalProperties: false,
        },
        response: { 200: { description: 'text/event-stream', type: 'string' }, ...errorResponses(400, 410) },
      },
    },
    async (request: FastifyRequest<{ Querystring: { prefix: string; fromRevision?: number } }>, reply) => {
      const { prefix } = request.query;
      validatePrefix(prefix, limits.maxKeyBytes);
      let from = request.query.fromRevision ?? 0;
      const lastEventId = request.headers['last-event-id'];
      if (typeof lastEventId === 'string' && lastEventId !== '') {
        if (!/^\d+$/.test(lastEventId)) throw new BadRequestError('Last-Event-ID must be a revision number');
        from = Number(lastEventId) + 1;
      }

      const pending: WatchEvent[] = [];
      let started = false;
      const raw = reply.raw;
      const write = (e: WatchEvent): void => {
        const data = {
          type: e.type,
          key: e.key,
          revision: e.revision,
          ...(e.value !== undefined ? { value: Buffer.from(e.value.buffer, e.value.byteOffset, e.value.byteLength).toString('base64') } : {}),
        };
        raw.write(`id: ${e.revision}\nevent: ${e.type}\ndata: ${JSON.stringify(data)}\n\n`);
      };
      // Subscribing first makes a compacted revision a plain 410 before any byte of the stream is sent.
      let endedEarly: Error | null = null;
      let end = (): void => {};
      const handle = node.watch(
        prefix,
        from,
        (e) => (started ? write(e) : pending.push(e)),
        (err) => {
          // The history was replaced (e.g. a snapshot was installed): tell the client, then close.
          if (!started) endedEarly = err;
          else {
            raw.write(`event: error\ndata: ${JSON.stringify({ error: err.message, code: 'watch_ended' })}\n\n`);
            end();
          }
        },
      );

      reply.hijack();
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      raw.write(': watching\n\n');
      started = true;
      for (const e of pending.splice(0)) write(e);

      const keepalive = setInterval(() => raw.write(': keepalive\n\n'), KEEPALIVE_MS);
      end = (): void => {
        if (!open.delete(end)) return;
        clearInterval(keepalive);
        handle.cancel();
        raw.end();
      };
      open.add(end);
      if (endedEarly) {
        raw.write(`event: error\ndata: ${JSON.stringify({ error: (endedEarly as Error).message, code: 'watch_ended' })}\n\n`);
        end();
        return;
      }
      request.raw.on('close', end);
      raw.on('close', end);
      raw.on('error', end);
    },
  );
}
