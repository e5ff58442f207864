import type { FastifyInstance } from 'fastify';
import type { NodeMetrics } from '../../metrics.js';
import type { NodeApi } from '../node-api.js';

/** /livez, /readyz and /metrics: never forwarded, never dependent on quorum except /readyz by design. */
export async function healthRoutes(app: FastifyInstance, opts: { node: NodeApi; metrics: NodeMetrics }): Promise<void> {
  const { node, metrics } = opts;
  app.get('/livez', { schema: { summary: 'The process is alive (never depends on quorum)', tags: ['health'] } }, async () => ({ status: 'ok' }));

  app.get(
    '/readyz',
    { schema: { summary: '200 only when this node is a member with recent leader contact (the leader: a quorum of followers)', tags: ['health'] } },
    async (_request, reply) => {
      const r = node.readiness();
      if (r.ready) return { status: 'ready' };
      return reply.code(503).header('retry-after', '1').send({ error: r.reason, code: 'not_ready' });
    },
  );

  app.get('/metrics', { schema: { summary: 'Prometheus metrics, names prefixed kuorum_', tags: ['health'] } }, async (_request, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });
}
