import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import { SIDECAR_NAME } from '../../src/injector/index.ts';
import { applyCrds, kubectl, kubectlOk } from '../support/kube/kubectl.ts';
import {
  createSelectedNamespace,
  eventually,
  podInjectionWebhook,
  startWebhookProcess,
  type WebhookProcess,
} from '../support/webhook/harness.ts';

// Sidecar injection through the real API server: a MutatingWebhookConfiguration for pods points at the
// webhook process, which serves /pods/inject when started with --injector-config.
const SELECTOR = { 'keywarden.dev/test-injection': 'enabled' };
const CONFIG = 'kw-injection-test';
let webhook: WebhookProcess;
let ns = '';

function pod(name: string, annotations: Record<string, string>): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, annotations },
    spec: { containers: [{ name: 'api', image: 'example/api:1', ports: [{ containerPort: 3000 }] }] },
  });
}

beforeAll(async () => {
  await applyCrds();
  await kubectl(['create', 'namespace', 'keywarden-system']);
  const injectorFile = join(inject('runDir'), 'injector.yaml');
  writeFileSync(injectorFile, stringify({ image: 'keywarden:test' }));
  webhook = await startWebhookProcess({
    operatorNamespace: 'keywarden-system',
    secretName: 'kw-injection-test-tls',
    configurationName: CONFIG,
    extraArgs: [`--injector-config=${injectorFile}`],
  });
  ns = await createSelectedNamespace('inject', SELECTOR);
  await kubectlOk(
    ['apply', '-f', '-'],
    stringify({
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata: { name: CONFIG },
      webhooks: [podInjectionWebhook(webhook.port, SELECTOR)],
    }),
  );
  // The webhook patches its CA into the configuration it was told about.
  await eventually('caBundle patched', async () => {
    const out = await kubectlOk([
      'get',
      'mutatingwebhookconfiguration',
      CONFIG,
      '-o',
      'jsonpath={.webhooks[0].clientConfig.caBundle}',
    ]);
    return out.length > 0 ? true : undefined;
  });
});

afterAll(async () => {
  await kubectl(['delete', 'mutatingwebhookconfiguration', CONFIG, '--ignore-not-found']);
  await webhook?.stop();
});

describe('sidecar injection', () => {
  it('adds the validator container to a pod annotated keywarden.dev/inject: "true"', async () => {
    await eventually('the injection webhook to answer', async () => {
      const r = await kubectl(
        ['apply', '-n', ns, '-f', '-'],
        pod('annotated', {
          'keywarden.dev/inject': 'true',
          'keywarden.dev/environment': 'staging',
          'keywarden.dev/upstream-port': '3000',
          'keywarden.dev/routes-configmap': 'api-routes',
        }),
      );
      return r.code === 0 ? true : undefined;
    });
    const created = JSON.parse(await kubectlOk(['get', 'pod', 'annotated', '-n', ns, '-o', 'json'])) as {
      metadata: { annotations: Record<string, string> };
      spec: { containers: { name: string; image: string }[]; initContainers?: { name: string }[] };
    };
    const names = created.spec.containers.map((c) => c.name);
    expect(names).toContain('api');
    expect(names).toContain(SIDECAR_NAME);
    expect(created.spec.containers.find((c) => c.name === SIDECAR_NAME)?.image).toBe('keywarden:test');
    expect(created.metadata.annotations['keywarden.dev/status']).toBe('injected');
  });

  it('leaves a pod without the annotation alone', async () => {
    await kubectlOk(['apply', '-n', ns, '-f', '-'], pod('plain', {}));
    const names = (
      await kubectlOk(['get', 'pod', 'plain', '-n', ns, '-o', 'jsonpath={.spec.containers[*].name}'])
    ).split(' ');
    expect(names).toEqual(['api']);
  });

  it('refuses a pod whose keywarden annotations are wrong, saying what is wrong', async () => {
    const r = await kubectl(
      ['apply', '-n', ns, '-f', '-'],
      pod('bad', { 'keywarden.dev/inject': 'true', 'keywarden.dev/environment': 'prod' }),
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('keywarden.dev/environment');
  });
});
