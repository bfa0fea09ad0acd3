import { createHash } from 'node:crypto';
import { CompactEncrypt, compactDecrypt, decodeProtectedHeader, importJWK, type JWK } from 'jose';
import { deliverySecretName } from '../api/hash-record.ts';
import { API_VERSION, type ApiKey, type ApiKeySpec } from '../api/index.ts';
import { COMPONENTS, LABELS, MANAGED_BY, SECRET_ANNOTATIONS, SECRET_TYPES } from '../api/metadata.ts';
import { SECRETS } from '../kube/resources.ts';
import { isNotFound, type KubeRest, resourcePath } from '../kube/rest.ts';

// The one-time delivery. Every mint writes a delivery Secret in the operator's namespace FIRST, before
// the hash Secret: it carries the new key (or, with a recipient, only its JWE) with the hash and the
// generation it was minted for, so a crash at any later point is repaired from it without minting a
// second key for the same generation or losing the first.
//
// The key in it is sealed at rest (JWE, A256GCM) with a data key that lives in a second Secret, in the
// ApiKey's own namespace (one per namespace): a reader of the operator namespace holds the ciphertext
// without its key, a tenant holds its own namespace's data key without the ciphertext. Only the
// controller reads both.

const DELIVERY_KEY_FIELD = 'key';

/** The ApiKey as the controlling owner: the garbage collector removes a Secret in its namespace with it. */
export function ownerReference(ak: { metadata: { name: string; uid: string } }) {
  return {
    apiVersion: API_VERSION,
    kind: 'ApiKey',
    name: ak.metadata.name,
    uid: ak.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

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
  /** Known in memory right after a mint; otherwise opened from `sealed`. */
  plaintext?: string;
  /** The key sealed at rest with the ApiKey's data key (see openAtRest). */
  sealed?: string;
  /** The key sealed for spec.delivery.recipient. */
  jwe?: string;
  expiresAt: string;
  secret: SecretObject;
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string | undefined) =>
  s === undefined ? undefined : Buffer.from(s, 'base64').toString('utf8');

export const secretsPath = (ns: string, name?: string) => resourcePath(SECRETS, ns, name);

export async function getSecret(
  rest: Pick<KubeRest, 'get'>,
  ns: string,
  name: string,
): Promise<SecretObject | undefined> {
  try {
    return await rest.get<SecretObject>(secretsPath(ns, name));
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

export function readStaged(secret: SecretObject): StagedKey | undefined {
  const a = secret.metadata.annotations ?? {};
  const generation = Number(a[SECRET_ANNOTATIONS.generation]);
  if (!Number.isInteger(generation) || !a[SECRET_ANNOTATIONS.hash] || !a[SECRET_ANNOTATIONS.keyId])
    return undefined;
  return {
    generation,
    hash: a[SECRET_ANNOTATIONS.hash] as string,
    keyId: a[SECRET_ANNOTATIONS.keyId] as string,
    hint: a[SECRET_ANNOTATIONS.hint] ?? '',
    apiKeyUid: a[SECRET_ANNOTATIONS.apiKeyUid] ?? '',
    // data.apiKey: a copy written in plaintext by keywarden before sealing at rest; still honoured.
    plaintext: unb64(secret.data?.apiKey),
    sealed: unb64(secret.data?.sealed),
    jwe: unb64(secret.data?.jwe),
    expiresAt: a[SECRET_ANNOTATIONS.expiresAt] ?? '',
    secret,
  };
}

export function deliverySecret(
  operatorNamespace: string,
  ak: ApiKey & { metadata: { name: string; namespace: string; uid: string } },
  staged: Omit<StagedKey, 'secret' | 'apiKeyUid' | 'plaintext'>,
): SecretObject {
  // Never the plaintext: only the at-rest JWE or the recipient's JWE.
  const data: Record<string, string> = {};
  if (staged.sealed !== undefined) data.sealed = b64(staged.sealed);
  if (staged.jwe !== undefined) data.jwe = b64(staged.jwe);
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: SECRET_TYPES.delivery,
    metadata: {
      name: deliverySecretName(ak.metadata.namespace, ak.metadata.name),
      namespace: operatorNamespace,
      labels: { [LABELS.component]: COMPONENTS.delivery, [LABELS.managedBy]: MANAGED_BY },
      annotations: {
        [SECRET_ANNOTATIONS.apiKeyNamespace]: ak.metadata.namespace,
        [SECRET_ANNOTATIONS.apiKeyName]: ak.metadata.name,
        [SECRET_ANNOTATIONS.apiKeyUid]: ak.metadata.uid,
        [SECRET_ANNOTATIONS.generation]: String(staged.generation),
        [SECRET_ANNOTATIONS.hash]: staged.hash,
        [SECRET_ANNOTATIONS.keyId]: staged.keyId,
        [SECRET_ANNOTATIONS.hint]: staged.hint,
        [SECRET_ANNOTATIONS.expiresAt]: staged.expiresAt,
      },
    },
    data,
  };
}

/**
 * The Secret, in each namespace with ApiKeys, holding the data key their delivery copies are sealed
 * with: one per namespace (written once, not once per key), so minting a key costs no write for it.
 */
export const DATA_KEY_SECRET_NAME = 'keywarden-delivery-key';

/** Before issue 14's fourth round each ApiKey had its own data key, `NAME.keywarden-delivery-key`, owned by it. */
export function legacyDataKeySecretName(apiKeyName: string): string {
  const name = `${apiKeyName}.keywarden-delivery-key`;
  if (name.length <= 253) return name;
  const digest = createHash('sha256').update(apiKeyName).digest('hex').slice(0, 10);
  return `${apiKeyName.slice(0, 200)}.${digest}.keywarden-delivery-key`;
}

/**
 * The namespace's data-key Secret, typed so validators never take it for a hash. It has no owner: it
 * outlives any one ApiKey (install.md lists it among what stays after an uninstall).
 */
export function dataKeySecret(namespace: string, dataKey: Uint8Array): SecretObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: SECRET_TYPES.deliveryKey,
    metadata: {
      name: DATA_KEY_SECRET_NAME,
      namespace,
      labels: { [LABELS.component]: COMPONENTS.deliveryKey, [LABELS.managedBy]: MANAGED_BY },
    },
    data: { [DELIVERY_KEY_FIELD]: Buffer.from(dataKey).toString('base64') },
  };
}

