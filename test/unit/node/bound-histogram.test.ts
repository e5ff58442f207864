import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { BoundHistogram } from '../../../node/src/bound-histogram.js';

const buckets = [0.001, 0.01, 0.1, 1];
const observations: [string, string, number][] = [
  ['GET', '200', 0.0005],
  ['GET', '200', 0.001], // on a bound: counts in that bucket
  ['GET', '200', 0.05],
  ['GET', '404', 3], // above every bound: only +Inf
  ['PUT', '200', 0.2],
];

function both(): { ours: BoundHistogram; theirs: Histogram; ourRegistry: Registry; theirRegistry: Registry } {
  const ourRegistry = new Registry();
  const theirRegistry = new Registry();
  const ours = new BoundHistogram('x_seconds', 'help text', ['method', 'status'], buckets, ourRegistry);
  const theirs = new Histogram({ name: 'x_seconds', help: 'help text', labelNames: ['method', 'status'], buckets, registers: [theirRegistry] });
  for (const [method, status, v] of observations) {
    ours.cell(method, status).observe(v);
    theirs.observe({ method, status }, v);
  }
  return { ours, theirs, ourRegistry, theirRegistry };
}

describe('BoundHistogram', () => {
  it('exports what prom-client\'s Histogram exports for the same observations', async () => {
    const { ourRegistry, theirRegistry } = both();
    expect(await ourRegistry.metrics()).toBe(await theirRegistry.metrics());
    const withoutExemplars = (json: unknown): unknown => JSON.parse(JSON.stringify(json, (k, v: unknown) => (k === 'exemplar' ? undefined : v)));
    expect(await ourRegistry.getMetricsAsJSON()).toEqual(withoutExemplars(await theirRegistry.getMetricsAsJSON()));
  });

  it('hands out one cell per label set, and resets to nothing exported', async () => {
    const { ours, ourRegistry } = both();
    expect(ours.cell('GET', '200')).toBe(ours.cell('GET', '200'));
    expect(ours.cell('GET', '200')).not.toBe(ours.cell('GET', '404'));
    ourRegistry.resetMetrics();
    expect((await ourRegistry.metrics()).split('\n').filter((l) => l.startsWith('x_seconds'))).toEqual([]);
    ours.cell('GET', '200').observe(0.5);
    expect(await ourRegistry.metrics()).toContain('x_seconds_count{method="GET",status="200"} 1');
  });
});
