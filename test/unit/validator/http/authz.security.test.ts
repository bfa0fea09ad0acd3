import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Validator } from '../../../../src/validator/server.ts';
import { call } from '../../../support/http/client.ts';
import { rawRequest } from '../../../support/http/raw-http.ts';
import { startValidator } from '../../../support/validator/in-process.ts';
import { makeKey } from '../../../support/validator/keys.ts';

// Attacks on the forward-auth doors and the reverse proxy by a holder of a valid low-privilege key
// (issue 12, findings 2, 4, 5, 6): hostile X-Original-*/X-Forwarded-* headers, absolute-form targets
// that read two ways, identity headers in other spellings, and the doors that mint identity on the
// public port of a reverse proxy. The same attacks through a real nginx are in
// test/adversarial/nginx-forward-auth.test.ts.

const low = makeKey({ permissions: ['devices:read'] });
const fenced = makeKey({ permissions: ['devices:read'], allowedSources: ['198.51.100.0/24'] });
const ROUTES = [
  'routes:',
  '  - { path: /, methods: [GET], permission: devices:read }',
  '  - { path: /v1/devices/**, methods: [GET], permission: devices:read }',
  '  - { path: /v1/devices/**, methods: [DELETE], permission: devices:write }',
  '  - { path: /v1/admin/**, permission: admin:write }',
];
const IDENTITY = [
  'x-keywarden-key-id',
  'x-keywarden-apikey-name',
  'x-keywarden-apikey-namespace',
  'x-keywarden-environment',
  'x-keywarden-key-type',
  'x-keywarden-permissions',
  'x-keywarden-customers',
  'x-keywarden-client-ip',
  'x-keywarden-jwt',
];

let auth: Validator; // forward-auth only (no upstream), no JWT
let proxy: Validator; // reverse proxy in front of `upstream`
let upstream: Server;
const reached: { url: string; method: string; headers: IncomingHttpHeaders; raw: string[] }[] = [];

