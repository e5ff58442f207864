import swagger from '@fastify/swagger';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { NodeMetrics } from '../metrics.js';
import { installErrorHandlers } from './error-handler.js';
import { injectForwarded } from './forwarding.js';
import { fastPut, installFront } from './fast-put.js';
import { DEFAULT_LIMITS, type Limits } from './limits.js';
import { recordRequestDurations } from './request-metrics.js';
import type { NodeApi } from './node-api.js';
import { adminRoutes } from './routes/admin.js';
import { healthRoutes } from './routes/health.js';
import { kvRoutes } from './routes/kv.js';
import { watchRoutes, type WatchRegistry } from './routes/watch.js';

export interface HttpServerOptions {
  node: NodeApi;
  metrics: NodeMetrics;
  limits?: Partial<Limits>;
  logger?: FastifyBaseLogger;
}

/** Builds the node's HTTP API. The caller listens (app.listen) and closes it. */
export async function buildHttpServer(opts: HttpServerOptions): Promise<FastifyInstance> {
  const limits: Limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const { node, metrics } = opts;
  const app = Fastify({
    ...(opts.logger ? { loggerInstance: opts.logger } : { logger: false }),
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: limits.maxJsonBodyBytes,
    forceCloseConnections: true,
    // Keys may be long; the route-level check gives the clear 400.
    routerOptions: { maxParamLength: Math.max(limits.maxKeyBytes * 3 + 16, 100) },
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'kuorum node API', version: '1', description: 'A Raft-replicated key-value node. Any member accepts any request; leader-only requests are forwarded.' },
      tags: [{ name: 'kv' }, { name: 'admin' }, { name: 'health' }],
    },
  });

  installErrorHandlers(app);

  recordRequestDurations(app, metrics.httpDuration);

  const watches: WatchRegistry = new Set();
  app.addHook('onClose', async () => {
    for (const end of [...watches]) end();
  });

  await app.register(kvRoutes, { node, limits });
  await app.register(watchRoutes, { node, limits, open: watches });
  await app.register(adminRoutes, { node, limits });
  await app.register(healthRoutes, { node, metrics });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });

  await app.ready();
  node.setForwardHandler(injectForwarded(app));
  // Plain PUTs skip fastify (inject, used for forwarded requests and tests, still goes through it).
  installFront(app.server, fastPut({ node, limits, histogram: metrics.httpDuration, log: app.log, closing: () => closing }));
  return app;
}
