import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditSink, type ParquetAuditSink, registerAuditMetrics } from '../../src/audit/index.ts';
import { ControllerMetrics } from '../../src/controller/metrics.ts';
import { WorkQueue } from '../../src/kube/workqueue.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { type MetricType, metricNameProblems } from '../../src/observability/metric-names.ts';
import { KeyStore } from '../../src/validator/key-store.ts';
import { ValidatorMetrics } from '../../src/validator/metrics.ts';
import { WebhookMetrics } from '../../src/webhook/metrics.ts';
import { promtoolCheckMetrics } from '../support/metrics/promtool.ts';
import { decisionEvent, makeKey } from '../support/validator/keys.ts';

// Every component's /metrics page, from the very registries the servers build (with the audit trail's
// metrics where the part writes one, and a value in every labelled family), through Prometheus' own
// linter, and every family through the naming rule (unit last, _total, _timestamp_seconds, _info).

let dir: string;
let sink: ParquetAuditSink;
const pages: Record<string, Registry> = {};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kw-metrics-'));
  sink = await createAuditSink(
    { directory: dir, source: 'test/metrics', fsync: false },
    createLogger('t', 'silent'),
  );

  const queue = new WorkQueue();
  queue.add('team/key');
  const controller = new ControllerMetrics(queue, () => []);
  controller.observe('success', 0.01);
  controller.observe('error', 0.02);
  registerAuditMetrics(controller.registry, sink);
  pages.controller = controller.registry;

  const webhook = new WebhookMetrics();
  webhook.requests.inc({ webhook: 'mutate', code: '200' });
  webhook.latency.observe({ webhook: 'mutate' }, 0.003);
  webhook.inFlight.set({ webhook: 'mutate' }, 0);
  webhook.admissions.inc({ webhook: 'validate', operation: 'CREATE', result: 'denied' });
  webhook.certificateExpiry.set(Date.now() / 1000 + 86_400);
  pages.webhook = webhook.registry;

  const store = new KeyStore();
  store.upsert(makeKey().secret);
  const validator = new ValidatorMetrics(store, { perKey: { enabled: true, maxKeys: 10 } });
  validator.decision(decisionEvent('proxy', 'ok', 'production', 'AAAAAAAAAAAA'));
  validator.decision(decisionEvent('authz', 'key_unknown', undefined));
  validator.upstreamSeconds.observe({ code_class: '2xx' }, 0.01);
  validator.lastUsedWrites.inc({ outcome: 'written' });
  registerAuditMetrics(validator.registry, sink);
  pages.validator = validator.registry;
});

afterAll(async () => {
  await sink?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.each(['controller', 'webhook', 'validator'])('the %s /metrics page', (part) => {
  it('passes promtool check metrics', async () => {
    const page = await (pages[part] as Registry).metrics();
    expect(page).toContain('# TYPE');
    expect(await promtoolCheckMetrics(page)).toEqual({ code: 0, text: '' });
  });

  it('names every family by the rules: unit last, _total on counters, _timestamp_seconds, _info', async () => {
    const families = (await (pages[part] as Registry).getMetricsAsJSON()).map((m) => ({
      name: m.name,
      type: String(m.type) as MetricType,
    }));
    expect(families.length).toBeGreaterThan(15);
    expect(families.flatMap((f) => metricNameProblems(f.name, f.type))).toEqual([]);
  });
});
