import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
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
import type { KubeRest } from '../../../src/kube/rest.ts';
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
    const bytes = Buffer.from(text, 'utf8');
    const sig = signRecordText(text, CONTROLLER);
    expect(recordSignatureValid(bytes, sig, keySet())).toBe(true);
    expect(recordSignatureValid(Buffer.from('{"version":1} ', 'utf8'), sig, keySet())).toBe(false);
    expect(recordSignatureValid(bytes, signRecordText(text, signingKey()), keySet())).toBe(false);
    expect(recordSignatureValid(bytes, `${CONTROLLER.kid}.`, keySet())).toBe(false);
    expect(recordSignatureValid(bytes, undefined, keySet())).toBe(false);
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

  it('verifies off the load: records wait, believed by nothing, until the background pass believes the signed and counts the forged', async () => {
    const store = new KeyStore({ recordKeys: keySet() });
    const refused: string[] = [];
    store.on('refused', (ref) => refused.push(ref));
    const real = Array.from({ length: 150 }, (_, i) => makeKey({ name: `k-${i}` }));
    for (const k of real) store.upsert(signed(k.secret));
    const forged = makeKey({ name: 'forged', permissions: ['admin:*'] });
    store.upsert(structuredClone(forged.secret));
    expect(store.unverified).toBe(151);
    expect(store.size).toBe(0);
    expect([...store.keys()]).toEqual([]);
    await store.verified();
    expect(store.unverified).toBe(0);
    expect(store.size).toBe(150);
    expect(refused).toEqual([`${forged.secret.metadata.namespace}/${forged.secret.metadata.name}`]);
    expect(store.refusedCount).toBe(1);
    expect(store.get(forged.keyId)).toBeUndefined();
  });

  it('leaves verifying in the background until the first list is complete (the load keeps the CPU); a lookup verifies meanwhile', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keywarden-record-keys-'));
    const file = join(dir, 'keys.json');
    writeFileSync(file, recordKeySetJson([CONTROLLER.publicKey]));
    let answerList: (page: unknown) => void = () => {};
    // A stand-in for the API server whose LIST answers when the test says so.
    const rest = {
      kc: new KubeConfig(),
      request: () => new Promise((resolve) => (answerList = resolve)),
    } as unknown as KubeRest;
    const store = KeyStore.watching(rest, {
      namespaces: ['team-a'],
      labelSelector: 'x',
      recordKeys: { file },
    });
    try {
      store.start();
      const [a, b] = [makeKey({ name: 'a' }), makeKey({ name: 'b' })];
      store.upsert(signed(a.secret));
      store.upsert(signed(b.secret));
      await new Promise((r) => setTimeout(r, 20));
      expect(store.unverified).toBe(2);
      expect(store.get(a.keyId)?.record.hash).toBe(a.record.hash);
      expect(store.unverified).toBe(1);
      answerList({ metadata: { resourceVersion: '1' }, items: [] });
      await store.verified();
      expect(store.size).toBe(2);
    } finally {
      store.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('attack: a lookup before the background pass verifies every claimant first: a forgery planted before the real record never answers, nor blocks it', () => {
    const store = new KeyStore({ recordKeys: keySet() });
    const victim = makeKey({ namespace: 'team-b' });
    store.upsert(
      structuredClone(makeKey({ namespace: 'team-a', keyId: victim.keyId, permissions: ['admin:*'] }).secret),
    );
    expect(store.get(victim.keyId)).toBeUndefined();
    store.upsert(signed(victim.secret));
    // Same turn of the event loop: the background pass has not run.
    expect(store.unverified).toBe(1);
    expect(store.get(victim.keyId)?.record.permissions).toEqual(['devices:read']);
    expect(store.refusedCount).toBe(1);
    store.stop();
  });

  it('attack: a believed record replaced by a forged one stops counting at once; a listener told of an honest update sees the new record', () => {
    const store = new KeyStore({ recordKeys: keySet() });
    const k = makeKey({ permissions: ['devices:read'] });
    store.upsert(signed(k.secret));
    expect(store.get(k.keyId)).toBeDefined();
    const seen: (string[] | undefined)[] = [];
    store.on('changed', (id) => seen.push(store.get(id)?.record.permissions));
    const edited = makeKey({ keyId: k.keyId, permissions: ['devices:read', 'devices:write'] });
    store.upsert(signed({ ...edited.secret, metadata: { ...edited.secret.metadata, resourceVersion: '2' } }));
    expect(seen[0]).toEqual(['devices:read', 'devices:write']);
    const forged = structuredClone(k.secret);
    forged.data = {
      ...forged.data,
      [HASH_RECORD_KEY]: Buffer.from(JSON.stringify({ ...k.record, permissions: ['admin:*'] })).toString(
        'base64',
      ),
    };
    store.upsert(signed(forged, signingKey()));
    expect(store.get(k.keyId)).toBeUndefined();
    expect(store.refusedCount).toBe(1);
    store.stop();
  });

  it('without record keys (no keyStore.recordKeys) believes unsigned records, as before', () => {
    const store = new KeyStore();
    const k = makeKey();
    store.upsert(structuredClone(k.secret));
    expect(store.get(k.keyId)).toBeDefined();
  });
});
