import { randomUUID } from 'node:crypto';
import type { DecisionEvent, Door } from '../../../src/api/events.ts';
import { HASH_RECORD_KEY, type HashRecord, hashSecretName } from '../../../src/api/hash-record.ts';
import { SECRET_TYPES } from '../../../src/api/metadata.ts';
import { type Environment, generateKey, hashKey, type KeyType, parseKey } from '../../../src/rules/index.ts';
import type { KeyStore } from '../../../src/validator/key-store.ts';
import type { SecretLike, StoredKey } from '../../../src/validator/stored-key.ts';

// Keys and hash Secrets shaped exactly as the controller writes them, for tests without a cluster.

export interface TestKey {
  key: string;
  keyId: string;
  record: HashRecord;
  secret: SecretLike;
}

let rv = 1;

export function makeKey(
  overrides: Partial<Omit<HashRecord, 'keyId' | 'hash' | 'apiKey'>> & {
    name?: string;
    namespace?: string;
    type?: KeyType;
    keyId?: string;
  } = {},
): TestKey {
  const environment: Environment = overrides.environment ?? 'production';
  const type: KeyType = overrides.type ?? 'private';
  const key = generateKey({ type, environment, ...(overrides.keyId ? { keyId: overrides.keyId } : {}) });
  const parsed = parseKey(key);
  if (!parsed.ok) throw new Error('generated key does not parse');
  const name = overrides.name ?? `key-${parsed.key.keyId.toLowerCase()}`;
  const namespace = overrides.namespace ?? 'team-a';
  const record: HashRecord = {
    version: 1,
    keyId: parsed.key.keyId,
    hash: hashKey(key),
    apiKey: { namespace, name, uid: randomUUID() },
    environment,
    type,
    permissions: overrides.permissions ?? ['devices:read'],
    allowedSources: overrides.allowedSources ?? [],
    customers: overrides.customers ?? [],
    expiresAt: overrides.expiresAt ?? new Date(Date.now() + 30 * 86_400_000).toISOString(),
    disabled: overrides.disabled ?? false,
    rotationGeneration: overrides.rotationGeneration ?? 0,
    issuedAt: overrides.issuedAt ?? new Date().toISOString(),
    ...(overrides.rateLimit ? { rateLimit: overrides.rateLimit } : {}),
    ...(overrides.previous ? { previous: overrides.previous } : {}),
  };
  return { key, keyId: record.keyId, record, secret: secretFor(record) };
}

export function secretFor(record: HashRecord): SecretLike {
  return {
    type: SECRET_TYPES.hash,
    metadata: {
      name: hashSecretName(record.apiKey.name),
      namespace: record.apiKey.namespace,
      uid: randomUUID(),
      resourceVersion: String(rv++),
      ownerReferences: [{ kind: 'ApiKey', name: record.apiKey.name, uid: record.apiKey.uid }],
    },
    data: { [HASH_RECORD_KEY]: Buffer.from(JSON.stringify(record)).toString('base64') },
  };
}

/** A decision event as the gate records it: a proven key names its ApiKey. */
export function decisionEvent(
  door: Door,
  reason: string,
  environment: string | undefined,
  provenKeyId?: string,
): DecisionEvent {
  return {
    timeMs: 0,
    door,
    keyId: provenKeyId,
    environment,
    method: 'GET',
    path: '/',
    status: reason === 'ok' ? 200 : 401,
    reason,
    clientIp: undefined,
    latencyMs: 0.1,
    apiKeyNamespace: provenKeyId ? 'team-a' : undefined,
    apiKeyName: provenKeyId ? 'k' : undefined,
  };
}

/** Puts the key's hash Secret in `store` and returns what the store made of it. */
export function stored(store: KeyStore, k: TestKey): StoredKey {
  store.upsert(structuredClone(k.secret));
  const s = store.get(k.keyId);
  if (!s) throw new Error('key not stored');
  return s;
}

/** The key as the controller would write it next: a new record version with `change` applied. */
export function changed(k: TestKey, change: Partial<TestKey['record']>): TestKey {
  const record = { ...k.record, ...change };
  return { ...k, record, secret: secretFor(record) };
}
