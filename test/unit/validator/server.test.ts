import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { WebSocket } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/observability/logger.ts';
import { startAdminServer } from '../../../src/runtime/admin-server.ts';
import { closeServer, listeningPort } from '../../../src/runtime/listen.ts';
import { Runner } from '../../../src/runtime/runner.ts';
import { parseConfig } from '../../../src/validator/config/load.ts';
import { generateSigningKeyPem } from '../../../src/validator/identity/signer.ts';
import { KeyStore } from '../../../src/validator/key-store.ts';
import { Validator } from '../../../src/validator/server.ts';
import { call } from '../../support/http/client.ts';
import { makeKey } from '../../support/validator/keys.ts';

// The three front doors in one process, over real sockets, with a real upstream; the key store is
// fed directly (the integration tests feed it from a real API server).

let upstream: Server;
let v: Validator;
/** The validator's admin port, served as the CLI's runner serves it. */
let admin: Server;
const seen: { headers: IncomingMessage['headers']; bytes: number; url: string }[] = [];
const store = new KeyStore();
const good = makeKey({ permissions: ['devices:read', 'tickets:create'], customers: ['acme', 'globex'] });
const limited = makeKey({
  permissions: ['devices:read'],
  rateLimit: { requests: 1, period: '1h', burst: 2 },
});
const fenced = makeKey({ permissions: ['devices:read'], allowedSources: ['198.51.100.0/24'] });
// From a hand-edited hash Secret: the CRD would refuse this customer, the validator must too.
const tampered = makeKey({ permissions: ['devices:read'], customers: ['a\r\nX-Injected: 1'] });

beforeAll(async () => {
  upstream = createServer((req, res) => {
    let bytes = 0;
    req.on('data', (c: Buffer) => {
      bytes += c.length;
    });
    req.on('end', () => {
      seen.push({ headers: req.headers, bytes, url: req.url ?? '' });
      if (req.url === '/v1/devices/stream') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        let n = 0;
        const t = setInterval(() => {
          res.write(`chunk ${n}\n`);
          if (++n === 5) {
            clearInterval(t);
            res.end();
          }
        }, 20);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ bytes, keyId: req.headers['x-keywarden-key-id'] }));
    });
  });
  upstream.on('upgrade', (req: IncomingMessage, socket: Socket) => {
    const accept = createHash('sha1')
      .update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
      .digest('base64');
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    const text = Buffer.from(`hello ${req.headers['x-keywarden-key-id']}`);
    socket.write(Buffer.concat([Buffer.from([0x81, text.length]), text]));
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const dir = mkdtempSync(join(tmpdir(), 'kw-doors-'));
  writeFileSync(join(dir, 'jwt.pem'), generateSigningKeyPem('EdDSA'));
  const cfg = parseConfig(
    [
      'environment: production',
      'trustedProxies: [127.0.0.2]',
      `upstream: { url: "http://127.0.0.1:${(upstream.address() as AddressInfo).port}" }`,
      'routes:',
      '  - { path: /v1/devices/**, methods: [GET, POST], permission: devices:read }',
      '  - { path: /v1/tickets, methods: [POST], permission: tickets:create }',
      '  - { path: /v1/admin/**, permission: admin:write }',
      'identity:',
      '  jwt: { issuer: kw-test, audience: upstream, ttl: 30s, signingKey: { file: ' +
        join(dir, 'jwt.pem') +
        ' } }',
    ].join('\n'),
  );
  if (!cfg.ok) throw new Error(JSON.stringify(cfg.problems));
  for (const k of [good, limited, fenced, tampered]) store.upsert(structuredClone(k.secret));
  v = new Validator(cfg.value, { rest: undefined, log: createLogger('test', 'silent'), store });
  await v.start({ port: 0, host: '127.0.0.1', internalPort: 0 });
  const endpoints = new Runner({ name: 'test', components: [v], log: createLogger('test', 'silent') });
  admin = await startAdminServer({ port: 0, host: '127.0.0.1', endpoints });
  for (let i = 0; i < 100 && !v.ready().ok; i++) await new Promise((r) => setTimeout(r, 20));
});

