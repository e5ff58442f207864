import type { FastifyInstance, FastifyReply, FastifyRequest, onResponseHookHandler } from 'fastify';
import type { BoundHistogram, HistogramCell } from '../bound-histogram.js';

/**
 * Records every request's duration by method, route and status. Each route gets its own hook that
 * knows the route's pattern and keeps the histogram cells it has used: on every request, the
 * generic way (request.routeOptions, a labels object hashed by prom-client, an async hook) cost
 * the main thread more than the rest of a read's bookkeeping. Requests that match no route
 * are recorded as route "unmatched". Install before the routes are registered.
 */
export function recordRequestDurations(app: FastifyInstance, histogram: BoundHistogram): void {
  const observer = (route: string): ((request: FastifyRequest, reply: FastifyReply) => void) => {
    const byMethod = new Map<string, Map<number, HistogramCell>>();
    return (request, reply) => {
      const method = request.method;
      const status = reply.statusCode;
      let byStatus = byMethod.get(method);
      if (!byStatus) byMethod.set(method, (byStatus = new Map()));
      let cell = byStatus.get(status);
      if (!cell) byStatus.set(status, (cell = histogram.cell(method, route, String(status))));
      cell.observe(reply.elapsedTime / 1000);
    };
  };

  app.addHook('onRoute', (routeOptions) => {
    const record = observer(routeOptions.url);
    const hook: onResponseHookHandler = (request, reply, done) => {
      record(request, reply);
      done();
    };
    const own = routeOptions.onResponse;
    routeOptions.onResponse = own === undefined ? [hook] : [...(Array.isArray(own) ? own : [own]), hook];
  });

  const recordUnmatched = observer('unmatched');
  app.addHook('onResponse', (request, reply, done) => {
    if (request.is404) recordUnmatched(request, reply);
    done();
  });
}
