import { createHash, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import type { ApiKeySpec } from './index.ts';

// The hash Secret: one per ApiKey, in its namespace, owned by it, type keywarden.dev/key-hash. It holds
// everything a validator needs and never a plaintext key. The record is versioned so validators can
// refuse a format they do not know instead of misreading it.

export const HASH_SECRET_TYPE = 'keywarden.dev/key-hash';
export const HASH_RECORD_KEY = 'record.json';
export const HASH_RECORD_VERSION = 1;
/**
 * `<kid>.<base64url Ed25519 signature>` over the exact bytes of record.json, by the controller's record
 * signing key. Anyone who can write Secrets in a namespace can write a hash Secret with any labels,
 * owner and record; only the controller can sign one, so validators believe only signed records.
 */
export const HASH_RECORD_SIGNATURE_KEY = 'record.sig';
/** The ConfigMap (in the operator's namespace) with the public keys validators verify records with. */
export const RECORD_KEYS_CONFIGMAP = 'keywarden-record-keys';
/** Its data key: a JWKS of Ed25519 public keys. */
export const RECORD_KEYS_KEY = 'keys.json';
export const COMPONENT_LABEL = 'keywarden.dev/component';
export const HASH_COMPONENT = 'key-hash';
export const DELIVERY_COMPONENT = 'delivery';

export interface HashRecord {
  version: 1;
  keyId: string;
  /** SHA-256 (hex) of the current full key string. */
  hash: string;
  /** During a regeneration grace period: the previous key's hash and when it stops working. */
  previous?: { hash: string; validUntil: string };
  apiKey: { namespace: string; name: string; uid: string };
  environment: ApiKeySpec['environment'];
  type: NonNullable<ApiKeySpec['type']>;
  permissions: string[];
  allowedSources: string[];
  rateLimit?: { requests: number; period: string; burst?: number };
  customers: string[];
  expiresAt: string;
  disabled: boolean;
  /** spec.rotation.generation this hash was minted for. */
  rotationGeneration: number;
  issuedAt: string;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

const HEX64 = /^[0-9a-f]{64}$/;

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === 'string');
}

/** Parses and checks a record read from a Secret; a bad one is refused with the reason, never guessed at. */
export function parseHashRecord(text: string): ParseResult<HashRecord> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, error: 'record is not valid JSON' };
  }
  if (typeof raw !== 'object' || raw === null) return { ok: false, error: 'record is not an object' };
  const r = raw as Record<string, unknown>;
  if (r.version !== HASH_RECORD_VERSION)
    return { ok: false, error: `unsupported record version ${String(r.version)}` };
  const problems: string[] = [];
  if (typeof r.keyId !== 'string' || !/^[0-9A-Za-z]{12}$/.test(r.keyId)) problems.push('keyId');
  if (typeof r.hash !== 'string' || !HEX64.test(r.hash)) problems.push('hash');
  const prev = r.previous as { hash?: unknown; validUntil?: unknown } | undefined;
  if (
    prev !== undefined &&
    (typeof prev?.hash !== 'string' || !HEX64.test(prev.hash) || typeof prev.validUntil !== 'string')
  )
    problems.push('previous');
  const ak = r.apiKey as { namespace?: unknown; name?: unknown; uid?: unknown } | undefined;
  if (typeof ak?.namespace !== 'string' || typeof ak.name !== 'string' || typeof ak.uid !== 'string')
    problems.push('apiKey');
  if (!['production', 'staging', 'development'].includes(r.environment as string))
    problems.push('environment');
  if (!['public', 'private'].includes(r.type as string)) problems.push('type');
  if (!isStringArray(r.permissions)) problems.push('permissions');
  if (!isStringArray(r.allowedSources)) problems.push('allowedSources');
  if (!isStringArray(r.customers)) problems.push('customers');
  const rl = r.rateLimit as { requests?: unknown; period?: unknown; burst?: unknown } | undefined;
  if (rl !== undefined && (typeof rl?.requests !== 'number' || typeof rl.period !== 'string'))
    problems.push('rateLimit');
  if (typeof r.expiresAt !== 'string' || Number.isNaN(Date.parse(r.expiresAt))) problems.push('expiresAt');
  if (typeof r.disabled !== 'boolean') problems.push('disabled');
  if (typeof r.rotationGeneration !== 'number') problems.push('rotationGeneration');
  if (typeof r.issuedAt !== 'string') problems.push('issuedAt');
  if (problems.length > 0) return { ok: false, error: `record has invalid fields: ${problems.join(', ')}` };
  return { ok: true, value: r as unknown as HashRecord };
}

