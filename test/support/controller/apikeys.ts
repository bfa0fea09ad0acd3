import { generateKeyPairSync } from 'node:crypto';
import { type HashRecord, type RecordSigningKey, recordKeyId } from '../../../src/api/hash-record.ts';
import { FINALIZER } from '../../../src/api/metadata.ts';
import { deliverySecret, type SecretObject } from '../../../src/controller/delivery.ts';
import { buildRecord, hashSecretBody } from '../../../src/controller/hash-secret.ts';
import type { LiveApiKey, Policy } from '../../../src/controller/plan.ts';
import { formatRfc3339 } from '../../../src/rules/index.ts';

export const NOW = new Date('2030-01-01T00:00:00Z');
/** RFC 3339 without fractions, as the controller writes times. */
export const at = (ms: number) => formatRfc3339(new Date(NOW.getTime() + ms));
export const H0 = 'a'.repeat(64);
export const H1 = 'b'.repeat(64);
export const DAY = 86_400_000;
export const OP_NS = 'keywarden-system';

export function signingKey(): RecordSigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { kid: recordKeyId(publicKey), privateKey, publicKey };
}

export const KEY = signingKey();

export const policy = (over: Partial<Policy> = {}): Policy => ({
  operatorNamespace: OP_NS,
  recordSigningKey: KEY,
  expiringSoonMs: 14 * DAY,
  consumerSecretNamespaces: undefined,
  ...over,
});

/** An ApiKey as the informer holds it: finalizer and labels on, not yet minted. */
export function apiKey(
  spec: Partial<LiveApiKey['spec']> = {},
  meta: Partial<LiveApiKey['metadata']> = {},
  status?: LiveApiKey['status'],
): LiveApiKey {
  return {
    apiVersion: 'keywarden.dev/v1alpha1',
    kind: 'ApiKey',
    metadata: {
      name: 'billing',
      namespace: 'team-a',
      uid: 'uid-1',
      generation: 1,
      resourceVersion: '10',
      finalizers: [FINALIZER],
      labels: {
        'keywarden.dev/environment': 'production',
        'keywarden.dev/type': 'private',
        'keywarden.dev/state': 'Active',
      },
      ...meta,
    },
    spec: { environment: 'production', permissions: ['devices:read'], expiresAt: at(100 * DAY), ...spec },
    ...(status ? { status } : {}),
  };
}

/** The hash Secret the controller writes for this ApiKey's spec and `base` (signed with `key`), as stored. */
export function hashSecret(
  ak: LiveApiKey,
  base: Partial<Pick<HashRecord, 'keyId' | 'hash' | 'rotationGeneration' | 'previous' | 'issuedAt'>> = {},
  key = KEY,
): SecretObject {
  const s = hashSecretBody(
    ak,
    buildRecord(ak, { keyId: 'KEYID0000001', hash: H0, issuedAt: at(-DAY), ...base }),
    key,
  );
  s.metadata.uid = 'hash-uid';
  s.metadata.resourceVersion = '20';
  return s;
}

/** A delivery (staging) copy for `generation`, sealed at rest unless `jwe` is given. */
export function stagedCopy(
  ak: LiveApiKey,
  o: {
    generation?: number;
    keyId?: string;
    hash?: string;
    expiresAt?: string;
    jwe?: string;
    uid?: string;
  } = {},
): SecretObject {
  const s = deliverySecret(OP_NS, ak, {
    generation: o.generation ?? 0,
    hash: o.hash ?? H0,
    keyId: o.keyId ?? 'KEYID0000001',
    hint: 'kwsk_prod_KEYI…01',
    ...(o.jwe ? { jwe: o.jwe } : { sealed: 'sealed-jwe' }),
    expiresAt: o.expiresAt ?? at(DAY),
  });
  s.metadata.uid = 'delivery-uid';
  s.metadata.resourceVersion = '30';
  if (o.uid) s.metadata.annotations = { ...s.metadata.annotations, 'keywarden.dev/apikey-uid': o.uid };
  return s;
}

/** The status the controller wrote for a minted key, as of NOW. */
export function mintedStatus(over: Partial<NonNullable<LiveApiKey['status']>> = {}): LiveApiKey['status'] {
  return {
    keyId: 'KEYID0000001',
    keyHint: 'kwsk_prod_KEYI…01',
    issuedAt: at(-DAY),
    rotationGeneration: 0,
    state: 'Active',
    expiresAt: at(100 * DAY),
    observedGeneration: 1,
    delivery: { state: 'Revealed' },
    conditions: [
      {
        type: 'Ready',
        status: 'True',
        reason: 'Active',
        message: 'The key works at validators of its environment',
        observedGeneration: 1,
        lastTransitionTime: at(-DAY),
      },
      {
        type: 'ExpiringSoon',
        status: 'False',
        reason: 'NotSoon',
        message: `The key expires at ${at(100 * DAY)}`,
        observedGeneration: 1,
        lastTransitionTime: at(-DAY),
      },
    ],
    ...over,
  };
}
