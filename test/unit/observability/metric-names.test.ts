import { describe, expect, it } from 'vitest';
import { metricNameProblems } from '../../../src/observability/metric-names.ts';
import { createMetrics } from '../../../src/observability/metrics.ts';

describe('the metric naming rule', () => {
  it.each([
    ['keywarden_validator_decisions_total', 'counter'],
    ['keywarden_validator_decision_duration_seconds', 'histogram'],
    ['keywarden_validator_key_store_last_update_timestamp_seconds', 'gauge'],
    ['keywarden_apikey_expiry_timestamp_seconds', 'gauge'],
    ['keywarden_audit_written_bytes_total', 'counter'],
    ['process_cpu_user_seconds_total', 'counter'],
    ['nodejs_heap_size_total_bytes', 'gauge'],
    ['nodejs_version_info', 'gauge'],
    ['workqueue_depth', 'gauge'],
  ] as const)('accepts %s (%s)', (name, type) => {
    expect(metricNameProblems(name, type)).toEqual([]);
  });

  it.each([
    ['keywarden_validator_key_store_seconds_since_update', 'gauge', 'the unit seconds goes last'],
    ['keywarden_requests', 'counter', "a counter's name ends in _total"],
    ['keywarden_active_total', 'gauge', 'only counters end in _total'],
    ['keywarden_request_duration_milliseconds', 'histogram', 'milliseconds is not a base unit'],
    ['keywarden_request_ms', 'histogram', 'ms is not a base unit'],
    ['keywarden_cert_expiry_timestamp', 'gauge', 'a point in time is a gauge ending in _timestamp_seconds'],
    ['keywarden_expiry_timestamp_seconds_total', 'counter', '_timestamp_seconds'],
    ['keywarden_build_info_total', 'counter', 'an info metric is a gauge ending in _info'],
    ['keywarden_bytes_written', 'gauge', 'the unit bytes goes last'],
    ['Keywarden-Requests', 'counter', 'lower-case'],
  ] as const)('refuses %s (%s)', (name, type, why) => {
    expect(metricNameProblems(name, type).join('; ')).toContain(why);
  });

  it('the metrics factory refuses a misnamed metric where it is declared', () => {
    const m = createMetrics({ defaultMetrics: false });
    expect(() => m.gauge('keywarden_validator_key_store_seconds_since_update', 'Age.')).toThrow(
      /breaks the naming rules: .*the unit seconds goes last/,
    );
    expect(() => m.counter('keywarden_things', 'Things.')).toThrow(/ends in _total/);
    expect(m.registry.getMetricsAsArray()).toEqual([]);
  });
});
