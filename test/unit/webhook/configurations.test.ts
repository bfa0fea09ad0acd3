import { describe, expect, it } from 'vitest';
import {
  buildWebhookConfigurations,
  MUTATE_PATH,
  VALIDATE_PATH,
} from '../../../src/webhook/configurations.ts';
import { MUTATE_MATCH_CONDITIONS } from '../../../src/webhook/match-conditions.ts';

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

  it('lets the API server skip only the mutating webhook, with one condition (they are ANDed)', () => {
    const { mutating, validating } = buildWebhookConfigurations({ name: 'kw', target: { url: 'https://x' } });
    expect(mutating.webhooks[0]?.matchConditions).toEqual(MUTATE_MATCH_CONDITIONS);
    expect(MUTATE_MATCH_CONDITIONS).toHaveLength(1);
    // The validating webhook checks the final object of every create and update.
    expect(validating.webhooks[0]).not.toHaveProperty('matchConditions');
    // The reference configuration of the tests and the bench's floor: called for every object.
    const always = buildWebhookConfigurations({
      name: 'kw',
      target: { url: 'https://x' },
      mutateEveryObject: true,
    });
    expect(always.mutating.webhooks[0]).not.toHaveProperty('matchConditions');
  });

  it('conditions name every field the mutating webhook writes, and guard types before use', () => {
    const [condition] = MUTATE_MATCH_CONDITIONS;
    const cel = condition?.expression ?? '';
    // Defaults: called when absent. Normal forms: called when present and not provably normal.
    for (const field of ['type', 'expiresAt']) expect(cel).toContain(`!has(object.spec.${field})`);
    for (const field of ['permissions', 'allowedSources'])
      expect(cel).toContain(`has(object.spec.${field}) && !(type(object.spec.${field}) == list`);
    for (const annotation of ['keywarden.dev/reveal-request', 'keywarden.dev/reveal-requested-by']) {
      expect(cel).toContain(`'${annotation}' in object.metadata.annotations`);
      expect(cel).toContain(`'${annotation}' in oldObject.metadata.annotations`);
    }
    // Sizes are checked before a list is walked or a string matched (a CEL cost error would refuse).
    expect(cel).toMatch(/size\(object\.spec\.permissions\) <= 64 && object\.spec\.permissions\.all/);
    expect(cel).toMatch(/size\(object\.spec\.allowedSources\) <= 64 && object\.spec\.allowedSources\.all/);
    expect(cel).toMatch(/size\(e\) <= 127 && e\.matches/);
    expect(cel).toMatch(/size\(e\) <= 18 && e\.matches/);
  });

  it('refuses a timeout above 5 seconds', () => {
    expect(() =>
      buildWebhookConfigurations({ name: 'kw', target: { url: 'https://x' }, timeoutSeconds: 10 }),
    ).toThrow(/1 to 5/);
  });
});