export function serializeHashRecord(record: HashRecord): string {
  return JSON.stringify(record);
}

/** Name of the hash Secret for an ApiKey: readable, and within the 253-character limit. */
export function hashSecretName(apiKeyName: string): string {
  const name = `${apiKeyName}.keywarden-hash`;
  return name.length <= 253 ? name : `${apiKeyName.slice(0, 200)}.${shortHash(apiKeyName)}.keywarden-hash`;
}

/** Name of the one-time delivery Secret in the operator's namespace. */
export function deliverySecretName(namespace: string, apiKeyName: string): string {
  const name = `${namespace}.${apiKeyName}.delivery`;
  return name.length <= 253
    ? name
    : `${namespace}.${apiKeyName.slice(0, 150)}.${shortHash(`${namespace}/${apiKeyName}`)}.delivery`;
}

function shortHash(s: string): string {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619) >>> 0;
  return h.toString(36);
}

/** The private half held by the controller, with its kid (derived from the public key). */
export interface RecordSigningKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** Verification keys by kid. */
export type RecordKeySet = ReadonlyMap<string, KeyObject>;

/** A stable kid: the first 16 base64url characters of the SHA-256 of the public key (SPKI DER). */
export function recordKeyId(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64url').slice(0, 16);
}

export function signRecordText(recordText: string, key: RecordSigningKey): string {
  return `${key.kid}.${sign(null, Buffer.from(recordText, 'utf8'), key.privateKey).toString('base64url')}`;
}

/** Whether `signature` is a valid signature of exactly these bytes by a key in the set. */
export function recordSignatureValid(
  recordText: string,
  signature: string | undefined,
  keys: RecordKeySet,
): boolean {
  if (!signature) return false;
  const dot = signature.indexOf('.');
  if (dot <= 0) return false;
  const key = keys.get(signature.slice(0, dot));
  if (!key) return false;
  try {
    return verify(
      null,
      Buffer.from(recordText, 'utf8'),
      key,
      Buffer.from(signature.slice(dot + 1), 'base64url'),
    );
  } catch {
    return false;
  }
}

/** The JWKS validators read (public keys only). */
export function recordKeySetJson(keys: readonly KeyObject[]): string {
  return JSON.stringify({
    keys: keys.map((k) => ({
      ...k.export({ format: 'jwk' }),
      kid: recordKeyId(k),
      use: 'sig',
      alg: 'EdDSA',
    })),
  });
}

export function parseRecordKeySet(text: string): ParseResult<RecordKeySet> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, error: 'the record key set is not valid JSON' };
  }
  const list = (raw as { keys?: unknown })?.keys;
  if (!Array.isArray(list) || list.length === 0)
    return { ok: false, error: 'the record key set has no keys' };
  const keys = new Map<string, KeyObject>();
  for (const jwk of list) {
    const j = jwk as { kty?: unknown; crv?: unknown; x?: unknown };
    if (j?.kty !== 'OKP' || j.crv !== 'Ed25519' || typeof j.x !== 'string')
      return { ok: false, error: 'every record key must be an Ed25519 public JWK (kty OKP, crv Ed25519, x)' };
    let key: KeyObject;
    try {
      key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: j.x }, format: 'jwk' });
    } catch (err) {
      return { ok: false, error: `a record key does not load: ${(err as Error).message}` };
    }
    // The kid is recomputed, never taken from the document.
    keys.set(recordKeyId(key), key);
  }
  return { ok: true, value: keys };
}
