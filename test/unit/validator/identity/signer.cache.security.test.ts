import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKeyPem, JwtSigner } from '../../../../src/validator/identity/signer.ts';
import { SigningKeys } from '../../../../src/validator/identity/signing-keys.ts';
import { KeyStore } from '../../../../src/validator/key-store.ts';
import { rawRequest } from '../../../support/http/raw-http.ts';
import { type Harness, startHarness } from '../../../support/validator/in-process.ts';
import { changed, makeKey, stored } from '../../../support/validator/keys.ts';

// The identity JWT is signed once per key and reused while more than half its lifetime remains.
// Actor: anyone whose key changes under a cached token (disabled, narrowed, regenerated), or an
// operator rotating the signing key. Must never: get a token for a disabled key, a token that names
// permissions the key no longer has, a token signed with a retired signing key after the switch, or
// a token that outlives the key itself.

const TTL_MS = 60_000;
const opts = { issuer: 'kw-cache', ttlMs: TTL_MS };

describe('JWT reuse', () => {
  it('reuses the token until half its lifetime has passed, then signs a new one', async () => {
    const signer = await JwtSigner.fromPem(generateSigningKeyPem(), opts);
    const key = stored(new KeyStore(), makeKey());
    const t0 = Date.now();
    const first = await signer.token(key, t0);
    expect(await signer.token(key, t0 + 5_000)).toBe(first);
    expect(await signer.token(key, t0 + TTL_MS / 2 - 1)).toBe(first);
    const fresh = await signer.token(key, t0 + TTL_MS / 2);
    expect(decodeJwt(fresh).iat).toBe(Math.floor((t0 + TTL_MS / 2) / 1000));
  });

  it('concurrent first requests for a key sign once and get the same token', async () => {
    const signer = await JwtSigner.fromPem(generateSigningKeyPem(), opts);
    const key = stored(new KeyStore(), makeKey());
    const now = Date.now();
    const tokens = await Promise.all(Array.from({ length: 20 }, (_, i) => signer.token(key, now + i)));
    expect(new Set(tokens).size).toBe(1);
  });

  it('any change to the key record starts a fresh token that states the change', async () => {
    const signer = await JwtSigner.fromPem(generateSigningKeyPem(), opts);
    const store = new KeyStore();
    const k = makeKey({ permissions: ['devices:read', 'devices:write'], customers: ['acme'] });
    const now = Date.now();
    const before = decodeJwt(await signer.token(stored(store, k), now));
    expect(before.permissions).toEqual(['devices:read', 'devices:write']);
    // Narrowed a second later: the cached token (still in its first half) must not be served.
    const narrowed = changed(k, { permissions: ['devices:read'], customers: [] });
    const after = decodeJwt(await signer.token(stored(store, narrowed), now + 1_000));
    expect(after.permissions).toEqual(['devices:read']);
    expect(after.customers).toEqual([]);
    expect(after.iat).toBe(Math.floor((now + 1_000) / 1000));
  });

  it('a token never outlives its key: exp is capped at expiresAt, and it is not reused past it', async () => {
    const signer = await JwtSigner.fromPem(generateSigningKeyPem(), opts);
    const now = Date.now();
    const expiresAt = new Date(Math.floor(now / 1000) * 1000 + 10_000).toISOString();
    const key = stored(new KeyStore(), makeKey({ expiresAt }));
    const token = decodeJwt(await signer.token(key, now));
    expect(token.exp).toBe(Date.parse(expiresAt) / 1000);
    const later = await signer.token(key, Date.parse(expiresAt));
    expect(decodeJwt(later).iat).toBe(Date.parse(expiresAt) / 1000);
  });

  it('a rotated signing key signs the very next token, even for a key with a cached one', async () => {
    const keys = new SigningKeys(opts, (m) => {
      throw new Error(m);
    });
    await keys.load(generateSigningKeyPem());
    const key = stored(new KeyStore(), makeKey());
    const now = Date.now();
    const oldKid = keys.signer?.kid;
    const before = await keys.signer?.token(key, now);
    expect(decodeProtectedHeader(before ?? '').kid).toBe(oldKid);
    await keys.load(generateSigningKeyPem());
    const after = await keys.signer?.token(key, now + 1);
    expect(keys.signer?.kid).not.toBe(oldKid);
    expect(decodeProtectedHeader(after ?? '').kid).toBe(keys.signer?.kid);
  });
});

describe('JWT reuse through the validator', () => {
  const k = makeKey({ permissions: ['devices:read'] });
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness([k]);
  });
  afterAll(async () => h?.close());

  const authz = () =>
    rawRequest(
      h.validator.internalPort,
      `GET /authz/traefik HTTP/1.1\r\nHost: x\r\nX-API-Key: ${k.key}\r\nX-Forwarded-Method: GET\r\nX-Forwarded-Uri: /v1/devices/1\r\nConnection: close\r\n\r\n`,
    );

  it("a disabled key's cached token is never served; enabled again, it gets a token of its new record", async () => {
    const first = await authz();
    expect(first.status).toBe(200);
    const cached = first.headers['x-keywarden-jwt'] ?? '';
    expect((await authz()).headers['x-keywarden-jwt']).toBe(cached);

    h.validator.store.upsert(changed(k, { disabled: true }).secret);
    const refused = await authz();
    expect(refused.status).toBe(401);
    expect(refused.headers['x-keywarden-jwt']).toBeUndefined();
    expect(JSON.stringify(refused)).not.toContain(cached);

    // Enabled again with a narrower customer list: the token states the record as it is now.
    h.validator.store.upsert(changed(k, { disabled: false, customers: ['acme'] }).secret);
    const again = await authz();
    expect(again.status).toBe(200);
    expect(decodeJwt(again.headers['x-keywarden-jwt'] ?? '').customers).toEqual(['acme']);
  });
});
