import { CompactEncrypt, importJWK, type JWK } from 'jose';
import { COMPONENT_LABEL, DELIVERY_COMPONENT, deliverySecretName } from '../api/hash-record.ts';
import type { ApiKey, ApiKeySpec } from '../api/index.ts';
import { isNotFound, type KubeRest } from '../kube/rest.ts';

// The one-time delivery. Every mint writes a delivery Secret in the operator's namespace FIRST, before
// the hash Secret: it carries the new key (or, with a recipient, only its JWE) with the hash and the
// generation it was minted for, so a crash at any later point is repaired from it without minting a
// second key for the same generation or losing the first.

export const DELIVERY_SECRET_TYPE = 'keywarden.dev/delivery';
export const ANNOTATIONS = {
  apiKeyNamespace: 'keywarden.dev/apikey-namespace',
  apiKeyName: 'keywarden.dev/apikey-name',
  apiKeyUid: 'keywarden.dev/apikey-uid',
  generation: 'keywarden.dev/rotation-generation',
  hash: 'keywarden.dev/key-hash',
  keyId: 'keywarden.dev/key-id',
  hint: 'keywarden.dev/key-hint',
  expiresAt: 'keywarden.dev/delivery-expires-at',
} as const;

export interface SecretObject {
  apiVersion: 'v1';
  kind: 'Secret';
  type?: string;
  metadata: {
    name: string;
    namespace: string;
    uid?: string;
    resourceVersion?: string;
    creationTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: {
      apiVersion: string;
      kind: string;
      name: string;
      uid: string;
      controller?: boolean;
      blockOwnerDeletion?: boolean;
    }[];
  };
  data?: Record<string, string>;
}

export interface StagedKey {
  generation: number;
  hash: string;
  keyId: string;
  hint: string;
  apiKeyUid: string;
  /** Present unless the key was sealed for a recipient. */
  plaintext?: string;
  jwe?: string;
  expiresAt: string;
  secret: SecretObject;
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string | undefined) =>
  s === undefined ? undefined : Buffer.from(s, 'base64').toString('utf8');

export const secretsPath = (ns: string, name?: string) =>
  `/api/v1/namespaces/${encodeURIComponent(ns)}/secrets${name ? `/${encodeURIComponent(name)}` : ''}`;

