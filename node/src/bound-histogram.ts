import type { Metric, Registry } from 'prom-client';

interface ExportedValue {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
  /** The cell's labels, printed after `labels` (prom-client's text format reads these). */
  sharedLabels?: Readonly<Record<string, string>>;
}

/** What a prom-client Registry reads from a metric on a scrape. */
interface ExportedMetric {
  name: string;
  help: string;
  type: 'histogram';
  aggregator: 'sum';
  values: ExportedValue[];
}

/** One label set's buckets: observe() is a bucket search and a few additions. */
export class HistogramCell {
  /** counts[i]: observations in (bounds[i-1], bounds[i]]; the last slot is above every bound. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Readonly<Record<string, string>>,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]!) i++;
    this.counts[i]! += 1;
    this.sum += value;
    this.count += 1;
  }
}

/**
 * A Prometheus histogram for hot paths, exported like prom-client's Histogram: callers look a
 * label set's cell up once and keep it. prom-client's labelled observe() validates and hashes
 * the labels on every call, which cost the HTTP path more than the rest of its bookkeeping.
 */
export class BoundHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly cells = new Map<string, HistogramCell>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    private readonly bounds: readonly number[],
    registry: Registry,
  ) {
    registry.registerMetric(this as unknown as Metric);
  }

  /** The cell of one label set (values in labelNames order), made on first use. */
  cell(...values: string[]): HistogramCell {
    const key = JSON.stringify(values);
    let cell = this.cells.get(key);
    if (!cell) {
      const labels: Record<string, string> = {};
      this.labelNames.forEach((name, i) => (labels[name] = values[i] ?? ''));
      this.cells.set(key, (cell = new HistogramCell(labels, this.bounds)));
    }
    return cell;
  }

  reset(): void {
    for (const cell of this.cells.values()) {
      cell.counts.fill(0);
      cell.sum = 0;
      cell.count = 0;
    }
  }

  /** The registry's text format: bucket lines carry `le` first, then the cell's labels (as prom-client's). */
  getForPromString(): ExportedMetric {
    const values: ExportedValue[] = [];
    for (const cell of this.cells.values()) {
      // A labelled cell appears once observed; the one cell of an unlabelled histogram always (as prom-client's).
      if (cell.count === 0 && this.labelNames.length > 0) continue;
      const shared = cell.labels;
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += cell.counts[i]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { le }, value: cumulative, sharedLabels: shared });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf' }, value: cell.count, sharedLabels: shared });
      values.push({ metricName: `${this.name}_sum`, labels: {}, value: cell.sum, sharedLabels: shared });
      values.push({ metricName: `${this.name}_count`, labels: {}, value: cell.count, sharedLabels: shared });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** JSON form (registry.getMetricsAsJSON): every value's labels in one object. */
  get(): ExportedMetric {
    const data = this.getForPromString();
    const values = data.values.map(({ sharedLabels, ...v }): ExportedValue => ({ ...v, labels: { ...v.labels, ...sharedLabels } }));
    return { ...data, values };
  }
}
