import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  HASH_RECORD_KEY,
  HASH_RECORD_SIGNATURE_KEY,
  parseRecordKeySet,
  type RecordSigningKey,
  recordKeyId,
  recordKeySetJson,
  recordSignatureValid,
  signRecordText,
} from '../../../src/api/hash-record.ts';
import { problemsLine } from '../../../src/rules/index.ts';
import { KeyStore } from '../../../src/validator/key-store.ts';
import type { SecretLike } from '../../../src/validator/stored-key.ts';
import { makeKey } from '../../support/validator/keys.ts';

// Finding 11: anyone who can write a Secret in a watched namespace can write a hash Secret with any
// labels, owner and record. A validator with the controller's public keys believes only records the
// controller signed, so a forgery neither works nor blocks the real key with the same key id.

function signingKey(): RecordSigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { kid: recordKeyId(publicKey), privateKey, publicKey };
}

const CONTROLLER = signingKey();
const keySet = () => {
  const r = parseRecordKeySet(recordKeySetJson([CONTROLLER.publicKey]));
  if (!r.ok) throw new Error(problemsLine(r.problems));
  return r.value;
};

function signed(secret: SecretLike, key = CONTROLLER): SecretLike {
  const s = structuredClone(secret);
  const text = Buffer.from(s.data?.[HASH_RECORD_KEY] ?? '', 'base64').toString('utf8');
  s.data = {
    ...s.data,
    [HASH_RECORD_SIGNATURE_KEY]: Buffer.from(signRecordText(text, key)).toString('base64'),
  };
  return s;
}

describe('record signatures', () => {
  it('verify the exact bytes with the published key, and nothing else', () => {
    const text = '{"version":1}';
    const sig = signRecordText(text, CONTROLLER);
    expect(recordSignatureValid(text, sig, keySet())).toBe(true);
    expect(recordSignatureValid('{"version":1} ', sig, keySet())).toBe(false);
    expect(recordSignatureValid(text, signRecordText(text, signingKey()), keySet())).toBe(false);
    expect(recordSignatureValid(text, `${CONTROLLER.kid}.`, keySet())).toBe(false);
    expect(recordSignatureValid(text, undefined, keySet())).toBe(false);
  });

  it('take the kid from the key itself, never from the published document', () => {
    const doc = JSON.parse(recordKeySetJson([CONTROLLER.publicKey])) as { keys: { kid: string }[] };
    for (const k of doc.keys) k.kid = 'made-up';
    const r = parseRecordKeySet(JSON.stringify(doc));
    expect(r.ok && [...r.value.keys()]).toEqual([CONTROLLER.kid]);
    expect(parseRecordKeySet('{"keys":[{"kty":"RSA","n":"x","e":"AQAB"}]}').ok).toBe(false);
    expect(parseRecordKeySet('{"keys":[]}').ok).toBe(false);
  });
});

describe('a key store with the record keys', () => {
  it('ignores a forged record claiming a victim key id: the victim still works, the forgery is refused and counted', () => {
    const store = new KeyStore({ recordKeys: keySet() });
    const refused: string[] = [];
    store.on('refused', (_ref, err) => refused.push(err));
    const victim = makeKey({ namespace: 'team-b' });
    store.upsert(signed(victim.secret));
    // The squatter: same key id, its own namespace, owned by its own ApiKey, unsigned or self-signed.
    const forged = makeKey({ namespace: 'team-a', keyId: victim.keyId, permissions: ['admin:*'] });
    store.upsert(structuredClone(forged.secret));
    store.upsert(
      signed(makeKey({ namespace: 'team-a', name: 'other', keyId: victim.keyId }).secret, signingKey()),
    );
    expect(store.get(victim.keyId)?.record.hash).toBe(victim.record.hash);
    expect(store.get(victim.keyId)?.record.permissions).toEqual(['devices:read']);
    // The real Secret edited under a real signature: refused (fails closed) until the controller rewrites it.
    const tampered = signed(victim.secret);
    const text = JSON.stringify({ ...victim.record, permissions: ['admin:*'] });
    tampered.data = { ...tampered.data, [HASH_RECORD_KEY]: Buffer.from(text).toString('base64') };
    store.upsert(tampered);
    expect(store.get(victim.keyId)).toBeUndefined();
    store.upsert(signed(victim.secret));
    expect(store.get(victim.keyId)?.record.hash).toBe(victim.record.hash);
    expect(refused).toEqual([
      expect.stringMatching(/^forged or unsigned record: no record.sig/),
      expect.stringMatching(/^forged or unsigned record: an invalid record.sig/),
      expect.stringMatching(/^forged or unsigned record: an invalid record.sig/),
    ]);
  });

  it('without record keys (no keyStore.recordKeys) believes unsigned records, as before', () => {
    const store = new KeyStore();
    const k = makeKey();
    store.upsert(structuredClone(k.secret));
    expect(store.get(k.keyId)).toBeDefined();
  });
});
