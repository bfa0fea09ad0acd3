// Admission webhook cost. (1) Latency measured at the server (body read to response written), p50 and
// p99, against a bare express HTTPS handler that parses the same body and answers "allowed".
// (2) `kubectl apply` of N ApiKeys into a namespace the webhook covers against one it does not, on the
// same local control plane in the same run. The manifests set expiresAt and normal permissions, so our
// mutating webhook's matchConditions skip it and only the validating webhook is called; a second figure
// applies keys that rely on the defaults (no expiresAt), for which the API server calls both. As the
// floor any webhook pair costs, the same apply through a bare pair (answers allowed, no patch, no rules,
// no matchConditions: both called for every object) against none, and the floor of the one call our
// complete keys cost: the bare validating webhook alone. Rounds alternate order; medians.
// BENCH_WEBHOOK_APIKEYS (default 500, the figure issue 4 asks for), BENCH_WEBHOOK_ROUNDS (default 6)
// and BENCH_WEBHOOK_REQUESTS (default 2000) set the sizes. With three rounds the same code measured
// 1.09-1.63× and a bare webhook 0.85× (faster than none): applies differed by more than a call costs.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import express from 'express';
import { Agent, fetch } from 'undici';
import { stringify } from 'yaml';
import { loadKubeConfig } from '../src/kube/config.ts';
import { KubeRest } from '../src/kube/rest.ts';
import { LocalControlPlane } from '../src/localcluster/cluster.ts';
import { createLogger } from '../src/observability/logger.ts';
import { createCa, issueCert } from '../src/pki/index.ts';
import { formatRfc3339 } from '../src/rules/index.ts';
import { buildWebhookConfigurations, MUTATE_PATH, VALIDATE_PATH } from '../src/webhook/configurations.ts';
import { AdmissionWebhook } from '../src/webhook/webhook.ts';
import { type Bench, type BenchFigure, figure, median } from './lib.ts';
import { startOurWebhook } from './webhook-server.ts';

const APIKEYS = Number(process.env.BENCH_WEBHOOK_APIKEYS ?? 500);
const REQUESTS = Number(process.env.BENCH_WEBHOOK_REQUESTS ?? 2000);
// One round per kind of apply (six): each takes every place in the order once, so a drift within a
// round (the API server and etcd grow by 3,000 objects per round) weighs on all alike.
const ROUNDS = Number(process.env.BENCH_WEBHOOK_ROUNDS ?? 6);
const CONCURRENCY = 8;
const log = createLogger('bench', 'error');
const run = promisify(execFile);

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

function reviewBody(i: number): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: `uid-${i}`,
      kind: { group: 'keywarden.dev', version: 'v1alpha1', kind: 'ApiKey' },
      resource: { group: 'keywarden.dev', version: 'v1alpha1', resource: 'apikeys' },
      namespace: 'bench',
      operation: 'CREATE',
      object: {
        apiVersion: 'keywarden.dev/v1alpha1',
        kind: 'ApiKey',
        metadata: { name: `k-${i}`, namespace: 'bench' },
        spec: {
          environment: 'production',
          permissions: ['tickets:read', 'devices:*'],
          allowedSources: ['10.0.0.0/8', '192.0.2.1'],
        },
      },
    },
  });
}