beforeAll(async () => {
  auth = await startValidator(['environment: production', 'trustedProxies: [127.0.0.2]', ...ROUTES], [low]);
  upstream = createServer((req, res) => {
    reached.push({ url: req.url ?? '', method: req.method ?? '', headers: req.headers, raw: req.rawHeaders });
    req.resume();
    res.end('upstream ok');
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  proxy = await startValidator(
    [
      'environment: production',
      'trustedProxies: [127.0.0.2]',
      `upstream: { url: "http://127.0.0.1:${(upstream.address() as AddressInfo).port}" }`,
      ...ROUTES,
    ],
    [low, fenced],
    { internalPort: 0 },
  );
});

afterAll(async () => {
  await auth?.stop();
  await proxy?.stop();
  upstream?.close();
});

const key = { 'x-api-key': low.key };
const authz = (path: string, headers: Record<string, string>, method = 'GET') =>
  call(auth.port, { method, path, headers: { ...key, ...headers } });

describe('finding 2: the door decides which headers are read, never the headers themselves', () => {
  it('plain /authz no longer guesses a style: a forged X-Original-URL cannot turn DELETE /v1/admin/users into a read', async () => {
    const r = await authz('/authz', {
      'x-forwarded-method': 'DELETE',
      'x-forwarded-uri': '/v1/admin/users',
      'x-original-url': '/v1/devices/1',
      'x-original-method': 'GET',
    });
    expect(r.status).toBe(404);
    expect(r.json()).toMatchObject({ error: { code: 'not_found' } });
    expect(r.body).toContain('/authz/nginx');
    expect(r.body).toContain('/authz/traefik');
    expect(r.body).toContain('/authz/envoy');
  });

  it('Traefik door reads only X-Forwarded-Method/-Uri: client X-Original-* headers are ignored', async () => {
    const r = await authz('/authz/traefik', {
      'x-forwarded-method': 'DELETE',
      'x-forwarded-uri': '/v1/admin/users',
      'x-original-url': 'http://h/v1/devices/1',
      'x-original-uri': '/v1/devices/1',
      'x-original-method': 'GET',
    });
    expect(r.status).toBe(403);
    expect(r.json()).toMatchObject({ error: { code: 'permission_denied' } });
    const ok = await authz('/authz/traefik', {
      'x-forwarded-method': 'GET',
      'x-forwarded-uri': '/v1/devices/1',
    });
    expect(ok.status).toBe(200);
  });

  it('nginx door: a client X-Original-URL that disagrees with the proxy-set X-Original-URI is refused', async () => {
    const r = await authz('/authz/nginx', {
      'x-original-uri': '/v1/admin/users',
      'x-original-method': 'GET',
      'x-original-url': 'https://api.example.com/v1/devices/1',
    });
    expect(r.status).toBe(403);
    // and the other way round (ingress-nginx sets X-Original-URL, the client adds X-Original-URI)
    const r2 = await authz('/authz/nginx', {
      'x-original-url': 'https://api.example.com/v1/admin/users',
      'x-original-method': 'GET',
      'x-original-uri': '/v1/devices/1',
    });
    expect(r2.status).toBe(403);
  });

  it('nginx door ignores X-Forwarded-Method/-Uri', async () => {
    const r = await authz('/authz/nginx', {
      'x-original-uri': '/v1/admin/users',
      'x-original-method': 'GET',
      'x-forwarded-uri': '/v1/devices/1',
      'x-forwarded-method': 'GET',
    });
    expect(r.status).toBe(403);
    expect(r.json()).toMatchObject({ error: { code: 'permission_denied' } });
  });

  it('nginx door without X-Original-Method refuses instead of deciding on the subrequest method (always GET)', async () => {
    const r = await authz('/authz/nginx', { 'x-original-uri': '/v1/devices/1' });
    expect(r.status).toBe(403);
    expect(r.json<{ error: { message: string } }>().error.message).toContain('X-Original-Method');
  });

  it('Envoy door reads the method and path of the auth request only', async () => {
    const r = await authz(
      '/authz/envoy/v1/admin/users',
      {
        'x-original-url': '/v1/devices/1',
        'x-original-uri': '/v1/devices/1',
        'x-original-method': 'GET',
        'x-forwarded-uri': '/v1/devices/1',
        'x-forwarded-method': 'GET',
      },
      'DELETE',
    );
    expect(r.status).toBe(403);
    expect(r.json()).toMatchObject({ error: { code: 'permission_denied' } });
  });
});

describe('finding 4: absolute-form targets that read two ways are refused, not guessed', () => {
  const READ_TWO_WAYS = [
    'http://api.example.com?/v1/admin/users',
    'http://api.example.com#/v1/admin/users',
    'http://api.example.com?x#/v1/admin/users',
    'http://user@api.example.com/v1/devices/1',
    'http://api.example.com@evil/v1/devices/1',
    'http://api.example.com\\/v1/devices/1',
    'http://api.example.com',
    'http:/v1/devices/1',
    '//api.example.com/v1/devices/1',
    'v1/devices/1',
    'http://api.example.com/v1/devices/1#frag',
    'http://api.example.com/v1/devices/1 /v1/admin',
    'javascript://api.example.com/v1/devices/1',
  ];

  it('nginx door (X-Original-URL): 403, never a decision about another path', async () => {
    for (const url of READ_TWO_WAYS) {
      const r = await authz('/authz/nginx', { 'x-original-url': url, 'x-original-method': 'GET' });
      expect(r.status, url).toBe(403);
      expect(r.json(), url).toMatchObject({ error: { code: 'bad_request' } });
    }
  });

  it('Traefik door (X-Forwarded-Uri is origin-form only): 400', async () => {
    for (const uri of [...READ_TWO_WAYS, 'http://api.example.com/v1/devices/1']) {
      const r = await authz('/authz/traefik', { 'x-forwarded-uri': uri, 'x-forwarded-method': 'GET' });
      expect(r.status, uri).toBe(400);
    }
  });

  it('a well-formed absolute URL still works, and its path is what is decided', async () => {
    const h = { 'x-original-method': 'GET' };
    expect(
      (
        await authz('/authz/nginx', {
          ...h,
          'x-original-url': 'https://api.example.com:8443/v1/devices/1?a=b',
        })
      ).status,
    ).toBe(200);
    expect(
      (await authz('/authz/nginx', { ...h, 'x-original-url': 'http://[2001:db8::1]/v1/devices/1' })).status,
    ).toBe(200);
    expect(
      (await authz('/authz/nginx', { ...h, 'x-original-url': 'https://api.example.com/v1/admin/users' }))
        .status,
    ).toBe(403);
  });
});

describe('finding 5: identity headers in every spelling', () => {
  it('an allowed forward-auth answer names every identity header, empty when unknown (no JWT, unknown client)', async () => {
    // 127.0.0.2 is a trusted proxy whose X-Forwarded-For is not an address: the client is unknown.
    const r = await call(auth.port, {
      path: '/authz/traefik',
      headers: {
        ...key,
        'x-forwarded-method': 'GET',
        'x-forwarded-uri': '/v1/devices/1',
        'x-forwarded-for': 'junk',
      },
      localAddress: '127.0.0.2',
    });
    expect(r.status).toBe(200);
    for (const h of IDENTITY) expect(r.headers, h).toHaveProperty(h);
    expect(r.headers['x-keywarden-client-ip']).toBe('');
    expect(r.headers['x-keywarden-jwt']).toBe('');
    for (const door of ['/authz/nginx', '/authz/envoy/v1/devices/1']) {
      const a = await authz(door, { 'x-original-uri': '/v1/devices/1', 'x-original-method': 'GET' });
      expect(a.status, door).toBe(200);
      for (const h of IDENTITY) expect(a.headers, `${door} ${h}`).toHaveProperty(h);
    }
  });

  it('a forward-auth request carrying an identity header in any spelling is refused (the proxy may pass it on)', async () => {
    const spellings = [
      'X-Keywarden-Permissions',
      'x-keywarden-permissions',
      'X-KEYWARDEN-KEY-ID',
      'X_Keywarden_Key_Id',
      'x_keywarden_permissions',
      'X-Keywarden_Jwt',
      'x_KEYWARDEN-customers',
    ];
    for (const name of spellings) {
      const t = await rawRequest(
        auth.port,
        `GET /authz/traefik HTTP/1.1\r\nHost: x\r\nX-API-Key: ${low.key}\r\nX-Forwarded-Method: GET\r\nX-Forwarded-Uri: /v1/devices/1\r\n${name}: admin:*\r\nConnection: close\r\n\r\n`,
      );
      expect(t.status, name).toBe(400);
      const n = await rawRequest(
        auth.port,
        `GET /authz/nginx HTTP/1.1\r\nHost: x\r\nX-API-Key: ${low.key}\r\nX-Original-Method: GET\r\nX-Original-URI: /v1/devices/1\r\n${name}: admin:*\r\nConnection: close\r\n\r\n`,
      );
      expect(n.status, name).toBe(403);
      expect(n.headers['x-keywarden-key-id'], name).toBeUndefined();
    }
  });

  it('reverse proxy: no client header whose CGI name is an identity or forwarding header reaches the upstream', async () => {
    reached.length = 0;
    const forged = [
      'X_Keywarden_Key_Id: forged',
      'x_keywarden_permissions: admin:*',
      'X-KEYWARDEN-CUSTOMERS: everyone',
      'X-Keywarden_Jwt: forged.jwt',
      'X_Keywarden_Client_Ip: 198.51.100.7',
      'X_Forwarded_For: 198.51.100.7',
      'X_Real_IP: 198.51.100.7',
      'X_Forwarded_Host: evil.example',
    ];
    const r = await rawRequest(
      proxy.port,
      `GET /v1/devices/1 HTTP/1.1\r\nHost: x\r\nX-API-Key: ${low.key}\r\n${forged.map((l) => `${l}\r\n`).join('')}Connection: close\r\n\r\n`,
    );
    expect(r.status).toBe(200);
    expect(reached).toHaveLength(1);
    const got = reached[0];
    const names = (got?.raw ?? []).filter((_, i) => i % 2 === 0);
    expect(names.filter((n) => n.includes('_'))).toEqual([]);
    expect(JSON.stringify(got?.headers)).not.toMatch(/forged|admin:\*|everyone|198\.51\.100\.7|evil/);
    expect(got?.headers['x-keywarden-key-id']).toBe(low.keyId);
    expect(got?.headers['x-keywarden-permissions']).toBe('devices:read');
    for (const h of IDENTITY) expect(got?.headers, h).toHaveProperty(h);
  });
});

describe('finding 6: the public port of a reverse proxy mints no identity', () => {
  it('/authz*, and /v1/keys/verify are the app’s paths on the public port: no identity answer from us', async () => {
    reached.length = 0;
    for (const path of ['/authz', '/authz/nginx', '/authz/traefik', '/authz/envoy/v1/devices/1']) {
      const r = await call(proxy.port, {
        path,
        headers: {
          ...key,
          'x-original-uri': '/v1/devices/1',
          'x-original-method': 'GET',
          'x-forwarded-uri': '/v1/devices/1',
          'x-forwarded-method': 'GET',
        },
      });
      expect(r.headers['x-keywarden-key-id'], path).toBeUndefined();
      expect(r.headers['x-keywarden-jwt'], path).toBeUndefined();
      expect(r.status, path).toBe(403); // decided as the app's own (unmapped) path
    }
    const v = await call(proxy.port, {
      method: 'POST',
      path: '/v1/keys/verify',
      body: JSON.stringify({ key: low.key }),
    });
    expect(v.body).not.toContain('"valid":true');
    expect(v.status).toBe(401); // the app's path, and no key in the headers
  });

  it('the internal listener (loopback) serves forward auth and verify', async () => {
    const r = await call(proxy.internalPort, {
      path: '/authz/traefik',
      headers: { ...key, 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/v1/devices/1' },
    });
    expect(r.status).toBe(200);
    expect(r.headers['x-keywarden-key-id']).toBe(low.keyId);
    const v = await call(proxy.internalPort, {
      method: 'POST',
      path: '/v1/keys/verify',
      body: JSON.stringify({ key: low.key }),
    });
    expect(v.json()).toMatchObject({ valid: true, keyId: low.keyId });
    // the internal listener proxies nothing
    expect((await call(proxy.internalPort, { path: '/v1/devices/1', headers: key })).status).toBe(404);
  });

  it('verify believes sourceIp only from a trusted peer', async () => {
    const body = JSON.stringify({ key: fenced.key, sourceIp: '198.51.100.7' });
    const untrusted = await call(proxy.internalPort, { method: 'POST', path: '/v1/keys/verify', body });
    expect(untrusted.status).toBe(400);
    expect(untrusted.json<{ error: { message: string } }>().error.message).toContain('trustedProxies');
    const trusted = await call(proxy.internalPort, {
      method: 'POST',
      path: '/v1/keys/verify',
      body,
      localAddress: '127.0.0.2',
    });
    expect(trusted.json()).toMatchObject({ valid: true });
  });
});
