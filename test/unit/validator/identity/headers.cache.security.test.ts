import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  identityHeaderPairs,
  identityHeaders,
  isIdentityHeader,
} from '../../../../src/validator/identity/headers.ts';
import { generateSigningKeyPem, JwtSigner } from '../../../../src/validator/identity/signer.ts';
import { KeyStore } from '../../../../src/validator/key-store.ts';
import { call } from '../../../support/http/client.ts';
import { type Harness, startHarness } from '../../../support/validator/in-process.ts';
import { changed, makeKey, stored, type TestKey } from '../../../support/validator/keys.ts';

// The forward-auth answer's identity headers are rendered from the stored key per answer (its lists
// joined once per interned list), and the signed JWT is read without waiting once it is signed. Actor: a holder of a low-privilege key, requesting between
// the requests of a privileged key, or whose key is narrowed or disabled under a cached rendering.
// Must never: get another key's identity or JWT, or an identity or JWT older than the key's record.

const asObject = (pairs: string[]) => {
  const o: Record<string, string> = {};
  for (let i = 0; i < pairs.length; i += 2) o[pairs[i] as string] = pairs[i + 1] as string;
  return o;
};

describe('identity headers as the flat list of the forward-auth answer', () => {
  it('two keys asked in turn each get only their own identity, as identityHeaders states it', () => {
    const store = new KeyStore();
    const admin = stored(
      store,
      makeKey({ permissions: ['admin:write', 'devices:read'], customers: ['acme', 'globex'] }),
    );
    const low = stored(store, makeKey({ permissions: ['devices:read'], customers: ['acme'] }));
    for (let i = 0; i < 3; i++) {
      for (const [k, ip, jwt] of [
        [admin, '203.0.113.1', 'admin.jwt'],
        [low, '198.51.100.9', 'low.jwt'],
      ] as const) {
        const pairs = identityHeaderPairs(k, ip, jwt);
        expect(asObject(pairs)).toEqual(identityHeaders(k, ip, jwt));
        expect(pairs).toHaveLength(18);
        expect(pairs.filter((_, j) => j % 2 === 0).every(isIdentityHeader)).toBe(true);
        expect(asObject(pairs)['X-Keywarden-Key-Id']).toBe(k.keyId);
        expect(asObject(pairs)['X-Keywarden-Permissions']).toBe(k.record.permissions.join(','));
        expect(asObject(pairs)['X-Keywarden-Client-Ip']).toBe(ip);
        expect(asObject(pairs)['X-Keywarden-Jwt']).toBe(jwt);
      }
    }
    // Each answer has its own list: changing one never changes what the next caller gets.
    identityHeaderPairs(low, undefined, undefined).push('X-Keywarden-Permissions', 'admin:write');
    identityHeaderPairs(low, undefined, undefined)[11] = 'admin:write';
    expect(asObject(identityHeaderPairs(low, undefined, undefined))['X-Keywarden-Permissions']).toBe(
      'devices:read',
    );
  });

  it('a narrowed or regenerated key is rendered from its new record, never an earlier one', () => {
    const store = new KeyStore();
    const k = makeKey({ permissions: ['devices:read', 'devices:write'], customers: ['acme', 'globex'] });
    const before = stored(store, k);
    expect(asObject(identityHeaderPairs(before, undefined, undefined))['X-Keywarden-Permissions']).toBe(
      'devices:read,devices:write',
    );
    const after = stored(store, changed(k, { permissions: ['devices:read'], customers: ['acme'] }));
    expect(after).not.toBe(before);
    const now = asObject(identityHeaderPairs(after, undefined, undefined));
    expect(now['X-Keywarden-Permissions']).toBe('devices:read');
    expect(now['X-Keywarden-Customers']).toBe('acme');
  });
});

describe('the signed JWT read without waiting', () => {
  const opts = { issuer: 'kw-cache', ttlMs: 60_000 };

  it('is there only once signed and while fresh, and never for a changed key', async () => {
    const signer = await JwtSigner.fromPem(generateSigningKeyPem(), opts);
    const store = new KeyStore();
    const k = makeKey({ permissions: ['devices:read', 'devices:write'] });
    const key = stored(store, k);
    const t0 = Date.now();
    expect(signer.signedToken(key, t0)).toBeUndefined();
    const pending = signer.token(key, t0);
    expect(signer.signedToken(key, t0)).toBeUndefined();
    const token = await pending;
    expect(signer.signedToken(key, t0 + 1000)).toBe(token);
    // Half its lifetime gone: token() signs again, so the signed one is no longer offered.
    expect(signer.signedToken(key, t0 + opts.ttlMs / 2)).toBeUndefined();
    const other = stored(store, makeKey());
    expect(signer.signedToken(other, t0 + 1000)).toBeUndefined();
    const narrowed = stored(store, changed(k, { permissions: ['devices:read'] }));
    expect(signer.signedToken(narrowed, t0 + 1000)).toBeUndefined();
    expect(decodeJwt(await signer.token(narrowed, t0 + 1000)).permissions).toEqual(['devices:read']);
  });
});

describe('through the forward-auth door', () => {
  const admin = makeKey({ permissions: ['devices:read', 'admin:write'], customers: ['acme', 'globex'] });
  const low = makeKey({ permissions: ['devices:read'], customers: ['acme'] });
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness([admin, low]);
  });
  afterAll(async () => h?.close());

  const ask = (k: TestKey) =>
    call(h.validator.internalPort, {
      method: 'GET',
      path: '/authz/traefik',
      headers: { 'x-api-key': k.key, 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/v1/devices/1' },
    });

  it('interleaved keys each get their own identity and JWT, concurrently and in turn', async () => {
    for (let round = 0; round < 3; round++) {
      const answers = await Promise.all(
        [admin, low, admin, low, low, admin].map(async (k) => [k, await ask(k)] as const),
      );
      for (const [k, r] of answers) {
        expect(r.status).toBe(200);
        expect(r.headers['x-keywarden-key-id']).toBe(k.keyId);
        expect(r.headers['x-keywarden-permissions']).toBe(k.record.permissions.join(','));
        const claims = decodeJwt(String(r.headers['x-keywarden-jwt']));
        expect(claims.sub).toBe(k.keyId);
        expect(claims.permissions).toEqual(k.record.permissions);
      }
    }
  });

  it('a key narrowed after its answers were cached is answered with the narrowed identity and a new JWT', async () => {
    const first = await ask(low);
    expect(first.headers['x-keywarden-customers']).toBe('acme');
    h.validator.store.upsert(structuredClone(changed(low, { customers: ['globex'] }).secret));
    const next = await ask(low);
    expect(next.status).toBe(200);
    expect(next.headers['x-keywarden-customers']).toBe('globex');
    expect(next.headers['x-keywarden-jwt']).not.toBe(first.headers['x-keywarden-jwt']);
    expect(decodeJwt(String(next.headers['x-keywarden-jwt'])).customers).toEqual(['globex']);
    h.validator.store.upsert(structuredClone(changed(low, { customers: ['globex'], disabled: true }).secret));
    expect((await ask(low)).status).toBe(401);
  });
});