/** Sends REQUESTS reviews (half to each path) with CONCURRENCY in flight; returns server-side times. */
async function load(port: number, ca: string, paths: string[]): Promise<void> {
  const dispatcher = new Agent({ connect: { ca }, connections: CONCURRENCY });
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < REQUESTS) {
        const i = next++;
        const res = await fetch(`https://127.0.0.1:${port}${paths[i % paths.length]}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: reviewBody(i),
          dispatcher,
        });
        if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
        await res.arrayBuffer();
      }
    }),
  );
  await dispatcher.close();
}

async function latencyFigures(): Promise<BenchFigure[]> {
  const ca = await createCa('bench-ca', new Date(Date.now() + 3600_000));
  const pair = await issueCert(ca, {
    commonName: 'bench',
    ipAddresses: ['127.0.0.1'],
    usage: 'server',
    notAfter: new Date(Date.now() + 3600_000),
  });
  const webhookTimes: number[] = [];
  const webhook = await startOurWebhook(pair, (_w, ms) => webhookTimes.push(ms));

  // Baseline: the same transport and body parsing, no rules.
  const bareTimes: number[] = [];
  const app = express();
  app.post(/.*/, (_req, res, next) => {
    const start = process.hrtime.bigint();
    res.once('close', () => bareTimes.push(Number(process.hrtime.bigint() - start) / 1e6));
    next();
  });
  app.post(/.*/, express.raw({ type: () => true, limit: '3mb' }), (req, res) => {
    const review = JSON.parse((req.body as Buffer).toString()) as { request: { uid: string } };
    res.json({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: review.request.uid, allowed: true },
    });
  });
  const bare = createServer({ cert: pair.certPem, key: pair.keyPem }, app);
  await new Promise<void>((r) => bare.listen(0, '127.0.0.1', r));
  const barePort = (bare.address() as AddressInfo).port;

  try {
    // Warm both up (JIT, TLS sessions), then measure.
    await load(webhook.port, ca.certPem, [MUTATE_PATH, VALIDATE_PATH]);
    await load(barePort, ca.certPem, ['/']);
    webhookTimes.length = 0;
    bareTimes.length = 0;
    await load(webhook.port, ca.certPem, [MUTATE_PATH, VALIDATE_PATH]);
    await load(barePort, ca.certPem, ['/']);
  } finally {
    await webhook.close();
    await new Promise((r) => bare.close(r));
  }
  return [
    figure(
      'admission latency p50',
      'ms',
      percentile(webhookTimes, 50),
      percentile(bareTimes, 50),
      'bare express HTTPS handler p50',
    ),
    figure(
      'admission latency p99',
      'ms',
      percentile(webhookTimes, 99),
      percentile(bareTimes, 99),
      'bare express HTTPS handler p99',
    ),
  ];
}

/** A webhook that admits everything unchanged: what any webhook costs the API server and kubectl. */
async function startBareWebhook(pair: {
  certPem: string;
  keyPem: string;
}): Promise<{ port: number; close(): void }> {
  const server = createServer({ cert: pair.certPem, key: pair.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const review = JSON.parse(Buffer.concat(chunks).toString()) as { request: { uid: string } };
      const body = JSON.stringify({
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        response: { uid: review.request.uid, allowed: true },
      });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, close: () => server.close() };
}

async function kubectlFigures(): Promise<BenchFigure[]> {
  const plane = await LocalControlPlane.start({ controllerManager: false, log: () => {} });
  const dir = mkdtempSync(join(tmpdir(), 'kw-bench-webhook-'));
  // Asynchronous: the webhook runs in this process and must keep answering while kubectl waits.
  const kubectl = async (...args: string[]) =>
    (
      await run(plane.kubectlPath, args, {
        env: { ...process.env, ...plane.env },
        maxBuffer: 64 * 1024 * 1024,
      })
    ).stdout;
  let webhook: AdmissionWebhook | undefined;
  let bare: { port: number; close(): void } | undefined;
  try {
    await kubectl('apply', '--server-side', '-f', 'crds/');
    await kubectl(
      'wait',
      '--for=condition=Established',
      'crd/apikeys.keywarden.dev',
      'crd/apikeypolicies.keywarden.dev',
    );
    for (const ns of [
      'keywarden-system',
      'with-webhook',
      'without-webhook',
      'bare-webhook',
      'bare-validating',
    ])
      await kubectl('create', 'namespace', ns);
    await kubectl('label', 'namespace', 'with-webhook', 'bench=webhook');
    await kubectl('label', 'namespace', 'bare-webhook', 'bench=bare');
    await kubectl('label', 'namespace', 'bare-validating', 'bench=bare-validating');

    webhook = new AdmissionWebhook(
      new KubeRest(loadKubeConfig(plane.kubeconfigPath)),
      {
        host: '127.0.0.1',
        port: 0,
        maxBodyBytes: 3 * 1024 * 1024,
        policySyncTimeoutMs: 60_000,
        operatorNamespace: 'keywarden-system',
        tls: {
          mode: 'bootstrap',
          namespace: 'keywarden-system',
          secretName: 'keywarden-webhook-tls',
          dnsNames: [],
          ipAddresses: ['127.0.0.1'],
          certValidityMs: 24 * 3600_000,
          renewBeforeMs: 3600_000,
          caValidityMs: 48 * 3600_000,
          mutatingConfigurations: ['bench'],
          validatingConfigurations: ['bench'],
        },
      },
      log,
    );
    await webhook.start();
    const { mutating, validating } = buildWebhookConfigurations({
      name: 'bench',
      target: { url: `https://127.0.0.1:${webhook.port}` },
      namespaceSelector: { matchLabels: { bench: 'webhook' } },
    });
    writeFileSync(join(dir, 'configs.yaml'), `${stringify(mutating)}---\n${stringify(validating)}`);
    await kubectl('apply', '-f', join(dir, 'configs.yaml'));
    await waitForWebhook(kubectl, dir);
    const ca = await createCa('bench-bare-ca', new Date(Date.now() + 3600_000));
    bare = await startBareWebhook(
      await issueCert(ca, {
        commonName: 'bare',
        ipAddresses: ['127.0.0.1'],
        usage: 'server',
        notAfter: new Date(Date.now() + 3600_000),
      }),
    );
    const bareConfigs = buildWebhookConfigurations({
      name: 'bench-bare',
      target: { url: `https://127.0.0.1:${bare.port}` },
      caBundlePem: ca.certPem,
      namespaceSelector: { matchLabels: { bench: 'bare' } },
      mutateEveryObject: true,
    });
    // The same bare server as a validating webhook alone: what one call per object costs.
    const bareValidating = buildWebhookConfigurations({
      name: 'bench-bare-validating',
      target: { url: `https://127.0.0.1:${bare.port}` },
      caBundlePem: ca.certPem,
      namespaceSelector: { matchLabels: { bench: 'bare-validating' } },
    }).validating;
    writeFileSync(
      join(dir, 'bare.yaml'),
      `${stringify(bareConfigs.mutating)}---\n${stringify(bareConfigs.validating)}---\n${stringify(bareValidating)}`,
    );
    await kubectl('apply', '-f', join(dir, 'bare.yaml'));

    const expiresAt = formatRfc3339(new Date(Date.now() + 30 * 86_400_000));
    /** Complete keys (nothing for the mutating webhook to do), or keys relying on its defaults. */
    const manifest = (round: number, defaults: boolean) => {
      const file = join(dir, `keys-${round}${defaults ? '-defaults' : ''}.yaml`);
      const docs = Array.from({ length: APIKEYS }, (_, i) =>
        stringify({
          apiVersion: 'keywarden.dev/v1alpha1',
          kind: 'ApiKey',
          metadata: { name: `k-${round}-${i}${defaults ? '-d' : ''}` },
          spec: defaults
            ? { environment: 'staging', permissions: ['tickets:read'] }
            : { environment: 'staging', expiresAt, permissions: ['tickets:read'] },
        }),
      );
      writeFileSync(file, docs.join('---\n'));
      return file;
    };
    const timeApply = async (ns: string, file: string) => {
      const t0 = performance.now();
      await kubectl('apply', '-n', ns, '-f', file);
      return performance.now() - t0;
    };
    // Rounds in turning order (a Latin square when ROUNDS is the number of kinds); medians.
    const runs = {
      with: { ns: 'with-webhook', defaults: false },
      without: { ns: 'without-webhook', defaults: false },
      bare: { ns: 'bare-webhook', defaults: false },
      bareValidating: { ns: 'bare-validating', defaults: false },
      withDefaults: { ns: 'with-webhook', defaults: true },
      withoutDefaults: { ns: 'without-webhook', defaults: true },
    } as const;
    type Run = keyof typeof runs;
    const names = Object.keys(runs) as Run[];
    const times = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<Run, number[]>;
    for (let round = 0; round < ROUNDS; round++) {
      const files = { complete: manifest(round, false), defaults: manifest(round, true) };
      const order = names.map((_, i) => names[(i + round) % names.length] as Run);
      for (const which of order) {
        const { ns, defaults } = runs[which];
        times[which].push(await timeApply(ns, defaults ? files.defaults : files.complete));
      }
    }
    const s = (xs: number[]) => median(xs) / 1000;
    return [
      figure(
        `kubectl apply of ${APIKEYS} ApiKeys`,
        's',
        s(times.with),
        s(times.without),
        'the same apply without the webhook (complete keys: matchConditions skip the mutating webhook; the validating one is called)',
      ),
      figure(
        `kubectl apply of ${APIKEYS} ApiKeys relying on defaults (no expiresAt: mutating webhook called)`,
        's',
        s(times.withDefaults),
        s(times.withoutDefaults),
        'the same apply without the webhook (keys then have no expiresAt)',
      ),
      figure(
        `kubectl apply of ${APIKEYS} ApiKeys, bare webhook pair called for every object (the floor)`,
        's',
        s(times.bare),
        s(times.without),
        'the same apply without a webhook (the bare pair admits everything unchanged, no matchConditions)',
      ),
      figure(
        `kubectl apply of ${APIKEYS} ApiKeys, bare validating webhook alone (the floor of one call per object)`,
        's',
        s(times.bareValidating),
        s(times.without),
        'the same apply without a webhook (the bare server admits everything unchanged, called once per object)',
      ),
    ];
  } finally {
    bare?.close();
    await webhook?.stop();
    await plane.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function waitForWebhook(kubectl: (...args: string[]) => Promise<string>, dir: string): Promise<void> {
  const probe = join(dir, 'probe.yaml');
  writeFileSync(
    probe,
    stringify({
      apiVersion: 'keywarden.dev/v1alpha1',
      kind: 'ApiKey',
      metadata: { name: 'probe' },
      spec: { environment: 'staging' },
    }),
  );
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    try {
      const out = JSON.parse(
        await kubectl('create', '--dry-run=server', '-n', 'with-webhook', '-o', 'json', '-f', probe),
      ) as { spec: { expiresAt?: string } };
      if (out.spec.expiresAt) return;
    } catch {
      // not called yet, or caBundle not yet in place
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error('the API server did not start calling the webhook within 60 s');
}

const bench: Bench = {
  name: 'webhook',
  async run() {
    const latency = await latencyFigures();
    const apply = await kubectlFigures();
    return {
      name: 'webhook',
      description:
        'admission latency at the server vs a bare handler; kubectl apply with the webhook (complete keys: mutating skipped by matchConditions; keys relying on defaults: both called), and with a bare webhook pair called for every object, vs without',
      params: { requests: REQUESTS, concurrency: CONCURRENCY, apiKeys: APIKEYS, rounds: ROUNDS },
      figures: [...latency, ...apply],
    };
  },
};

export default bench;
