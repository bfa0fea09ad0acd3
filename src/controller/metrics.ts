import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { ApiKey } from '../api/index.ts';
import type { WorkQueue } from '../kube/workqueue.ts';

// Names follow controller-runtime's, so existing dashboards and alerts carry over.
const CONTROLLER = 'apikey';

export class ControllerMetrics {
  readonly registry = new Registry();
  readonly reconcileTotal: Counter<'controller' | 'result'>;
  readonly reconcileErrors: Counter<'controller'>;
  readonly reconcileTime: Histogram<'controller'>;
  readonly queueLatency: Histogram<'name'>;
  readonly workDuration: Histogram<'name'>;

  constructor(queue: WorkQueue, listKeys: () => ApiKey[]) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.reconcileTotal = new Counter({
      name: 'controller_runtime_reconcile_total',
      help: 'Total number of reconciliations per controller',
      labelNames: ['controller', 'result'],
      registers,
    });
    this.reconcileErrors = new Counter({
      name: 'controller_runtime_reconcile_errors_total',
      help: 'Total number of reconciliation errors per controller',
      labelNames: ['controller'],
      registers,
    });
    this.reconcileTime = new Histogram({
      name: 'controller_runtime_reconcile_time_seconds',
      help: 'Length of time per reconciliation per controller',
      labelNames: ['controller'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    new Gauge({
      name: 'workqueue_depth',
      help: 'Current depth of workqueue',
      labelNames: ['name'],
      registers,
      collect() {
        this.set({ name: CONTROLLER }, queue.depth);
      },
    });
    new Gauge({
      name: 'workqueue_adds_total',
      help: 'Total number of adds handled by workqueue',
      labelNames: ['name'],
      registers,
      collect() {
        this.set({ name: CONTROLLER }, queue.adds);
      },
    });
    new Gauge({
      name: 'workqueue_retries_total',
      help: 'Total number of retries handled by workqueue',
      labelNames: ['name'],
      registers,
      collect() {
        this.set({ name: CONTROLLER }, queue.retries);
      },
    });
    this.queueLatency = new Histogram({
      name: 'workqueue_queue_duration_seconds',
      help: 'How long in seconds an item stays in workqueue before being requested',
      labelNames: ['name'],
      buckets: [0.001, 0.01, 0.1, 0.5, 1, 5, 10, 60],
      registers,
    });
    this.workDuration = new Histogram({
      name: 'workqueue_work_duration_seconds',
      help: 'How long in seconds processing an item from workqueue takes',
      labelNames: ['name'],
      buckets: [0.001, 0.01, 0.1, 0.5, 1, 5, 10, 60],
      registers,
    });
    queue.onQueueLatency = (s) => this.queueLatency.observe({ name: CONTROLLER }, s);
    // Computed from the cache at scrape time: a deleted key leaves no stale series.
    new Gauge({
      name: 'keywarden_apikeys',
      help: 'ApiKeys by state',
      labelNames: ['state'],
      registers,
      collect() {
        this.reset();
        const counts = new Map<string, number>();
        for (const state of ['Pending', 'Active', 'Inactive', 'Expired', 'Failed']) counts.set(state, 0);
        for (const k of listKeys()) {
          const state = k.status?.state ?? 'Pending';
          counts.set(state, (counts.get(state) ?? 0) + 1);
        }
        for (const [state, n] of counts) this.set({ state }, n);
      },
    });
    new Gauge({
      name: 'keywarden_apikey_expiry_timestamp_seconds',
      help: 'When each ApiKey expires (Unix seconds)',
      labelNames: ['namespace', 'name', 'key_id'],
      registers,
      collect() {
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
    });
  }

  observe(result: 'success' | 'error' | 'requeue_after', seconds: number): void {
    this.reconcileTotal.inc({ controller: CONTROLLER, result });
    if (result === 'error') this.reconcileErrors.inc({ controller: CONTROLLER });
    this.reconcileTime.observe({ controller: CONTROLLER }, seconds);
    this.workDuration.observe({ name: CONTROLLER }, seconds);
  }
}
