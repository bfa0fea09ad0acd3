import {
  HASH_RECORD_KEY,
  HASH_RECORD_SIGNATURE_KEY,
  type HashRecord,
  hashSecretName,
  parseHashRecord,
  type RecordKeySet,
  readRecordData,
  recordSignatureValid,
} from '../api/hash-record.ts';
import { SECRET_TYPES } from '../api/metadata.ts';
import {
  compileSources,
  describeValue,
  type Failed,
  failed,
  isCustomer,
  isObjectName,
  ok,
  parseDuration,
  parsePermission,
  parseRfc3339,
  problem,
  type RateLimitConfig,
  type Result,
  type SourceMatcher,
} from '../rules/index.ts';
import { Interner, internList } from './interner.ts';

// A hash record made ready for the hot path: times as epoch milliseconds, sources compiled, the rate
// limit in the shape the token-bucket rules take. Built once per Secret change, read on every request.

export interface StoredKey {
  readonly keyId: string;
  readonly record: HashRecord;
  /** record.hash (and record.previous.hash) as bytes, decoded once. */
  readonly hashBytes: Buffer;
  readonly previousHashBytes: Buffer | undefined;
  readonly expiresAtMs: number;
  readonly previousValidUntilMs: number | undefined;
  readonly sources: SourceMatcher;
  readonly rateLimit: RateLimitConfig | undefined;
  /** `namespace/name` of the hash Secret it came from. */
  readonly secretRef: string;
  /** Changes whenever the record does (the Secret's resourceVersion): for caches keyed on the record. */
  readonly revision: string;
}

export interface SecretLike {
  type?: string;
  data?: Record<string, string>;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    ownerReferences?: { kind: string; name: string; uid: string }[];
  };
}

export type StoredKeyResult = Result<StoredKey>;

/** A refusal that concerns the Secret or record as a whole (its message says what). */
const refuse = (message: string, field = ''): Failed => failed([problem(field, message)]);

/**
 * The exact bytes the controller signed and the signature that came with them (KeyStore verifies it).
 * Bytes, not text: a Buffer's memory is outside V8's heap, so 100,000 records waiting after a load do
 * not make every garbage collection of the load walk them.
 */
export interface SignedRecord {
  readonly bytes: Uint8Array;
  readonly signature: string | undefined;
}

/** A key read from its Secret whose signature is still to be verified (KeyStore.upsert defers it). */
export interface UnverifiedKey {
  readonly key: StoredKey;
  readonly signed: SignedRecord;
}

/**
 * Reads and checks one hash Secret. Refused (never guessed at): a wrong Secret type, a record that
 * does not parse, or a record that does not belong where it sits (its ApiKey's namespace, the hash
 * Secret name the controller gives it, and the owner the controller sets) — a record copied elsewhere
 * must not become a working key. The signature is not checked here: it costs more than all the rest
 * together (an Ed25519 verification, ~50-90 µs), so the key store verifies it later (signatureRefusal),
 * and always before the key is believed.
 */
export function readHashSecret(secret: SecretLike, ref?: string): Result<UnverifiedKey> {
  const ns = secret.metadata.namespace ?? '';
  if (secret.type !== SECRET_TYPES.hash)
    return refuse(`Secret type is ${secret.type ?? '(none)'}, not ${SECRET_TYPES.hash}`);
  const data = readRecordData(secret.data);
  if (!data) return refuse(`Secret has no ${HASH_RECORD_KEY}`);
  // Only the bytes and the signature wait for verification (not the text: it would stay on the heap).
  const signed = { bytes: data.bytes, signature: data.signature };
  const parsed = parseHashRecord(data.text);
  if (!parsed.ok) return parsed;
  const r = parsed.value;
  if (r.apiKey.namespace !== ns)
    return refuse(`record names namespace ${r.apiKey.namespace} but sits in ${ns}`);
  if (hashSecretName(r.apiKey.name) !== secret.metadata.name)
    return refuse(`record names ApiKey ${r.apiKey.name}, whose hash Secret has another name`);
  const owner = secret.metadata.ownerReferences?.find((o) => o.kind === 'ApiKey');
  if (!owner || owner.uid !== r.apiKey.uid || owner.name !== r.apiKey.name) {
    return refuse('Secret is not owned by the ApiKey its record names');
  }
  const key = compileRecord(r, ref ?? `${ns}/${secret.metadata.name}`, secret.metadata.resourceVersion ?? '');
  return key.ok ? ok({ key: key.value, signed }) : key;
}

