import type { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { createMetrics } from '../observability/metrics.ts';

// controller-runtime's webhook metric names (existing dashboards carry over), plus keywarden's own
// admission outcomes by operation and the serving certificate's expiry.

export type WebhookName = 'mutate' | 'validate' | 'inject';

export class WebhookMetrics {
  readonly registry: Registry;
  readonly requests: Counter<'webhook' | 'code'>;
  readonly latency: Histogram<'webhook'>;
  readonly inFlight: Gauge<'webhook'>;
  readonly admissions: Counter<'webhook' | 'operation' | 'result'>;
  readonly certificateExpiry: Gauge;
  readonly certificateRenewals: Counter;

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    const m = createMetrics(opts);
    this.registry = m.registry;
    this.requests = m.counter(
      'controller_runtime_webhook_requests_total',
      'Total number of admission requests by HTTP status code.',
      ['webhook', 'code'],
    );
    this.latency = m.histogram(
      'controller_runtime_webhook_latency_seconds',
      'Histogram of the latency of processing admission requests',
      ['webhook'],
      [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    );
    this.inFlight = m.gauge(
      'controller_runtime_webhook_requests_in_flight',
      'Current number of admission requests being served.',
      ['webhook'],
    );
    this.admissions = m.counter(
      'keywarden_webhook_admissions_total',
      'Admission requests by webhook, operation (CREATE, UPDATE, ...) and result.',
      ['webhook', 'operation', 'result'],
    );
    this.certificateExpiry = m.gauge(
      'keywarden_webhook_certificate_expiry_timestamp_seconds',
      'notAfter of the serving certificate in use, as a Unix timestamp.',
    );
    this.certificateRenewals = m.counter(
      'keywarden_webhook_certificate_reloads_total',
      'Times a new serving certificate was put in use without a restart.',
    );
  }
}
