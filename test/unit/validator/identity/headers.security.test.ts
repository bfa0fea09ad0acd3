import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawRequest } from '../../../support/http/raw-http.ts';
import { type Harness, startHarness } from '../../../support/validator/in-process.ts';
import { makeKey } from '../../../support/validator/keys.ts';

// Header injection: CR/LF smuggled into header values, forged X-Keywarden-* identity headers, a
// spoofed X-Forwarded-For from an untrusted peer, and identity values that would split a header.

const good = makeKey({ permissions: ['devices:read'], customers: ['acme'] });
const fenced = makeKey({ permissions: ['devices:read'], allowedSources: ['198.51.100.0/24'] });
// A hash record written by something other than the controller (the CRD would refuse these values).
const crlf = makeKey({ permissions: ['devices:read'], customers: ['acme\r\nSet-Cookie: pwned=1'] });
let h: Harness;

beforeAll(async () => {
  h = await startHarness([good, fenced, crlf], ['trustedProxies: [10.0.0.0/24]']);
});
afterAll(async () => h?.close());

const req = (path: string, headers: string[]) =>
  `GET ${path} HTTP/1.1\r\nHost: x\r\n${headers.map((l) => `${l}\r\n`).join('')}Connection: close\r\n\r\n`;

const FORGED = [
  'X-Keywarden-Key-Id: forged',
  'X-Keywarden-ApiKey-Name: forged',
  'X-Keywarden-Permissions: admin:*',
  'X-Keywarden-Customers: everyone',
  'X-Keywarden-Jwt: forged.jwt.value',
  'x-keywarden-client-ip: 203.0.113.1',
];

describe('header injection', () => {
  it('forged X-Keywarden-* headers never reach the upstream; the real identity does', async () => {
    const before = h.seen.length;
    const r = await rawRequest(h.validator.port, req('/v1/devices/1', [`X-API-Key: ${good.key}`, ...FORGED]));
    expect(r.status).toBe(200);
    const seen = h.seen.slice(before);
    expect(seen).toHaveLength(1);
    const got = seen[0] ?? {};
    expect(got['x-keywarden-key-id']).toBe(good.keyId);
    expect(got['x-keywarden-permissions']).toBe('devices:read');
    expect(got['x-keywarden-customers']).toBe('acme');
    expect(got['x-keywarden-jwt']).not.toBe('forged.jwt.value');
    expect(got['x-keywarden-client-ip']).toBe('127.0.0.1');
    expect(got['x-api-key']).toBeUndefined();
    expect(JSON.stringify(got)).not.toContain('forged');
  });

  it('forward auth refuses a request carrying forged identity headers, and never echoes them', async () => {
    const r = await rawRequest(
      h.validator.internalPort,
      req('/authz/traefik', [
        `Authorization: Bearer ${good.key}`,
        'X-Forwarded-Method: GET',
        'X-Forwarded-Uri: /v1/devices/1',
        ...FORGED,
      ]),
    );
    expect(r.status).toBe(400);
    expect(r.headers['x-keywarden-key-id']).toBeUndefined();
    expect(JSON.stringify(r)).not.toContain('forged');
  });

  it('a refused request echoes no forged header and no key', async () => {
    const junk = `${good.key.slice(0, -1)}${good.key.endsWith('x') ? 'y' : 'x'}`;
    const r = await rawRequest(
      h.validator.internalPort,
      req('/authz/traefik', [
        `X-API-Key: ${junk}`,
        'X-Forwarded-Method: GET',
        'X-Forwarded-Uri: /v1/devices/1',
        ...FORGED,
      ]),
    );
    expect([400, 401]).toContain(r.status);
    expect(JSON.stringify(r)).not.toContain('forged');
    expect(JSON.stringify(r)).not.toContain(junk);
  });

  it('CR/LF inside a header value cannot smuggle a header: refused or split, never trusted', async () => {
    for (const sep of ['\r\n', '\n', '\r']) {
      const before = h.seen.length;
      const r = await rawRequest(
        h.validator.port,
        req('/v1/devices/1', [
          `X-API-Key: ${good.key}${sep}X-Keywarden-Key-Id: forged`,
          'X-Other: a\rX-Keywarden-Permissions: admin:*',
        ]),
      );
      // Bare CR is a parse error (400); CRLF/LF end the line, making the forged header a separate one,
      // which is then stripped like any other.
      if (r.status === 200) {
        for (const seen of h.seen.slice(before)) {
          expect(seen['x-keywarden-key-id']).toBe(good.keyId);
          expect(JSON.stringify(seen)).not.toContain('forged');
          expect(JSON.stringify(seen)).not.toContain('admin:*');
        }
      } else {
        expect(r.status).toBe(400);
      }
    }
    const ok = await rawRequest(h.validator.port, req('/v1/devices/1', [`X-API-Key: ${good.key}`]));
    expect(ok.status).toBe(200);
  });

  it('X-Forwarded-For from an untrusted peer is not believed (no allowlist bypass)', async () => {
    const r = await rawRequest(
      h.validator.port,
      req('/v1/devices/1', [`X-API-Key: ${fenced.key}`, 'X-Forwarded-For: 198.51.100.7']),
    );
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body).error.message.length).toBeGreaterThan(0);
  });

  it('a hash record whose identity values hold CR/LF is refused: 401, no split header, nothing upstream', async () => {
    const before = h.seen.length;
    const r = await rawRequest(
      h.validator.internalPort,
      req('/authz/traefik', [
        `X-API-Key: ${crlf.key}`,
        'X-Forwarded-Method: GET',
        'X-Forwarded-Uri: /v1/devices/1',
      ]),
    );
    expect(r.headers['set-cookie']).toBeUndefined();
    for (const seen of h.seen.slice(before)) expect(seen.cookie).toBeUndefined();
    expect(r.status).toBe(401);
    const p = await rawRequest(h.validator.port, req('/v1/devices/1', [`X-API-Key: ${crlf.key}`]));
    expect(p.headers['set-cookie']).toBeUndefined();
    for (const seen of h.seen.slice(before)) expect(JSON.stringify(seen)).not.toContain('pwned');
    expect(p.status).toBe(401);
    expect(h.seen.length).toBe(before);
  });
});