/** Why a record is not the controller's (anyone who can write a Secret here can write any record); undefined: it is. */
export function signatureRefusal(signed: SignedRecord, recordKeys: RecordKeySet): Failed | undefined {
  if (recordSignatureValid(signed.bytes, signed.signature, recordKeys)) return undefined;
  return refuse(
    `forged or unsigned record: ${signed.signature === undefined ? 'no' : 'an invalid'} ${HASH_RECORD_SIGNATURE_KEY} (not written by the keywarden controller)`,
  );
}

const lists = new Interner<readonly string[]>();
const matchers = new Interner<SourceMatcher | Error>();

export function compileRecord(r: HashRecord, secretRef: string, revision: string): StoredKeyResult {
  const invalid = headerValueProblem(r);
  if (invalid) return refuse(invalid);
  const expires = parseRfc3339(r.expiresAt);
  if (!expires) return refuse('is not RFC 3339', 'expiresAt');
  let previousValidUntilMs: number | undefined;
  if (r.previous) {
    const until = parseRfc3339(r.previous.validUntil);
    if (!until) return refuse('is not RFC 3339', 'previous.validUntil');
    previousValidUntilMs = until.getTime();
  }
  const sources = matchers.get(r.allowedSources.join('\n'), () => {
    try {
      return compileSources(r.allowedSources);
    } catch (err) {
      return err as Error;
    }
  });
  if (sources instanceof Error) return refuse(sources.message, 'allowedSources');
  r.permissions = internList(lists, r.permissions);
  r.customers = internList(lists, r.customers);
  r.allowedSources = internList(lists, r.allowedSources);
  let rateLimit: RateLimitConfig | undefined;
  if (r.rateLimit) {
    const period = parseDuration(r.rateLimit.period);
    const { requests, burst } = r.rateLimit;
    if (!period.ok || period.ms < 1) return refuse('is not a duration', 'rateLimit.period');
    if (
      !Number.isSafeInteger(requests) ||
      requests < 1 ||
      (burst !== undefined && (!Number.isSafeInteger(burst) || burst < 1))
    ) {
      return refuse('requests and burst must be positive integers', 'rateLimit');
    }
    rateLimit = { requests, periodMs: period.ms, ...(burst !== undefined ? { burst } : {}) };
  }
  return ok({
    keyId: r.keyId,
    record: r,
    hashBytes: Buffer.from(r.hash, 'hex'),
    previousHashBytes: r.previous ? Buffer.from(r.previous.hash, 'hex') : undefined,
    expiresAtMs: expires.getTime(),
    previousValidUntilMs,
    sources,
    rateLimit,
    secretRef,
    revision,
  });
}

/**
 * The fields that go upstream in identity headers, held to the rules the API server applies to the
 * ApiKey. A hand-edited hash Secret skips those rules, and a line break in a header value would fail
 * every request with the key (or, written raw, add a header of the Secret author's choosing).
 */
function headerValueProblem(r: HashRecord): string | undefined {
  const { name, namespace } = r.apiKey;
  if (!isObjectName(name)) return `record has an invalid apiKey.name: ${describeValue(name)}`;
  if (!isObjectName(namespace)) return `record has an invalid apiKey.namespace: ${describeValue(namespace)}`;
  const permission = r.permissions.find((p) => !parsePermission(p).ok);
  if (permission !== undefined) return `record has an invalid permission: ${describeValue(permission)}`;
  const customer = r.customers.find((c) => !isCustomer(c));
  if (customer !== undefined) return `record has an invalid customer: ${describeValue(customer)}`;
  return undefined;
}
