import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { NodeMetrics } from '../../../node/src/metrics.js';
import { recordRequestDurations } from '../../../node/src/server/request-metrics.js';

function counts(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^kuorum_http_request_duration_seconds_count\{(.*)\} (\d+)$/.exec(line);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

describe('request durations', () => {
  it('counts each request once by method, route pattern and status, unmatched ones as "unmatched"', async () => {
    const metrics = new NodeMetrics();
    const app = Fastify();
    recordRequestDurations(app, metrics.httpDuration);
    let ownHookRan = 0;
    app.get('/items/:id', { onResponse: (_req, _reply, done) => { ownHookRan++; done(); } }, async (req, reply) =>
      (req.params as { id: string }).id === 'x' ? reply.code(404).send('no') : 'yes',
    );
    app.post('/items', async () => 'made');
    await app.ready();
    for (const url of ['/items/a', '/items/b', '/items/x']) await app.inject({ method: 'GET', url });
    await app.inject({ method: 'POST', url: '/items' });
    await app.inject({ method: 'GET', url: '/nowhere' });
    await app.inject({ method: 'HEAD', url: '/items/a' });
    expect(ownHookRan).toBe(4); // a route's own onResponse hooks still run (the HEAD route shares the GET route's)
    expect(counts(await metrics.registry.metrics())).toEqual({
      'method="GET",route="/items/:id",status="200"': 2,
      'method="GET",route="/items/:id",status="404"': 1,
      'method="POST",route="/items",status="200"': 1,
      'method="GET",route="unmatched",status="404"': 1,
      'method="HEAD",route="/items/:id",status="200"': 1,
    });
    await app.close();
  });
});
