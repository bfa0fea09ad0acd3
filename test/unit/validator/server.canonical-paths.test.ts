import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/observability/logger.ts';
import { parseConfig } from '../../../src/validator/config/load.ts';
import { KeyStore } from '../../../src/validator/key-store.ts';
import { Validator } from '../../../src/validator/server.ts';
import { rawRequest } from '../../support/http/raw-http.ts';
import { makeKey } from '../../support/validator/keys.ts';

// Every door sees only canonical paths: the main port refuses a non-canonical target before choosing a
// door, forward auth refuses a non-canonical original path, and a path whose permission changes when
// case or a trailing slash is ignored is refused at each door with a message that says how to send it.

let upstream: Server;
let v: Validator;
const seen: string[] = [];
const store = new KeyStore();
const low = makeKey({ permissions: ['data:read'] });

beforeAll(async () => {
  upstream = createServer((req, res) => {
    seen.push(req.url ?? '');
    res.end('ok');
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const cfg = parseConfig(
    [
      'environment: production',
      `upstream: { url: "http://127.0.0.1:${(upstream.address() as AddressInfo).port}" }`,
      'routes:',
      '  - { path: /v1/admin/**, permission: admin:manage }',
      '  - { path: /v1/**, permission: data:read }',
      'unmappedRoutes: allow',
    ].join('\n'),
  );
  if (!cfg.ok) throw new Error(JSON.stringify(cfg.problems));
  store.upsert(structuredClone(low.secret));
  v = new Validator(cfg.value, { rest: undefined, log: createLogger('test', 'silent'), store });
  await v.start({ port: 0, host: '127.0.0.1', internalPort: 0 });
});

afterAll(async () => {
  await v?.stop();
  upstream?.close();
});

/** To the public (reverse proxy) port, or with `internal` to the port that serves forward auth and verify. */
const get = (target: string, headers: string[] = [], internal = false) =>
  rawRequest(
    internal ? v.internalPort : v.port,
    [
      `GET ${target} HTTP/1.1`,
      'Host: x',
      `X-API-Key: ${low.key}`,
      ...headers,
      'Connection: close',
      '',
      '',
    ].join('\r\n'),
  );

const errorOf = (body: string) => (JSON.parse(body) as { error: { code: string; message: string } }).error;

describe('canonical paths at every door', () => {
  it('reverse proxy: 400 with the reason, and the upstream sees nothing', async () => {
    const before = seen.length;
    for (const [target, reason] of [
      ['/v1/%61dmin/users', /%61 encodes a/],
      ['/v1/ADMIN/users', /letter case.*"\/v1\/admin\/\*\*"/],
      ['/V1/admin/users/', /letter case/],
      ['//v1/admin/users', /empty segment/],
      ['/v1/public/..;/admin/users', /;/],
      ['http://x/v1/admin/users', /absolute-form/],
    ] as const) {
      const r = await get(target);
      expect(r.status, target).toBe(400);
      expect(errorOf(r.body).code).toBe('bad_request');
      expect(errorOf(r.body).message, target).toMatch(reason);
    }
    expect(seen.length).toBe(before);
    expect((await get('/v1/public/x?q=%61')).status).toBe(200);
  });

  it('forward auth: the original path is held to the same rules (nginx answers 403, as it must)', async () => {
    const traefik = await get(
      '/authz/traefik',
      ['X-Forwarded-Method: GET', 'X-Forwarded-Uri: /v1/%61dmin/users'],
      true,
    );
    expect([traefik.status, errorOf(traefik.body).message]).toEqual([400, expect.stringMatching(/%61/)]);
    const nginx = await get(
      '/authz/nginx',
      ['X-Original-Method: GET', 'X-Original-URI: /v1/Admin/users'],
      true,
    );
    expect(nginx.status).toBe(403);
    expect(errorOf(nginx.body).code).toBe('bad_request');
    expect((await get('/authz/envoy/v1//admin/users', [], true)).status).toBe(400);
    expect((await get('/authz/envoy/v1/public/x', [], true)).status).toBe(200);
  });

  it('the main port refuses a non-canonical path before choosing a door (verify, authz, JWKS)', async () => {
    for (const target of [
      '/v1/keys/%76erify',
      '/authz/%6Eginx',
      '/authz;/nginx',
      '/.well-known/jwks.json;x',
    ]) {
      const r = await get(target);
      expect(r.status, target).toBe(400);
    }
  });

  it('a websocket upgrade on a non-canonical path is refused with 400', async () => {
    const r = await get('/v1/%61dmin/ws', [
      'Upgrade: websocket',
      'Connection: Upgrade',
      'Sec-WebSocket-Version: 13',
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
    ]);
    expect(r.status).toBe(400);
  });
});