export async function getSecret(rest: KubeRest, ns: string, name: string): Promise<SecretObject | undefined> {
  try {
    return await rest.get<SecretObject>(secretsPath(ns, name));
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

export function readStaged(secret: SecretObject): StagedKey | undefined {
  const a = secret.metadata.annotations ?? {};
  const generation = Number(a[ANNOTATIONS.generation]);
  if (!Number.isInteger(generation) || !a[ANNOTATIONS.hash] || !a[ANNOTATIONS.keyId]) return undefined;
  return {
    generation,
    hash: a[ANNOTATIONS.hash] as string,
    keyId: a[ANNOTATIONS.keyId] as string,
    hint: a[ANNOTATIONS.hint] ?? '',
    apiKeyUid: a[ANNOTATIONS.apiKeyUid] ?? '',
    plaintext: unb64(secret.data?.apiKey),
    jwe: unb64(secret.data?.jwe),
    expiresAt: a[ANNOTATIONS.expiresAt] ?? '',
    secret,
  };
}

export function deliverySecret(
  operatorNamespace: string,
  ak: ApiKey & { metadata: { name: string; namespace: string; uid: string } },
  staged: Omit<StagedKey, 'secret' | 'apiKeyUid'>,
): SecretObject {
  const data: Record<string, string> = {};
  if (staged.plaintext !== undefined) data.apiKey = b64(staged.plaintext);
  if (staged.jwe !== undefined) data.jwe = b64(staged.jwe);
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: DELIVERY_SECRET_TYPE,
    metadata: {
      name: deliverySecretName(ak.metadata.namespace, ak.metadata.name),
      namespace: operatorNamespace,
      labels: { [COMPONENT_LABEL]: DELIVERY_COMPONENT, 'app.kubernetes.io/managed-by': 'keywarden' },
      annotations: {
        [ANNOTATIONS.apiKeyNamespace]: ak.metadata.namespace,
        [ANNOTATIONS.apiKeyName]: ak.metadata.name,
        [ANNOTATIONS.apiKeyUid]: ak.metadata.uid,
        [ANNOTATIONS.generation]: String(staged.generation),
        [ANNOTATIONS.hash]: staged.hash,
        [ANNOTATIONS.keyId]: staged.keyId,
        [ANNOTATIONS.hint]: staged.hint,
        [ANNOTATIONS.expiresAt]: staged.expiresAt,
      },
    },
    data,
  };
}

/** Seals the key for the recipient's public JWK as a compact JWE (A256GCM). */
export async function sealForRecipient(
  plaintext: string,
  recipient: NonNullable<NonNullable<ApiKeySpec['delivery']>['recipient']>,
): Promise<string> {
  const alg = recipient.kty === 'RSA' ? 'RSA-OAEP-256' : 'ECDH-ES+A256KW';
  const key = await importJWK(recipient as JWK, alg);
  const header: { alg: string; enc: string; kid?: string; cty: string } = {
    alg,
    enc: 'A256GCM',
    cty: 'text/plain',
  };
  if (recipient.kid) header.kid = recipient.kid;
  return new CompactEncrypt(new TextEncoder().encode(plaintext)).setProtectedHeader(header).encrypt(key);
}

/** The consumer Secret asked for with spec.delivery.secretRef: the plaintext for an in-cluster client. */
export function consumerSecret(
  ak: ApiKey & { metadata: { name: string; namespace: string; uid: string } },
  ref: NonNullable<NonNullable<ApiKeySpec['delivery']>['secretRef']>,
  plaintext: string,
  generation: number,
  keyId: string,
): SecretObject {
  const sameNamespace = (ref.namespace ?? ak.metadata.namespace) === ak.metadata.namespace;
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {
      name: ref.name,
      namespace: ref.namespace ?? ak.metadata.namespace,
      labels: { 'app.kubernetes.io/managed-by': 'keywarden' },
      annotations: {
        [ANNOTATIONS.apiKeyNamespace]: ak.metadata.namespace,
        [ANNOTATIONS.apiKeyName]: ak.metadata.name,
        // The ownership mark: only a Secret carrying this ApiKey's uid is ever replaced or deleted.
        [ANNOTATIONS.apiKeyUid]: ak.metadata.uid,
        [ANNOTATIONS.generation]: String(generation),
        [ANNOTATIONS.keyId]: keyId,
      },
      // Owner references cannot cross namespaces; a Secret elsewhere is removed by the finalizer.
      ...(sameNamespace
        ? {
            ownerReferences: [
              {
                apiVersion: 'keywarden.dev/v1alpha1',
                kind: 'ApiKey',
                name: ak.metadata.name,
                uid: ak.metadata.uid,
                controller: true,
                blockOwnerDeletion: true,
              },
            ],
          }
        : {}),
    },
    data: { [ref.key ?? 'apiKey']: b64(plaintext) },
  };
}

/**
 * Whether keywarden made this consumer Secret for this very ApiKey (its uid, so not for an earlier
 * ApiKey of the same name). Secrets written before the uid mark existed carry the ApiKey's namespace and
 * name with the managed-by label; those are still ours, and get the uid mark on the next write.
 */
export function ownsConsumerSecret(
  secret: SecretObject,
  ak: { metadata: { name: string; namespace: string; uid: string } },
): boolean {
  const a = secret.metadata.annotations ?? {};
  const uid = a[ANNOTATIONS.apiKeyUid];
  if (uid !== undefined) return uid === ak.metadata.uid;
  return (
    secret.metadata.labels?.['app.kubernetes.io/managed-by'] === 'keywarden' &&
    a[ANNOTATIONS.apiKeyName] === ak.metadata.name &&
    a[ANNOTATIONS.apiKeyNamespace] === ak.metadata.namespace
  );
}

/** Whether a hash Secret is the one the controller wrote for this ApiKey (owned by its uid). */
export function ownsHashSecret(secret: SecretObject, ak: { metadata: { uid: string } }): boolean {
  return (
    secret.metadata.ownerReferences?.some((o) => o.kind === 'ApiKey' && o.uid === ak.metadata.uid) === true
  );
}