/**
 * The data key in a data-key Secret. `ownerUid`: a legacy per-key Secret, believed only when that
 * ApiKey owns it (one left by a deleted ApiKey of the same name opens nothing).
 */
export function readDataKey(secret: SecretObject, ownerUid?: string): Uint8Array | undefined {
  if (secret.type !== SECRET_TYPES.deliveryKey) return undefined;
  if (
    ownerUid !== undefined &&
    !secret.metadata.ownerReferences?.some((o) => o.kind === 'ApiKey' && o.uid === ownerUid)
  )
    return undefined;
  const raw = secret.data?.[DELIVERY_KEY_FIELD];
  const key = raw === undefined ? undefined : Buffer.from(raw, 'base64');
  return key?.length === 32 ? new Uint8Array(key) : undefined;
}

/** What the at-rest JWE is bound to: opened for another ApiKey, generation or key it is refused. */
export const atRestBinding = (s: { apiKeyUid: string; generation: number; keyId: string; hash: string }) =>
  `${s.apiKeyUid}/${s.generation}/${s.keyId}/${s.hash}`;

/** The protected-header field naming the data-key Secret a copy is sealed with (absent: the legacy per-key one). */
const DATA_KEY_HEADER = 'dks';

/**
 * Seals the key at rest with the namespace's 256-bit data key (JWE dir + A256GCM; the header binds it
 * to its copy and names the Secret that opens it).
 */
export function sealAtRest(plaintext: string, dataKey: Uint8Array, binding: string): Promise<string> {
  return new CompactEncrypt(new TextEncoder().encode(plaintext))
    .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', kid: binding, [DATA_KEY_HEADER]: DATA_KEY_SECRET_NAME })
    .encrypt(dataKey);
}

/** Whether a copy was sealed with its namespace's data key (false: with its ApiKey's own, legacy). */
export function sealedWithNamespaceKey(jwe: string): boolean {
  try {
    return decodeProtectedHeader(jwe)[DATA_KEY_HEADER] === DATA_KEY_SECRET_NAME;
  } catch {
    return false;
  }
}

/** Opens what sealAtRest sealed; undefined when the key, the binding or the ciphertext does not match. */
export async function openAtRest(
  jwe: string,
  dataKey: Uint8Array,
  binding: string,
): Promise<string | undefined> {
  try {
    const { plaintext, protectedHeader } = await compactDecrypt(jwe, dataKey);
    return protectedHeader.kid === binding ? new TextDecoder().decode(plaintext) : undefined;
  } catch {
    return undefined;
  }
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
      labels: { [LABELS.managedBy]: MANAGED_BY },
      annotations: {
        [SECRET_ANNOTATIONS.apiKeyNamespace]: ak.metadata.namespace,
        [SECRET_ANNOTATIONS.apiKeyName]: ak.metadata.name,
        // The ownership mark: only a Secret carrying this ApiKey's uid is ever replaced or deleted.
        [SECRET_ANNOTATIONS.apiKeyUid]: ak.metadata.uid,
        [SECRET_ANNOTATIONS.generation]: String(generation),
        [SECRET_ANNOTATIONS.keyId]: keyId,
      },
      // Owner references cannot cross namespaces; a Secret elsewhere is removed by the finalizer.
      ...(sameNamespace
        ? {
            ownerReferences: [ownerReference(ak)],
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
  const uid = a[SECRET_ANNOTATIONS.apiKeyUid];
  if (uid !== undefined) return uid === ak.metadata.uid;
  return (
    secret.metadata.labels?.[LABELS.managedBy] === MANAGED_BY &&
    a[SECRET_ANNOTATIONS.apiKeyName] === ak.metadata.name &&
    a[SECRET_ANNOTATIONS.apiKeyNamespace] === ak.metadata.namespace
  );
}

/** Whether a hash Secret is the one the controller wrote for this ApiKey (owned by its uid). */
export function ownsHashSecret(secret: SecretObject, ak: { metadata: { uid: string } }): boolean {
  return (
    secret.metadata.ownerReferences?.some((o) => o.kind === 'ApiKey' && o.uid === ak.metadata.uid) === true
  );
}
