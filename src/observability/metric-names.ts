// Prometheus naming conventions (https://prometheus.io/docs/practices/naming/), as one rule: base units
// only, the unit is the last word (before `_total` on a counter), counters and only counters end in
// `_total`, points in time are `_timestamp_seconds`, info metrics are gauges ending in `_info`.
// Hand-written: prom-client and promtool check the syntax and `_total` only.

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary';

/** Base units a name may end in. */
const BASE_UNITS = new Set([
  'seconds',
  'bytes',
  'ratio',
  'meters',
  'volts',
  'amperes',
  'joules',
  'grams',
  'celsius',
]);
/** Units Prometheus says to convert to a base unit. */
const NON_BASE_UNITS = new Set([
  'milliseconds',
  'microseconds',
  'nanoseconds',
  'ms',
  'millis',
  'minutes',
  'hours',
  'days',
  'kilobytes',
  'megabytes',
  'gigabytes',
  'kb',
  'mb',
  'gb',
  'percent',
]);

/** What is wrong with a metric family's name, or [] when nothing is. */
export function metricNameProblems(name: string, type: MetricType): string[] {
  const problems: string[] = [];
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) return [`${name}: use lower-case letters, digits and _`];
  const words = name.split('_');
  const counter = type === 'counter';
  if (counter && words.at(-1) !== 'total') problems.push(`${name}: a counter's name ends in _total`);
  if (!counter && words.at(-1) === 'total')
    problems.push(`${name}: only counters end in _total (this is a ${type})`);
  const base = counter && words.at(-1) === 'total' ? words.slice(0, -1) : words;
  for (const [i, w] of base.entries()) {
    if (NON_BASE_UNITS.has(w))
      problems.push(`${name}: ${w} is not a base unit (use seconds, bytes or ratio)`);
    if (BASE_UNITS.has(w) && i !== base.length - 1)
      problems.push(
        `${name}: the unit ${w} goes last (e.g. _last_update_timestamp_seconds, not _seconds_since_update)`,
      );
  }
  const timestamp = base.indexOf('timestamp');
  if (timestamp >= 0 && (timestamp !== base.length - 2 || base.at(-1) !== 'seconds' || counter))
    problems.push(`${name}: a point in time is a gauge ending in _timestamp_seconds`);
  if (base.includes('info') && (base.at(-1) !== 'info' || type !== 'gauge'))
    problems.push(`${name}: an info metric is a gauge ending in _info`);
  return problems;
}
