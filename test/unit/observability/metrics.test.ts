import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createMetrics, metricsOn } from '../../../src/observability/metrics.ts';

describe('metrics factory', () => {
  it("adds prom-client's default metrics unless told not to, without the names promtool refuses", () => {
    const names = (r: Registry) => r.getMetricsAsArray().map((m) => m.name);
    const clean = names(createMetrics().registry);
    expect(clean).toContain('process_cpu_seconds_total');
    expect(clean).toContain('nodejs_active_handles');
    expect(clean.filter((n) => /^nodejs_active_\w+_total$/.test(n))).toEqual([]);
    expect(names(createMetrics({ defaultMetrics: false }).registry)).toEqual([]);
  });

  it('registers counters, gauges and histograms on the registry, with scrape-time collect', async () => {
    const registry = new Registry();
    const m = metricsOn(registry);
    m.counter('t_requests_total', 'Requests.', ['code']).inc({ code: '200' });
    let depth = 3;
    m.gauge('t_depth', 'Depth.', [], function () {
      this.set(depth);
    });
    m.histogram('t_seconds', 'Time.', ['door'], [0.1, 1]).observe({ door: 'a' }, 0.5);
    depth = 4;
    const text = await registry.metrics();
    expect(text).toContain('# HELP t_requests_total Requests.\n# TYPE t_requests_total counter');
    expect(text).toContain('t_requests_total{code="200"} 1');
    expect(text).toContain('t_depth 4');
    expect(text).toContain('t_seconds_bucket{le="0.1",door="a"} 0');
    expect(text).toContain('t_seconds_bucket{le="1",door="a"} 1');
  });
});