afterAll(async () => {
  await v?.stop();
  await closeServer(admin);
  upstream?.close();
});

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

// Next to a reverse proxy, forward auth and verify are served on the internal port only.
const doors = () => v.internalPort;

describe('forward auth /authz/<proxy>', () => {
  it('Traefik: allows with identity headers and a JWT that verifies against the JWKS', async () => {
    const r = await call(doors(), {
      path: '/authz/traefik',
      headers: {
        ...bearer(good.key),
        'x-forwarded-method': 'GET',
        'x-forwarded-uri': '/v1/devices/7?full=1',
      },
    });
    expect(r.status).toBe(200);
    expect(r.headers['x-keywarden-key-id']).toBe(good.keyId);
    expect(r.headers['x-keywarden-apikey-name']).toBe(good.record.apiKey.name);
    expect(r.headers['x-keywarden-apikey-namespace']).toBe('team-a');
    expect(r.headers['x-keywarden-environment']).toBe('production');
    expect(r.headers['x-keywarden-permissions']).toBe('devices:read,tickets:create');
    expect(r.headers['x-keywarden-customers']).toBe('acme,globex');
    const jwks = (await call(v.port, { path: '/.well-known/jwks.json' })).json<{
      keys: { kid: string; alg: string }[];
    }>();
    expect(jwks.keys[0]?.alg).toBe('EdDSA');
    const { payload, protectedHeader } = await jwtVerify(
      String(r.headers['x-keywarden-jwt']),
      createLocalJWKSet(jwks as never),
      {
        issuer: 'kw-test',
        audience: 'upstream',
      },
    );
    expect(protectedHeader.kid).toBe(jwks.keys[0]?.kid);
    expect(payload).toMatchObject({
      sub: good.keyId,
      environment: 'production',
      customers: ['acme', 'globex'],
      apikey: { namespace: 'team-a' },
    });
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(30);
  });

  it('Traefik: 403 permission_denied on a route the key lacks, 403 route_not_mapped on an unmapped one', async () => {
    const h = { ...bearer(good.key), 'x-forwarded-method': 'GET' };
    const admin = await call(doors(), {
      path: '/authz/traefik',
      headers: { ...h, 'x-forwarded-uri': '/v1/admin/users' },
    });
    expect(admin.status).toBe(403);
    expect(admin.json()).toEqual({
      error: { code: 'permission_denied', message: 'the key lacks the permission admin:write' },
    });
    const unmapped = await call(doors(), {
      path: '/authz/traefik',
      headers: { ...h, 'x-forwarded-uri': '/v2/other' },
    });
    expect(unmapped.json()).toMatchObject({ error: { code: 'route_not_mapped' } });
    const wrongMethod = await call(doors(), {
      path: '/authz/traefik',
      headers: { ...h, 'x-forwarded-method': 'DELETE', 'x-forwarded-uri': '/v1/tickets' },
    });
    expect(wrongMethod.status).toBe(403);
  });

  it('401 with a JSON body that never echoes the key, and WWW-Authenticate', async () => {
    const typo = `${good.key.slice(0, -1)}${good.key.endsWith('a') ? 'b' : 'a'}`;
    const r = await call(doors(), {
      path: '/authz/traefik',
      headers: { 'x-api-key': typo, 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/v1/devices/1' },
    });
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toContain('Bearer');
    expect(r.json()).toMatchObject({ error: { code: 'key_malformed' } });
    expect(r.body).not.toContain(typo.slice(10));
  });

  it('rate limit: 429 with Retry-After and RateLimit-*; nginx mode answers 403 instead', async () => {
    const traefik = {
      ...bearer(limited.key),
      'x-forwarded-method': 'GET',
      'x-forwarded-uri': '/v1/devices/1',
    };
    const first = await call(doors(), { path: '/authz/traefik', headers: traefik });
    expect(first.status).toBe(200);
    expect(first.headers).toMatchObject({ 'ratelimit-limit': '2', 'ratelimit-remaining': '1' });
    expect((await call(doors(), { path: '/authz/traefik', headers: traefik })).status).toBe(200);
    const over = await call(doors(), { path: '/authz/traefik', headers: traefik });
    expect(over.status).toBe(429);
    expect(over.headers).toMatchObject({ 'ratelimit-limit': '2', 'ratelimit-remaining': '0' });
    expect(Number(over.headers['retry-after'])).toBeGreaterThan(1000);
    expect(Number(over.headers['ratelimit-reset'])).toBeGreaterThan(1000);
    expect(over.json()).toMatchObject({ error: { code: 'rate_limited' } });
    const nginx = {
      ...bearer(limited.key),
      'x-original-method': 'GET',
      'x-original-url': 'https://api.example.com/v1/devices/1',
    };
    const viaNginx = await call(doors(), { path: '/authz/nginx', headers: nginx });
    expect(viaNginx.status).toBe(403);
    expect(viaNginx.json()).toMatchObject({ error: { code: 'rate_limited' } });
    expect((await call(doors(), { path: '/authz/nginx', headers: nginx })).status).toBe(403);
  });

  it('nginx: reads X-Original-URL without normalising it, so dot segments are refused', async () => {
    const h = { ...bearer(good.key), 'x-original-method': 'GET' };
    expect(
      (
        await call(doors(), {
          path: '/authz/nginx',
          headers: { ...h, 'x-original-url': 'https://h/v1/devices/1' },
        })
      ).status,
    ).toBe(200);
    expect(
      (await call(doors(), { path: '/authz/nginx', headers: { ...h, 'x-original-uri': '/v1/devices/1' } }))
        .status,
    ).toBe(200);
    const sneaky = await call(doors(), {
      path: '/authz/nginx',
      headers: { ...h, 'x-original-url': 'https://h/v1/devices/../admin/x' },
    });
    expect(sneaky.status).toBe(403); // a 400 in nginx mode
    expect(sneaky.json()).toMatchObject({ error: { code: 'bad_request' } });
  });

  it('Envoy ext_authz: the original method and path follow the /authz/envoy prefix', async () => {
    expect(
      (await call(doors(), { path: '/authz/envoy/v1/devices/9?x=1', headers: bearer(good.key) })).status,
    ).toBe(200);
    expect(
      (await call(doors(), { method: 'POST', path: '/authz/envoy/v1/tickets', headers: bearer(good.key) }))
        .status,
    ).toBe(200);
    expect(
      (await call(doors(), { method: 'DELETE', path: '/authz/envoy/v1/tickets', headers: bearer(good.key) }))
        .status,
    ).toBe(403);
  });

  it('client address: X-Forwarded-For counts only from a trusted proxy', async () => {
    const h = {
      ...bearer(fenced.key),
      'x-forwarded-method': 'GET',
      'x-forwarded-uri': '/v1/devices/1',
      'x-forwarded-for': '198.51.100.7',
    };
    const spoofed = await call(doors(), { path: '/authz/traefik', headers: h });
    expect(spoofed.status).toBe(403);
    expect(spoofed.json()).toMatchObject({ error: { code: 'source_not_allowed' } });
    expect(
      (await call(doors(), { path: '/authz/traefik', headers: h, localAddress: '127.0.0.2' })).status,
    ).toBe(200);
    const chained = { ...h, 'x-forwarded-for': '198.51.100.7, 203.0.113.1' };
    expect(
      (await call(doors(), { path: '/authz/traefik', headers: chained, localAddress: '127.0.0.2' })).status,
    ).toBe(403);
  });

  it('refuses a forward-auth request that does not say what it is for, and names the doors at /authz', async () => {
    const r = await call(doors(), { path: '/authz/traefik', headers: bearer(good.key) });
    expect(r.status).toBe(400);
    const plain = await call(doors(), { path: '/authz', headers: bearer(good.key) });
    expect(plain.status).toBe(404);
    expect(plain.body).toContain('/authz/traefik');
    expect((await call(doors(), { path: '/authz/other', headers: bearer(good.key) })).status).toBe(404);
  });
});

describe('reverse proxy', () => {
  it('strips forged identity headers and the key, and sets the real identity', async () => {
    seen.length = 0;
    const r = await call(v.port, {
      path: '/v1/devices/1',
      headers: {
        ...bearer(good.key),
        'x-api-key': '',
        'X-Keywarden-Key-Id': 'forged',
        'x-keywarden-permissions': 'admin:*',
        'x-keywarden-made-up': 'x',
        'x-forwarded-for': '198.51.100.7',
        'x-forwarded-host': 'evil.example',
      },
    });
    expect(r.status).toBe(200);
    expect(r.json()).toMatchObject({ keyId: good.keyId });
    const h = seen[0]?.headers ?? {};
    expect(h.authorization).toBeUndefined();
    expect(h['x-api-key']).toBeUndefined();
    expect(h['x-keywarden-key-id']).toBe(good.keyId);
    expect(h['x-keywarden-permissions']).toBe('devices:read,tickets:create');
    expect(h['x-keywarden-made-up']).toBeUndefined();
    expect(h['x-keywarden-client-ip']).toBe('127.0.0.1');
    expect(h['x-forwarded-for']).toBe('127.0.0.1');
    expect(h['x-forwarded-host']).not.toBe('evil.example');
    expect(h['x-keywarden-jwt']).toMatch(/^ey/);
    expect(JSON.stringify(h)).not.toContain(good.key);
  });

  it('keeps the chain from a trusted proxy', async () => {
    seen.length = 0;
    await call(v.port, {
      path: '/v1/devices/1',
      headers: { ...bearer(good.key), 'x-forwarded-for': '198.51.100.7' },
      localAddress: '127.0.0.2',
    });
    expect(seen[0]?.headers['x-forwarded-for']).toBe('198.51.100.7, 127.0.0.2');
    expect(seen[0]?.headers['x-keywarden-client-ip']).toBe('198.51.100.7');
  });

  it('treats a key whose record has a line break in a customer as unknown: 401, never a 500', async () => {
    seen.length = 0;
    const authz = await call(doors(), {
      path: '/authz/traefik',
      headers: { ...bearer(tampered.key), 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/v1/devices/1' },
    });
    const proxied = await call(v.port, { path: '/v1/devices/1', headers: bearer(tampered.key) });
    for (const r of [authz, proxied]) {
      expect(r.status).toBe(401);
      expect(r.headers['x-injected']).toBeUndefined();
      expect(r.headers['x-keywarden-customers']).toBeUndefined();
    }
    expect(seen).toHaveLength(0);
  });

  it('denies before the upstream sees anything', async () => {
    seen.length = 0;
    const r = await call(v.port, { path: '/v1/admin/x', headers: bearer(good.key) });
    expect(r.status).toBe(403);
    expect((await call(v.port, { path: '/v1/devices/1' })).status).toBe(401);
    expect(seen).toHaveLength(0);
  });

  it('streams request and response bodies', async () => {
    const big = Buffer.alloc(8 * 1024 * 1024, 7);
    const r = await call(v.port, {
      method: 'POST',
      path: '/v1/devices/upload',
      headers: bearer(good.key),
      body: big,
    });
    expect(r.json()).toMatchObject({ bytes: big.length });
    const s = await call(v.port, { path: '/v1/devices/stream', headers: bearer(good.key) });
    expect(s.headers['transfer-encoding']).toBe('chunked');
    expect(s.body).toBe('chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\n');
  });

  it('passes websocket upgrades for allowed keys, refuses others', async () => {
    const url = `ws://127.0.0.1:${v.port}/v1/devices/live`;
    const ws = new WebSocket(url, { headers: bearer(good.key) } as never);
    const message = await new Promise<string>((resolve, reject) => {
      ws.onmessage = (e) => resolve(String(e.data));
      ws.onerror = () => reject(new Error('websocket failed'));
    });
    expect(message).toBe(`hello ${good.keyId}`);
    ws.close();
    const refused = new WebSocket(url);
    const failed = await new Promise<boolean>((resolve) => {
      refused.onopen = () => resolve(false);
      refused.onerror = () => resolve(true);
    });
    expect(failed).toBe(true);
  });
});

describe('POST /v1/keys/verify', () => {
  const verify = (body: unknown, localAddress?: string) =>
    call(doors(), {
      method: 'POST',
      path: '/v1/keys/verify',
      body: JSON.stringify(body),
      ...(localAddress ? { localAddress } : {}),
    });

  it('answers valid with the key facts and the remaining rate limit', async () => {
    const r = await verify({ key: good.key, permission: 'tickets:create' });
    expect(r.status).toBe(200);
    expect(r.json()).toMatchObject({
      valid: true,
      keyId: good.keyId,
      environment: 'production',
      permissions: ['devices:read', 'tickets:create'],
      expiresAt: good.record.expiresAt,
    });
    const lim = makeKey({ rateLimit: { requests: 10, period: '1m' } });
    store.upsert(structuredClone(lim.secret));
    expect((await verify({ key: lim.key })).json()).toMatchObject({
      valid: true,
      rateLimit: { limit: 10, remaining: 9 },
    });
  });

  it('answers invalid with the code, and needs sourceIp for a fenced key', async () => {
    expect((await verify({ key: good.key, permission: 'admin:write' })).json()).toMatchObject({
      valid: false,
      code: 'permission_denied',
    });
    expect((await verify({ key: fenced.key })).json()).toMatchObject({
      valid: false,
      code: 'source_not_allowed',
    });
    // sourceIp counts only from a trusted peer (127.0.0.2 plays one)
    expect((await verify({ key: fenced.key, sourceIp: '198.51.100.1' }, '127.0.0.2')).json()).toMatchObject({
      valid: true,
    });
    expect((await verify({ key: fenced.key, sourceIp: '198.51.100.1' })).status).toBe(400);
    expect((await verify({})).json()).toMatchObject({ valid: false, code: 'key_malformed' });
  });

  it('refuses bad requests with 400 and other methods with 405', async () => {
    expect((await call(doors(), { method: 'POST', path: '/v1/keys/verify', body: '{' })).status).toBe(400);
    expect((await verify({ key: good.key, sourceIp: 'nope' }, '127.0.0.2')).status).toBe(400);
    expect((await verify({ key: good.key, permission: 'BAD' })).status).toBe(400);
    expect((await call(doors(), { path: '/v1/keys/verify' })).status).toBe(405);
  });

  it('refuses a wildcard permission, as a route does (one rule: src/rules parseRequiredPermission)', async () => {
    // A key holding the literal wildcard would pass a `devices:*` question that no route may ask.
    const wild = makeKey({ permissions: ['devices:*'] });
    store.upsert(structuredClone(wild.secret));
    try {
      for (const key of [good.key, wild.key]) {
        const r = await verify({ key, permission: 'devices:*' });
        expect(r.status).toBe(400);
        expect(r.json()).toMatchObject({ error: { code: 'bad_request' } });
      }
      expect((await verify({ key: wild.key, permission: 'devices:read' })).json()).toMatchObject({
        valid: true,
      });
    } finally {
      store.remove(`${wild.secret.metadata.namespace}/${wild.secret.metadata.name}`);
    }
  });
});

describe('admin port', () => {
  it('is ready, and /metrics counts decisions by result, reason, environment and door', async () => {
    expect((await call(listeningPort(admin), { path: '/readyz' })).status).toBe(200);
    const m = (await call(listeningPort(admin), { path: '/metrics' })).body;
    expect(m).toMatch(
      /keywarden_validator_decisions_total\{result="allow",reason="ok",environment="production",door="authz"\} \d+/,
    );
    expect(m).toMatch(
      /keywarden_validator_decisions_total\{result="deny",reason="rate_limited",environment="production",door="authz"\} 3/,
    );
    expect(m).toMatch(/keywarden_validator_rate_limited_requests_total\{environment="production"\} 3/);
    expect(m).toMatch(/keywarden_validator_keys\{state="active",environment="production"\} 4/);
    expect(m).toMatch(/keywarden_validator_decision_duration_seconds_bucket/);
    expect(m).toMatch(/keywarden_validator_upstream_duration_seconds_count\{code_class="2xx"\} \d+/);
    expect(m).toMatch(/process_cpu_seconds_total/);
    expect(m).not.toContain(good.keyId);
  });
});
