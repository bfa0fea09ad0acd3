import {
  HASH_RECORD_KEY,
  HASH_RECORD_SIGNATURE_KEY,
  type HashRecord,
  hashSecretName,
  parseHashRecord,
  type RecordSigningKey,
  readRecordData,
  recordSignatureValid,
  serializeHashRecord,
  signRecordText,
} from '../api/hash-record.ts';
import { COMPONENTS, LABELS, MANAGED_BY, SECRET_ANNOTATIONS, SECRET_TYPES } from '../api/metadata.ts';
import { defaultExpiry, formatRfc3339, normalizePermissions, normalizeSources } from '../rules/index.ts';
import { ownerReference, ownsHashSecret, type SecretObject } from './delivery.ts';
import type { LiveApiKey } from './plan-types.ts';

// The hash Secret of an ApiKey: the record the spec asks for, the record we trust in a Secret found in
// the tenant's namespace, and the signed Secret that holds it.

type RecordBase = Pick<HashRecord, 'keyId' | 'hash' | 'rotationGeneration' | 'issuedAt' | 'previous'>;

/** The record the spec asks for (keyId, hash and generation come from the mint, not the spec). */
export function buildRecord(
  ak: LiveApiKey,
  base: Partial<RecordBase> & Pick<RecordBase, 'issuedAt'>,
): HashRecord {
  const spec = ak.spec;
  // The webhook defaults expiresAt; without it the key still gets the default lifetime, never none.
  const expiresAt =
    spec.expiresAt ?? ak.status?.expiresAt ?? formatRfc3339(defaultExpiry(new Date(base.issuedAt)));
  return {
    version: 1,
    keyId: base.keyId ?? '',
    hash: base.hash ?? '',
    ...(base.previous ? { previous: base.previous } : {}),
    apiKey: { namespace: ak.metadata.namespace, name: ak.metadata.name, uid: ak.metadata.uid },
    environment: spec.environment,
    type: spec.type ?? 'private',
    permissions: normalizePermissions(spec.permissions ?? []),
    allowedSources: normalizedSources(spec.allowedSources ?? []),
    ...(spec.rateLimit ? { rateLimit: { ...spec.rateLimit } } : {}),
    customers: [...(spec.customers ?? [])],
    expiresAt: formatRfc3339(new Date(expiresAt)),
    disabled: spec.disabled === true,
    rotationGeneration: base.rotationGeneration ?? 0,
    issuedAt: base.issuedAt,
  };
}

/**
 * The record in this ApiKey's hash Secret, if the controller wrote it: signed by our key, or (written
 * before records were signed) unsigned with the key id and generation status already names. Anything
 * else (a tenant can write any Secret in its namespace) is ignored: never a source of a key id, hash
 * or previous hash, and overwritten with a signed record.
 */
export function trustedRecord(
  ak: LiveApiKey,
  secret: SecretObject,
  key: RecordSigningKey,
): { record: HashRecord; signed: boolean } | undefined {
  const data = readRecordData(secret.data);
  if (!data || !ownsHashSecret(secret, ak)) return undefined;
  const parsed = parseHashRecord(data.text);
  if (!parsed.ok || parsed.value.apiKey.uid !== ak.metadata.uid) return undefined;
  if (recordSignatureValid(data.bytes, data.signature, new Map([[key.kid, key.publicKey]])))
    return { record: parsed.value, signed: true };
  const legacy =
    data.signature === undefined &&
    parsed.value.keyId === ak.status?.keyId &&
    parsed.value.rotationGeneration === (ak.status?.rotationGeneration ?? 0);
  return legacy ? { record: parsed.value, signed: false } : undefined;
}

/** The hash Secret holding this record, signed. */
export function hashSecretBody(ak: LiveApiKey, record: HashRecord, key: RecordSigningKey): SecretObject {
  const text = serializeHashRecord(record);
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: SECRET_TYPES.hash,
    metadata: {
      name: hashSecretName(ak.metadata.name),
      namespace: ak.metadata.namespace,
      labels: {
        [LABELS.component]: COMPONENTS.hash,
        [LABELS.environment]: record.environment,
        [LABELS.managedBy]: MANAGED_BY,
      },
      annotations: {
        [SECRET_ANNOTATIONS.apiKeyName]: ak.metadata.name,
        [SECRET_ANNOTATIONS.keyId]: record.keyId,
      },
      ownerReferences: [ownerReference(ak)],
    },
    data: {
      [HASH_RECORD_KEY]: Buffer.from(text).toString('base64'),
      [HASH_RECORD_SIGNATURE_KEY]: Buffer.from(signRecordText(text, key)).toString('base64'),
    },
  };
}

/** The CRD's CEL rule already refused malformed sources; should one slip through, keep it as written (it matches nothing). */
function normalizedSources(list: string[]): string[] {
  const r = normalizeSources(list);
  return r.ok ? r.sources : [...list];
}
