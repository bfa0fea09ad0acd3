import { describe, expect, it } from 'vitest';
import {
  consumerSecret,
  ownsConsumerSecret,
  ownsHashSecret,
  type SecretObject,
} from '../../../src/controller/delivery.ts';

// The marks the controller checks before it replaces or deletes a Secret (issue 12, finding 1): a
// Secret it did not make for this very ApiKey is never touched.

const ak = {
  metadata: { name: 'billing', namespace: 'team-a', uid: 'uid-1' },
  spec: { environment: 'production' as const },
};
const made = consumerSecret(
  ak,
  { name: 'billing-key', namespace: 'consumers' },
  'kwsk_prod_x',
  0,
  'abcdefghijkl',
);

describe('ownership marks', () => {
  it('a consumer Secret is ours only with this ApiKey uid', () => {
    expect(made.metadata.annotations?.['keywarden.dev/apikey-uid']).toBe('uid-1');
    expect(ownsConsumerSecret(made, ak)).toBe(true);
    // Same name and namespace, re-created ApiKey: another uid, not ours.
    expect(ownsConsumerSecret(made, { metadata: { ...ak.metadata, uid: 'uid-2' } })).toBe(false);
  });

  it('a Secret someone else made is never ours, whatever its name', () => {
    const foreign: SecretObject = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'billing-key', namespace: 'consumers' },
    };
    expect(ownsConsumerSecret(foreign, ak)).toBe(false);
    // Names of the ApiKey without keywarden's managed-by label: not ours either.
    const lookalike = structuredClone(foreign);
    lookalike.metadata.annotations = {
      'keywarden.dev/apikey-name': 'billing',
      'keywarden.dev/apikey-namespace': 'team-a',
    };
    expect(ownsConsumerSecret(lookalike, ak)).toBe(false);
  });

  it('a consumer Secret written before the uid mark (name, namespace, managed-by) is still ours', () => {
    const legacy = structuredClone(made);
    delete legacy.metadata.annotations?.['keywarden.dev/apikey-uid'];
    expect(ownsConsumerSecret(legacy, ak)).toBe(true);
  });

  it('a hash Secret is ours only when owned by this ApiKey uid', () => {
    const owned: SecretObject = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: 'x',
        namespace: 'team-a',
        ownerReferences: [
          { apiVersion: 'keywarden.dev/v1alpha1', kind: 'ApiKey', name: 'billing', uid: 'uid-1' },
        ],
      },
    };
    expect(ownsHashSecret(owned, ak)).toBe(true);
    expect(ownsHashSecret({ ...owned, metadata: { ...owned.metadata, ownerReferences: [] } }, ak)).toBe(
      false,
    );
  });
});
