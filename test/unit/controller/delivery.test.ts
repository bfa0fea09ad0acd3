import { CompactEncrypt, calculateJwkThumbprint, compactDecrypt, exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { parseRevealRequest, serializeRevealRequest } from '../../../src/api/reveal.ts';
import {
  atRestBinding,
  DATA_KEY_SECRET_NAME,
  dataKeySecret,
  deliverySecret,
  legacyDataKeySecretName,
  openAtRest,
  ownerReference,
  readDataKey,
  sealAtRest,
  sealedWithNamespaceKey,
  sealForRecipient,
} from '../../../src/controller/delivery.ts';

const KEY = 'kwsk_stg_AbCdEfGh1234_secretsecretsecretsecretsecretsec123456';
const AK = {
  apiVersion: 'keywarden.dev/v1alpha1',
  kind: 'ApiKey',
  metadata: { name: 'web', namespace: 'team', uid: 'uid-1' },
  spec: { environment: 'staging' as const },
};
const STAGED = { apiKeyUid: 'uid-1', generation: 2, keyId: 'AbCdEfGh1234', hash: 'h' };

describe('the delivery copy at rest', () => {
  it('holds no plaintext: only a JWE that the data key from the ApiKey namespace opens', async () => {
    const dataKey = new Uint8Array(32).fill(7);
    const sealed = await sealAtRest(KEY, dataKey, atRestBinding(STAGED));
    const copy = deliverySecret('keywarden-system', AK, { ...STAGED, hint: 'x', sealed, expiresAt: 'e' });
    const stored = JSON.stringify(copy);
    expect(stored).not.toContain(KEY);
    expect(stored).not.toContain(Buffer.from(KEY).toString('base64'));
    expect(copy.data?.apiKey).toBeUndefined();
    expect(await openAtRest(sealed, dataKey, atRestBinding(STAGED))).toBe(KEY);
  });

  it('refuses another data key, another binding (ApiKey, generation) and a changed ciphertext', async () => {
    const dataKey = new Uint8Array(32).fill(7);
    const sealed = await sealAtRest(KEY, dataKey, atRestBinding(STAGED));
    expect(await openAtRest(sealed, new Uint8Array(32).fill(8), atRestBinding(STAGED))).toBeUndefined();
    expect(await openAtRest(sealed, dataKey, atRestBinding({ ...STAGED, generation: 3 }))).toBeUndefined();
    expect(
      await openAtRest(sealed, dataKey, atRestBinding({ ...STAGED, apiKeyUid: 'uid-2' })),
    ).toBeUndefined();
    const parts = sealed.split('.');
    parts[3] = `${parts[3]?.[0] === 'A' ? 'B' : 'A'}${parts[3]?.slice(1)}`;
    expect(await openAtRest(parts.join('.'), dataKey, atRestBinding(STAGED))).toBeUndefined();
  });

  it('keeps one data key per namespace, unowned, typed so no validator takes it for a hash', () => {
    const secret = dataKeySecret('team', new Uint8Array(32).fill(1));
    expect(secret.metadata).toMatchObject({ name: DATA_KEY_SECRET_NAME, namespace: 'team' });
    expect(secret.metadata.ownerReferences).toBeUndefined();
    expect(readDataKey(secret)).toEqual(new Uint8Array(32).fill(1));
    // Another type (a Secret someone else made under that name) or a key of the wrong size: none.
    expect(readDataKey({ ...secret, type: 'Opaque' })).toBeUndefined();
    expect(readDataKey({ ...secret, data: { key: Buffer.alloc(16).toString('base64') } })).toBeUndefined();
  });

  it('takes a legacy per-key data key only from a Secret owned by the same ApiKey (uid)', () => {
    const legacy = dataKeySecret('team', new Uint8Array(32).fill(1));
    legacy.metadata.name = legacyDataKeySecretName('web');
    legacy.metadata.ownerReferences = [ownerReference(AK)];
    expect(readDataKey(legacy, 'uid-1')).toEqual(new Uint8Array(32).fill(1));
    expect(readDataKey(legacy, 'uid-other')).toBeUndefined();
    expect(
      readDataKey({ ...legacy, metadata: { ...legacy.metadata, ownerReferences: [] } }, 'uid-1'),
    ).toBeUndefined();
  });

  it('marks what it seals as sealed with the namespace key; a copy sealed before (no mark) is legacy', async () => {
    const dataKey = new Uint8Array(32).fill(7);
    expect(sealedWithNamespaceKey(await sealAtRest(KEY, dataKey, atRestBinding(STAGED)))).toBe(true);
    const legacy = await new CompactEncrypt(new TextEncoder().encode(KEY))
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', kid: atRestBinding(STAGED) })
      .encrypt(dataKey);
    expect(sealedWithNamespaceKey(legacy)).toBe(false);
    expect(await openAtRest(legacy, dataKey, atRestBinding(STAGED))).toBe(KEY);
    expect(sealedWithNamespaceKey('not a jwe')).toBe(false);
  });
});

describe('the reveal request', () => {
  it('round-trips a P-256 public key, and the answer opens only with its private half', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ECDH-ES+A256KW', { crv: 'P-256' });
    const jwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(jwk);
    const text = serializeRevealRequest({
      keyId: 'AbCdEfGh1234',
      generation: 2,
      jwk: { kty: 'EC', crv: 'P-256', x: jwk.x as string, y: jwk.y as string, kid },
    });
    const request = parseRevealRequest(text);
    expect(request).toMatchObject({ keyId: 'AbCdEfGh1234', generation: 2, jwk: { kid } });
    const jwe = await sealForRecipient(KEY, request?.jwk as NonNullable<typeof request>['jwk']);
    expect(jwe).not.toContain(KEY);
    expect(new TextDecoder().decode((await compactDecrypt(jwe, privateKey)).plaintext)).toBe(KEY);
    const other = await generateKeyPair('ECDH-ES+A256KW', { crv: 'P-256' });
    await expect(compactDecrypt(jwe, other.privateKey)).rejects.toThrow();
  });

  it('ignores malformed requests instead of failing the reconcile', () => {
    const good = {
      keyId: 'AbCdEfGh1234',
      generation: 0,
      jwk: { kty: 'EC', crv: 'P-256', x: 'a', y: 'b', kid: 'c' },
    };
    expect(parseRevealRequest(JSON.stringify(good))).toBeDefined();
    for (const bad of [
      undefined,
      '',
      'not json',
      'null',
      JSON.stringify({ ...good, generation: -1 }),
      JSON.stringify({ ...good, keyId: '../x' }),
      JSON.stringify({ ...good, jwk: { ...good.jwk, kty: 'RSA' } }),
      JSON.stringify({ ...good, jwk: { ...good.jwk, crv: 'P-384' } }),
      JSON.stringify({ ...good, jwk: { ...good.jwk, x: 'a'.repeat(2000) } }),
    ]) {
      expect(parseRevealRequest(bad), String(bad)).toBeUndefined();
    }
  });
});
