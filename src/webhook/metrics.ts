import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

// controller-runtime's webhook metric names (existing dashboards carry over), plus keywarden's own
// admission outcomes by operation and the serving certificate's expiry.

export type WebhookName = 'mutate' | 'validate' | 'inject';
/** allowed, patched (allowed with changes), denied, bad_request (malformed review), error (our fault). */
export type AdmissionResult = 'allowed' | 'patched' | 'denied' | 'bad_request' | 'error';

export class WebhookMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'webhook' | 'code'>;
  readonly latency: Histogram<'webhook'>;
  readonly inFlight: Gauge<'webhook'>;
  readonly admissions: Counter<'webhook' | 'operation' | 'result'>;
  readonly certificateExpiry: Gauge;
  readonly certificateRenewals: Counter;

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({
      name: 'controller_runtime_webhook_requests_total',
      help: 'Total number of admission requests by HTTP status code.',
      labelNames: ['webhook', 'code'],
      registers,
    });
    this.latency = new Histogram({
      name: 'controller_runtime_webhook_latency_seconds',
      help: 'Histogram of the latency of processing admission requests',
      labelNames: ['webhook'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.inFlight = new Gauge({
      name: 'controller_runtime_webhook_requests_in_flight',
      help: 'Current number of admission requests being served.',
      labelNames: ['webhook'],
      registers,
    });
    this.admissions = new Counter({
      name: 'keywarden_webhook_admissions_total',
      help: 'Admission requests by webhook, operation (CREATE, UPDATE, ...) and result.',
      labelNames: ['webhook', 'operation', 'result'],
      registers,
    });
    this.certificateExpiry = new Gauge({
      name: 'keywarden_webhook_certificate_expiry_timestamp_seconds',
      help: 'notAfter of the serving certificate in use, as a Unix timestamp.',
      registers,
    });
    this.certificateRenewals = new Counter({
      name: 'keywarden_webhook_certificate_reloads_total',
      help: 'Times a new serving certificate was put in use without a restart.',
      registers,
    });
  }
}
