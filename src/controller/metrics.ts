import type { Counter, Histogram, Registry } from 'prom-client';
import type { ApiKey } from '../api/index.ts';
import type { WorkQueue } from '../kube/workqueue.ts';
import { createMetrics } from '../observability/metrics.ts';

// Names follow controller-runtime's, so existing dashboards and alerts carry over.
const CONTROLLER = 'apikey';

export class ControllerMetrics {
  readonly registry: Registry;
  readonly reconcileTotal: Counter<'controller' | 'result'>;
  readonly reconcileErrors: Counter<'controller'>;
  readonly reconcileTime: Histogram<'controller'>;
  readonly queueLatency: Histogram<'name'>;
  readonly workDuration: Histogram<'name'>;

  constructor(queue: WorkQueue, listKeys: () => ApiKey[]) {
    const m = createMetrics();
    this.registry = m.registry;
    this.reconcileTotal = m.counter(
      'controller_runtime_reconcile_total',
      'Total number of reconciliations per controller',
      ['controller', 'result'],
    );
    this.reconcileErrors = m.counter(
      'controller_runtime_reconcile_errors_total',
      'Total number of reconciliation errors per controller',
      ['controller'],
    );
    this.reconcileTime = m.histogram(
      'controller_runtime_reconcile_time_seconds',
      'Length of time per reconciliation per controller',
      ['controller'],
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    );
    const queueGauge = (name: string, help: string, read: () => number) =>
      m.gauge(name, help, ['name'], function () {
        this.set({ name: CONTROLLER }, read());
      });
    // Counters, as in controller-runtime, copied from the queue's totals at scrape time.
    const queueCounter = (name: string, help: string, read: () => number) =>
      m.counter(name, help, ['name'], function () {
        this.reset();
        this.inc({ name: CONTROLLER }, read());
      });
    queueGauge('workqueue_depth', 'Current depth of workqueue', () => queue.depth);
    queueCounter('workqueue_adds_total', 'Total number of adds handled by workqueue', () => queue.adds);
    queueCounter(
      'workqueue_retries_total',
      'Total number of retries handled by workqueue',
      () => queue.retries,
    );
    const queueBuckets = [0.001, 0.01, 0.1, 0.5, 1, 5, 10, 60];
    this.queueLatency = m.histogram(
      'workqueue_queue_duration_seconds',
      'How long in seconds an item stays in workqueue before being requested',
      ['name'],
      queueBuckets,
    );
    this.workDuration = m.histogram(
      'workqueue_work_duration_seconds',
      'How long in seconds processing an item from workqueue takes',
      ['name'],
      queueBuckets,
    );
    // Computed from the cache at scrape time: a deleted key leaves no stale series.
    m.gauge('keywarden_apikeys', 'ApiKeys by state', ['state'], function () {
      this.reset();
      const counts = new Map<string, number>();
      for (const state of ['Pending', 'Active', 'Inactive', 'Expired', 'Failed']) counts.set(state, 0);
      for (const k of listKeys()) {
        const state = k.status?.state ?? 'Pending';
        counts.set(state, (counts.get(state) ?? 0) + 1);
      }
      for (const [state, n] of counts) this.set({ state }, n);
    });
    m.gauge(
      'keywarden_apikey_expiry_timestamp_seconds',
      'When each ApiKey expires (Unix seconds)',
      ['namespace', 'name', 'key_id'],
      function () {
        this.reset();
        for (const k of listKeys() as (ApiKey & { metadata: { name: string; namespace: string } })[]) {
          const at = k.status?.expiresAt ?? k.spec.expiresAt;
          if (!at) continue;
          this.set(
            { namespace: k.metadata.namespace, name: k.metadata.name, key_id: k.status?.keyId ?? '' },
            Date.parse(at) / 1000,
          );
        }
      },
    );
  }

  /** A key waited this long in the work queue before a worker took it. */
  waited(seconds: number): void {
    this.queueLatency.observe({ name: CONTROLLER }, seconds);
  }

  observe(result: 'success' | 'error' | 'requeue_after', seconds: number): void {
    this.reconcileTotal.inc({ controller: CONTROLLER, result });
    if (result === 'error') this.reconcileErrors.inc({ controller: CONTROLLER });
    this.reconcileTime.observe({ controller: CONTROLLER }, seconds);
    this.workDuration.observe({ name: CONTROLLER }, seconds);
  }
}
