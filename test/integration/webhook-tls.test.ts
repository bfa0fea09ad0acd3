import { randomBytes, X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyCrds, createNamespace, kubectl, kubectlOk } from '../support/kube/kubectl.ts';
import {
  apiKeyYaml,
  createSelectedNamespace,
  deleteConfigurations,
  eventually,
  installConfigurations,
  servedCertificate,
  sleep,
  startWebhookProcess,
  type WebhookProcess,
  waitUntilWebhookActive,
} from '../support/webhook/harness.ts';

// Serving certificate life and failure: two replicas bootstrapping at once converge on one CA, a
// short-lived certificate is renewed while the API server keeps admitting, and with the webhook down
// failurePolicy Fail refuses creation.

const RUN = randomBytes(3).toString('hex');
const SELECTOR = { 'keywarden.dev/webhook-test': `tls-${RUN}` };
const CONFIG = `keywarden-test-tls-${RUN}`;
const SECRET = 'keywarden-webhook-tls';
// Certificates live 20 s and are renewed 12 s before expiry: a new one about every 8 s.
const SHORT_LIVED = ['--cert-validity=20s', '--cert-renew-before=12s'];

let ns = '';
let system = '';
let replicas: WebhookProcess[] = [];

const start = (port?: number) =>
  startWebhookProcess({
    operatorNamespace: system,
    secretName: SECRET,
    configurationName: CONFIG,
    port,
    extraArgs: SHORT_LIVED,
  });

async function caFromSecret(): Promise<string> {
  const b64 = await kubectlOk(['get', 'secret', SECRET, '-n', system, '-o', 'jsonpath={.data.ca\\.crt}']);
  return Buffer.from(b64, 'base64').toString();
}

const createDryRun = (name: string) =>
  kubectl(['create', '--dry-run=server', '-n', ns, '-o', 'json', '-f', '-'], apiKeyYaml(name, {}));

beforeAll(async () => {
  await applyCrds();
  system = await createNamespace('kw-webhook-tls-sys');
  ns = await createSelectedNamespace('kw-webhook-tls', SELECTOR);
  // Two replicas race to create the Secret.
  replicas = await Promise.all([start(), start()]);
  await installConfigurations(CONFIG, replicas[0]?.port ?? 0, SELECTOR);
  await waitUntilWebhookActive(ns);
}, 180_000);

afterAll(async () => {
  await deleteConfigurations(CONFIG);
  for (const r of replicas) await r.stop();
  await kubectl(['delete', 'namespace', ns, system, '--wait=false', '--ignore-not-found']);
});

describe('TLS bootstrap', () => {
  it('keeps one CA in a Secret that both replicas serve from, and patches it into both configurations', async () => {
    const caPem = await caFromSecret();
    const ca = new X509Certificate(caPem);
    expect(ca.ca).toBe(true);
    for (const r of replicas) {
      const served = await servedCertificate(r.port);
      expect(served.verify(ca.publicKey)).toBe(true);
      expect(served.checkIP('127.0.0.1')).toBe('127.0.0.1');
    }
    for (const kind of ['mutatingwebhookconfiguration', 'validatingwebhookconfiguration']) {
      const bundle = await kubectlOk([
        'get',
        kind,
        CONFIG,
        '-o',
        'jsonpath={.webhooks[0].clientConfig.caBundle}',
      ]);
      expect(Buffer.from(bundle, 'base64').toString()).toBe(caPem);
    }
  });

  it('renews a short-lived certificate without a restart while admissions keep succeeding', async () => {
    const primary = replicas[0] as WebhookProcess;
    const caPem = await caFromSecret();
    const first = await servedCertificate(primary.port);
    const serials = new Set<string>([first.serialNumber]);
    const failures: string[] = [];
    let admittedAfterFirstExpired = 0;
    const until = Date.now() + 26_000;
    for (let i = 0; Date.now() < until; i++) {
      const r = await createDryRun(`renewal-${i}`);
      if (r.code !== 0) failures.push(r.stderr);
      else if (Date.now() > first.validToDate.getTime()) admittedAfterFirstExpired++;
      const served = await servedCertificate(primary.port);
      expect(served.verify(new X509Certificate(caPem).publicKey)).toBe(true);
      expect(served.validToDate.getTime()).toBeGreaterThan(Date.now());
      serials.add(served.serialNumber);
      await sleep(500);
    }
    expect(failures).toEqual([]);
    expect(serials.size).toBeGreaterThanOrEqual(3);
    expect(admittedAfterFirstExpired).toBeGreaterThan(0);
    expect(await caFromSecret()).toBe(caPem);
    const reloads = /^keywarden_webhook_certificate_reloads_total (\S+)$/m.exec(await primary.metrics())?.[1];
    expect(Number(reloads)).toBeGreaterThanOrEqual(3);
  });
});

describe('with the webhook stopped', () => {
  it('refuses creation (failurePolicy Fail) and creates nothing; a restart serves again with the same CA', async () => {
    const port = replicas[0]?.port ?? 0;
    const caPem = await caFromSecret();
    for (const r of replicas) await r.stop();

    const refused = await kubectl(['apply', '-n', ns, '-f', '-'], apiKeyYaml('while-down', {}));
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/failed calling webhook "mutate\.apikeys\.keywarden\.dev"/);
    expect(refused.stderr).toMatch(/connection refused/);
    expect((await kubectl(['get', 'apikey', 'while-down', '-n', ns])).code).not.toBe(0);

    replicas = [await start(port)];
    await eventually('admission to work again', async () =>
      (await createDryRun('after-restart')).code === 0 ? true : undefined,
    );
    await kubectlOk(['apply', '-n', ns, '-f', '-'], apiKeyYaml('after-restart', {}));
    expect(await caFromSecret()).toBe(caPem);
  });
});
