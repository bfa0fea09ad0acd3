import { describe, expect, it } from 'vitest';
import {
  buildWebhookConfigurations,
  MUTATE_PATH,
  VALIDATE_PATH,
} from '../../../src/webhook/configurations.ts';

describe('buildWebhookConfigurations', () => {
  it('builds both configurations for a URL with the safe defaults', () => {
    const { mutating, validating } = buildWebhookConfigurations({
      name: 'kw',
      target: { url: 'https://127.0.0.1:9443/' },
      caBundlePem: 'PEM',
      namespaceSelector: { matchLabels: { team: 'a' } },
    });
    expect(mutating.kind).toBe('MutatingWebhookConfiguration');
    expect(validating.kind).toBe('ValidatingWebhookConfiguration');
    const [m] = mutating.webhooks;
    const [v] = validating.webhooks;
    expect(m?.clientConfig).toEqual({
      url: `https://127.0.0.1:9443${MUTATE_PATH}`,
      caBundle: Buffer.from('PEM').toString('base64'),
    });
    expect(v?.clientConfig.url).toBe(`https://127.0.0.1:9443${VALIDATE_PATH}`);
    for (const w of [m, v]) {
      expect(w).toMatchObject({
        admissionReviewVersions: ['v1'],
        sideEffects: 'None',
        failurePolicy: 'Fail',
        matchPolicy: 'Equivalent',
        timeoutSeconds: 5,
        namespaceSelector: { matchLabels: { team: 'a' } },
      });
      // The main resource only: apikeys/status is not matched, so status writes are never refused.
      expect(w?.rules).toEqual([
        {
          apiGroups: ['keywarden.dev'],
          apiVersions: ['v1alpha1'],
          operations: ['CREATE', 'UPDATE'],
          resources: ['apikeys'],
          scope: 'Namespaced',
        },
      ]);
    }
  });

  it('targets a Service in a cluster and leaves caBundle for the injector', () => {
    const { validating } = buildWebhookConfigurations({
      name: 'kw',
      target: { service: { namespace: 'keywarden-system', name: 'keywarden-webhook', port: 443 } },
      annotations: { 'cert-manager.io/inject-ca-from': 'keywarden-system/keywarden-webhook' },
    });
    expect(validating.webhooks[0]?.clientConfig).toEqual({
      service: { namespace: 'keywarden-system', name: 'keywarden-webhook', port: 443, path: VALIDATE_PATH },
    });
    expect(validating.metadata.annotations).toEqual({
      'cert-manager.io/inject-ca-from': 'keywarden-system/keywarden-webhook',
    });
  });

  it('refuses a timeout above 5 seconds', () => {
    expect(() =>
      buildWebhookConfigurations({ name: 'kw', target: { url: 'https://x' }, timeoutSeconds: 10 }),
    ).toThrow(/1 to 5/);
  });
});
