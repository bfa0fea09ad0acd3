import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { BoundHistogram } from '../../../src/observability/bound-histogram.ts';

const BUCKETS = [0.000_01, 0.000_025, 0.001, 0.05];
// On a bound, between bounds, above the last, zero, tiny and repeated: every bucket and +Inf.
const VALUES = [0, 0.000_01, 0.000_011, 0.000_025, 0.0009, 0.001, 0.049_999, 0.05, 0.050_001, 7, 1e-9, 0.3];

/** The same observations into a prom-client Histogram and a BoundHistogram, each on its own registry. */
function both() {
  const ref = new Registry();
  const ours = new Registry();
  const opts = { name: 't_decision_seconds', help: 'Time to decide.', labelNames: ['door'] as const };
  const h = new Histogram({ ...opts, labelNames: [...opts.labelNames], buckets: BUCKETS, registers: [ref] });
  const b = new BoundHistogram(ours, { ...opts, buckets: BUCKETS });
  const observe = (door: string, v: number) => {
    h.observe({ door }, v);
    b.bind({ door }).observe(v);
  };
  return { ref, ours, b, observe };
}

describe('BoundHistogram', () => {
  it('renders the text page and JSON byte for byte as prom-client does for the same observations', async () => {
    const { ref, ours, observe } = both();
    expect(await ours.metrics()).toBe(await ref.metrics());
    VALUES.forEach((v, i) => {
      observe('authz', v);
      if (i % 3 === 0) observe('proxy', v / 3);
    });
    observe('verify', 0.000_02);
    const text = await ours.metrics();
    expect(text).toBe(await ref.metrics());
    expect(text).toContain('t_decision_seconds_bucket{le="+Inf",door="authz"} 12');
    expect(await ours.getMetricsAsJSON()).toEqual(await ref.getMetricsAsJSON());
  });

  it('binds one series per label set; reset() zeroes every series, which stays bound (prom-client drops them)', async () => {
    const { ref, ours, b, observe } = both();
    expect(b.bind({ door: 'authz' })).toBe(b.bind({ door: 'authz' }));
    expect(b.bind({ door: 'authz' })).not.toBe(b.bind({ door: 'proxy' }));
    observe('authz', 0.001);
    ours.resetMetrics();
    const text = await ours.metrics();
    expect(text).toContain('t_decision_seconds_count{door="authz"} 0');
    expect(text).not.toMatch(/} [1-9]/);
    ref.resetMetrics();
    observe('authz', 0.002);
    expect((await ours.metrics()).replace(/.*door="proxy".*\n/g, '')).toBe(await ref.metrics());
  });

  it('refuses a misnamed metric and a value that is not a number, as prom-client does', () => {
    expect(
      () =>
        new BoundHistogram(new Registry(), {
          name: 't_seconds_total',
          help: 'x',
          labelNames: [],
          buckets: [1],
        }),
    ).toThrow(/naming rules/);
    const b = new BoundHistogram(new Registry(), {
      name: 't_seconds',
      help: 'x',
      labelNames: [],
      buckets: [1],
    });
    expect(() => b.bind({}).observe(Number.NaN)).toThrow(TypeError);
  });
});
