import type { Registry } from 'prom-client';
import { metricNameProblems } from './metric-names.ts';

// A histogram whose label sets are bound once, for the hot path: prom-client's observe() validates and
// hashes the label object on every call (children from labels() too), which was most of a decision's
// metrics cost. A bound series is a few numbers that observe() only adds to; the registry reads them at
// scrape time in prom-client's own histogram shape, so it renders them byte for byte as a prom-client
// Histogram fed the same values would (bound-histogram.test.ts compares the two).

/** One label set's numbers: counts per bucket (not cumulative; the last is +Inf), sum and count. */
export class HistogramSeries {
  readonly labels: Readonly<Record<string, string>>;
  readonly #bounds: readonly number[];
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(labels: Readonly<Record<string, string>>, bounds: readonly number[]) {
    this.labels = labels;
    this.#bounds = bounds;
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }

  observe(value: number): void {
    // prom-client refuses a value that is not finite; a duration always is, so this is a guard only.
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    this.counts[i] = (this.counts[i] as number) + 1;
    this.sum += value;
    this.count += 1;
  }
}

interface ValuePair {
  labels: Record<string, string | number>;
  sharedLabels: Readonly<Record<string, string>>;
  value: number;
  metricName: string;
  exemplar?: null;
}

interface Family {
  name: string;
  help: string;
  type: string;
  values: ValuePair[];
  aggregator: string;
}

export class BoundHistogram<L extends string = string> {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #labelNames: readonly L[];
  readonly #bounds: readonly number[];
  /** Series by their label values joined with "\n" (label values never hold one: they are our own). */
  readonly #series = new Map<string, HistogramSeries>();

  constructor(
    registry: Registry,
    opts: { name: string; help: string; labelNames: readonly L[]; buckets: readonly number[] },
  ) {
    const problems = metricNameProblems(opts.name, 'histogram');
    if (problems.length > 0) throw new Error(`metric name breaks the naming rules: ${problems.join('; ')}`);
    this.name = opts.name;
    this.help = opts.help;
    this.#labelNames = opts.labelNames;
    this.#bounds = [...opts.buckets].sort((a, b) => a - b);
    // The registry reads any object with name, get() and reset(): its type asks for prom-client's class.
    registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  /** The series for these label values, made on first use; keep it and call observe() on it. */
  bind(labels: Readonly<Record<L, string>>): HistogramSeries {
    const id = this.#labelNames.map((n) => labels[n]).join('\n');
    let s = this.#series.get(id);
    if (!s) {
      const own: Record<string, string> = {};
      for (const n of this.#labelNames) own[n] = labels[n];
      s = new HistogramSeries(own, this.#bounds);
      this.#series.set(id, s);
    }
    return s;
  }

  /**
   * Zeroes every series but keeps it: callers hold their bound series, so one dropped here would stop
   * being exported. prom-client drops a reset histogram's label sets instead; only tests reset.
   */
  reset(): void {
    for (const s of this.#series.values()) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }

  /** As prom-client's get(): each value's series labels merged into its own (getMetricsAsJSON). */
  async get(): Promise<Omit<Family, 'values'> & { values: Omit<ValuePair, 'sharedLabels'>[] }> {
    const f = await this.getForPromString();
    const values = f.values.map(({ sharedLabels, labels, ...rest }) => ({
      ...rest,
      labels: { ...labels, ...sharedLabels },
    }));
    return { ...f, values };
  }

  /** prom-client's histogram shape for the text page: per series the cumulative buckets, +Inf, _sum, _count. */
  async getForPromString(): Promise<Family> {
    const bucket = `${this.name}_bucket`;
    const values: ValuePair[] = [];
    for (const s of this.#series.values()) {
      let acc = 0;
      this.#bounds.forEach((le, i) => {
        acc += s.counts[i] as number;
        values.push({
          labels: { le },
          sharedLabels: s.labels,
          value: acc,
          metricName: bucket,
          exemplar: null,
        });
      });
      values.push(
        {
          labels: { le: '+Inf' },
          sharedLabels: s.labels,
          value: s.count,
          metricName: bucket,
          exemplar: null,
        },
        { labels: {}, sharedLabels: s.labels, value: s.sum, metricName: `${this.name}_sum` },
        { labels: {}, sharedLabels: s.labels, value: s.count, metricName: `${this.name}_count` },
      );
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}
