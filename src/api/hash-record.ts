import { createHash, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import {
  ENVIRONMENTS,
  type Environment,
  type Failed,
  failed,
  KEY_TYPES,
  type KeyType,
  ok,
  problem,
  type Result,
} from '../rules/index.ts';
import type { ApiKeySpec } from './index.ts';

// The hash Secret: one per ApiKey, in its namespace, owned by it, type keywarden.dev/key-hash. It holds
// everything a validator needs and never a plaintext key. The record is versioned so validators can
// refuse a format they do not know instead of misreading it.

export const HASH_RECORD_KEY = 'record.json';
const HASH_RECORD_VERSION = 1;
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

/** A record (or record key set) as a whole is refused: one problem with no field. */
const refuse = (message: string): Failed => failed([problem('', message)]);

const HEX64 = /^[0-9a-f]{64}$/;

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === 'string');
}

/** What each field of a record must be, checked on the parsed object. */
const RECORD_FIELDS: [keyof HashRecord, string, (r: Record<string, unknown>) => boolean][] = [
  [
    'keyId',
    'must be 12 base62 characters',
    (r) => typeof r.keyId === 'string' && /^[0-9A-Za-z]{12}$/.test(r.keyId),
  ],
  ['hash', 'must be a lower-case hex SHA-256', (r) => typeof r.hash === 'string' && HEX64.test(r.hash)],
  [
    'previous',
    'must be {hash: a hex SHA-256, validUntil: a time}',
    (r) => {
      const prev = r.previous as { hash?: unknown; validUntil?: unknown } | undefined;
      return (
        prev === undefined ||
        (typeof prev?.hash === 'string' && HEX64.test(prev.hash) && typeof prev.validUntil === 'string')
      );
    },
  ],
  [
    'apiKey',
    'must be {namespace, name, uid}',
    (r) => {
      const ak = r.apiKey as { namespace?: unknown; name?: unknown; uid?: unknown } | undefined;
      return typeof ak?.namespace === 'string' && typeof ak.name === 'string' && typeof ak.uid === 'string';
    },
  ],
  [
    'environment',
    'must be production, staging or development',
    (r) => ENVIRONMENTS.includes(r.environment as Environment),
  ],
  ['type', 'must be public or private', (r) => KEY_TYPES.includes(r.type as KeyType)],
  ['permissions', 'must be a list of strings', (r) => isStringArray(r.permissions)],
  ['allowedSources', 'must be a list of strings', (r) => isStringArray(r.allowedSources)],
  ['customers', 'must be a list of strings', (r) => isStringArray(r.customers)],
  [
    'rateLimit',
    'must be {requests: a number, period: a duration}',
    (r) => {
      const rl = r.rateLimit as { requests?: unknown; period?: unknown } | undefined;
      return rl === undefined || (typeof rl?.requests === 'number' && typeof rl.period === 'string');
    },
  ],
  [
    'expiresAt',
    'must be a time',
    (r) => typeof r.expiresAt === 'string' && !Number.isNaN(Date.parse(r.expiresAt)),
  ],
  ['disabled', 'must be true or false', (r) => typeof r.disabled === 'boolean'],
  ['rotationGeneration', 'must be a number', (r) => typeof r.rotationGeneration === 'number'],
  ['issuedAt', 'must be a string', (r) => typeof r.issuedAt === 'string'],
];

/** Parses and checks a record read from a Secret; a bad one is refused with the reason, never guessed at. */
export function parseHashRecord(text: string): Result<HashRecord> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return refuse('record is not valid JSON');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return refuse('record is not an object');
  const r = raw as Record<string, unknown>;
  if (r.version !== HASH_RECORD_VERSION) {
    return failed([problem('version', `unsupported record version ${String(r.version)}`)]);
  }
  const problems = RECORD_FIELDS.filter(([, , valid]) => !valid(r)).map(([field, why]) =>
    problem(field, why),
  );
  if (problems.length > 0) return failed(problems);
  return ok(r as unknown as HashRecord);
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

/** Whether `signature` is a valid signature of exactly these bytes (the record text's UTF-8) by a key in the set. */
export function recordSignatureValid(
  recordBytes: Uint8Array,
  signature: string | undefined,
  keys: RecordKeySet,
): boolean {
  if (!signature) return false;
  const dot = signature.indexOf('.');
  if (dot <= 0) return false;
  const key = keys.get(signature.slice(0, dot));
  if (!key) return false;
  try {
    return verify(null, recordBytes, key, Buffer.from(signature.slice(dot + 1), 'base64url'));
  } catch {
    return false;
  }
}

/** A hash Secret's record as it was signed: its bytes, their UTF-8 text, and the signature that came with it. */
export interface RecordData {
  bytes: Buffer;
  text: string;
  signature: string | undefined;
}

/** Reads the record and its signature from a hash Secret's data (the controller and validators alike); undefined: no record. */
export function readRecordData(data: Readonly<Record<string, string>> | undefined): RecordData | undefined {
  const record = data?.[HASH_RECORD_KEY];
  if (record === undefined) return undefined;
  const bytes = Buffer.from(record, 'base64');
  const sig = data?.[HASH_RECORD_SIGNATURE_KEY];
  return {
    bytes,
    text: bytes.toString('utf8'),
    signature: sig === undefined ? undefined : Buffer.from(sig, 'base64').toString('utf8'),
  };
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

export function parseRecordKeySet(text: string): Result<RecordKeySet> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return refuse('the record key set is not valid JSON');
  }
  const list = (raw as { keys?: unknown })?.keys;
  if (!Array.isArray(list) || list.length === 0)
    return failed([problem('keys', 'the record key set has no keys')]);
  const keys = new Map<string, KeyObject>();
  for (const [i, jwk] of list.entries()) {
    const j = jwk as { kty?: unknown; crv?: unknown; x?: unknown };
    if (j?.kty !== 'OKP' || j.crv !== 'Ed25519' || typeof j.x !== 'string') {
      return failed([problem(`keys[${i}]`, 'must be an Ed25519 public JWK (kty OKP, crv Ed25519, x)')]);
    }
    let key: KeyObject;
    try {
      key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: j.x }, format: 'jwk' });
    } catch (err) {
      return failed([problem(`keys[${i}].x`, `does not load: ${(err as Error).message}`)]);
    }
    // The kid is recomputed, never taken from the document.
    keys.set(recordKeyId(key), key);
  }
  return ok(keys);
}
