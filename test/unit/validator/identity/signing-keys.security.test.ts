import { writeFileSync } from 'node:fs';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKeyPem } from '../../../../src/validator/identity/signer.ts';
import { rawRequest } from '../../../support/http/raw-http.ts';
import { type Harness, startHarness } from '../../../support/validator/in-process.ts';
import { makeKey } from '../../../support/validator/keys.ts';

// The JWT signing key's rotation with tokens in flight. The validator re-reads a file-sourced key
// (the mounted Secret) when it changes (polled every 10 s; a Secret source is watched and immediate),
// and keeps the old public key in the JWKS for one token lifetime plus a minute, so a token signed just
// before the switch still verifies at the upstream after it.

const good = makeKey({ permissions: ['devices:read'] });
let h: Harness;

beforeAll(async () => {
  h = await startHarness([good]);
});
afterAll(async () => h?.close());

const authz = async () => {
  const r = await rawRequest(
    h.validator.internalPort,
    `GET /authz/traefik HTTP/1.1\r\nHost: x\r\nX-API-Key: ${good.key}\r\nX-Forwarded-Method: GET\r\nX-Forwarded-Uri: /v1/devices/1\r\nConnection: close\r\n\r\n`,
  );
  expect(r.status).toBe(200);
  return r.headers['x-keywarden-jwt'] ?? '';
};
const jwks = async () =>
  JSON.parse(
    (
      await rawRequest(
        h.validator.port,
        'GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      )
    ).body,
  ) as { keys: { kid: string }[] };

describe('JWT signing key rotation', () => {
  it('tokens signed before, during and after a rotation all verify against the published JWKS', {
    timeout: 40_000,
  }, async () => {
    const before = await authz();
    const oldKid = decodeProtectedHeader(before).kid;
    expect((await jwks()).keys.map((k) => k.kid)).toEqual([oldKid]);

    writeFileSync(h.jwtFile, generateSigningKeyPem('EdDSA'));
    // Requests keep flowing while the validator notices the new file: tokens in flight.
    const inFlight: string[] = [];
    let published = await jwks();
    const deadline = Date.now() + 25_000;
    while (published.keys.length < 2 && Date.now() < deadline) {
      inFlight.push(...(await Promise.all([authz(), authz(), authz()])));
      await new Promise((r) => setTimeout(r, 200));
      published = await jwks();
    }
    expect(published.keys.length, 'the new key is published next to the old one').toBe(2);
    const after = await authz();
    const newKid = decodeProtectedHeader(after).kid;
    expect(newKid).not.toBe(oldKid);
    expect(published.keys[0]?.kid).toBe(newKid);
    expect(published.keys.map((k) => k.kid)).toContain(oldKid);

    const set = createLocalJWKSet(published as never);
    for (const token of [before, ...inFlight, after]) {
      const { payload, protectedHeader } = await jwtVerify(token, set, { issuer: 'kw-sec' });
      expect(payload.sub).toBe(good.keyId);
      expect([oldKid, newKid]).toContain(protectedHeader.kid);
    }
  });
});
