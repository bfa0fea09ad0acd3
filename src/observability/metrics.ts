import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { type MetricType, metricNameProblems } from './metric-names.ts';

// The one way our components declare Prometheus metrics: a registry of their own (with prom-client's
// process and Node.js metrics unless told otherwise) and helpers that register each metric on it.

/** prom-client names these gauges *_total, which `promtool check metrics` rightly refuses. */
const MISNAMED_DEFAULT_GAUGES = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/** Called at scrape time with the metric as `this`, to set its values from the current state. */
type Collect<M> = (this: M) => void;

export interface Metrics {
  readonly registry: Registry;
  counter<L extends string = string>(
    name: string,
    help: string,
    labelNames?: readonly L[],
    collect?: Collect<Counter<L>>,
  ): Counter<L>;
  gauge<L extends string = string>(
    name: string,
    help: string,
    labelNames?: readonly L[],
    collect?: Collect<Gauge<L>>,
  ): Gauge<L>;
  histogram<L extends string = string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    buckets: number[],
  ): Histogram<L>;
}

/** A misnamed metric is a programming error: refused where it is declared, so no test run can miss it. */
function named(name: string, type: MetricType): string {
  const problems = metricNameProblems(name, type);
  if (problems.length > 0) throw new Error(`metric name breaks the naming rules: ${problems.join('; ')}`);
  return name;
}

/** Helpers that declare metrics on `registry`. */
export function metricsOn(registry: Registry): Metrics {
  const registers = [registry];
  return {
    registry,
    counter: (name, help, labelNames = [], collect) =>
      new Counter({ name: named(name, 'counter'), help, labelNames, registers, collect }),
    gauge: (name, help, labelNames = [], collect) =>
      new Gauge({ name: named(name, 'gauge'), help, labelNames, registers, collect }),
    histogram: (name, help, labelNames, buckets) =>
      new Histogram({ name: named(name, 'histogram'), help, labelNames, buckets, registers }),
  };
}

/** A new registry, with its helpers. */
export function createMetrics(
  opts: {
    /** prom-client's process and Node.js metrics (default true), less the misnamed gauges. */
    defaultMetrics?: boolean;
  } = {},
): Metrics {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) {
    collectDefaultMetrics({ register: registry });
    // Every component's page passes `promtool check metrics` (the unprefixed gauges carry the same values).
    for (const name of MISNAMED_DEFAULT_GAUGES) registry.removeSingleMetric(name);
  }
  return metricsOn(registry);
}
