import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKeyPem } from '../../src/validator/identity/signer.ts';
import type { Validator } from '../../src/validator/server.ts';
import { freePort, type Nginx, startNginx } from '../support/http/nginx.ts';
import { type RawReply, rawRequest } from '../support/http/raw-http.ts';
import { startValidator } from '../support/validator/in-process.ts';
import { makeKey } from '../support/validator/keys.ts';

// Actor: a network client holding a valid low-privilege key (devices:read), talking to a REAL nginx
// (Debian nginx-light) that asks the validator's /authz/nginx with `auth_request`, configured as the
// nginx documentation and ingress-nginx do, and copies the identity headers upstream with
// auth_request_set + proxy_set_header. The protected app is a Node server that records every request
// it receives. Must never: reach a route the key lacks; make a forged identity header reach the app.
// The validator runs in this process with its key store fed directly (the store's watch of a real
// API server is tested in test/integration/validator.test.ts).

const low = makeKey({ permissions: ['devices:read'] });
const fenced = makeKey({ permissions: ['devices:read'], allowedSources: ['198.51.100.0/24'] });
const IDENTITY = [
  'X-Keywarden-Key-Id',
  'X-Keywarden-ApiKey-Name',
  'X-Keywarden-ApiKey-Namespace',
  'X-Keywarden-Environment',
  'X-Keywarden-Key-Type',
  'X-Keywarden-Permissions',
  'X-Keywarden-Customers',
  'X-Keywarden-Client-Ip',
  'X-Keywarden-Jwt',
];

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  names: string[];
}

let validator: Validator;
let app: Server;
let nginx: Nginx;
const received: Received[] = [];
const port: Record<string, number> = {};

/** The nginx server blocks: `copy` lists the identity headers copied upstream. */
interface Front {
  name: string;
  underscores: boolean;
  /** proxy_set_header lines of the auth subrequest. */
  original: string[];
  copy: string[];
}

const FRONTS: Front[] = [
  {
    // nginx's documented auth_request setup, plus the method
    name: 'nginx-docs',
    underscores: false,
    original: ['X-Original-URI $request_uri', 'X-Original-Method $request_method'],
    copy: IDENTITY,
  },
  {
    name: 'nginx-docs-underscores',
    underscores: true,
    original: ['X-Original-URI $request_uri', 'X-Original-Method $request_method'],
    copy: IDENTITY,
  },
  {
    // what ingress-nginx generates for auth-url
    name: 'ingress-nginx',
    underscores: true,
    original: [
      'X-Original-URL $scheme://$http_host$request_uri',
      'X-Original-Method $request_method',
      'X-Auth-Request-Redirect $request_uri',
      'X-Sent-From "nginx-ingress-controller"',
    ],
    copy: IDENTITY,
  },
  {
    // a user who copies only the key id upstream
    name: 'partial-copy',
    underscores: true,
    original: ['X-Original-URI $request_uri', 'X-Original-Method $request_method'],
    copy: ['X-Keywarden-Key-Id'],
  },
  {
    // nginx's example verbatim: no X-Original-Method (the subrequest itself is always a GET)
    name: 'no-method',
    underscores: false,
    original: ['X-Original-URI $request_uri'],
    copy: IDENTITY,
  },
];

const variable = (h: string) => `kw_${h.slice('X-Keywarden-'.length).toLowerCase().replaceAll('-', '_')}`;

function serverBlock(f: Front, listen: number, validatorPort: number, appPort: number): string {
  const copy = f.copy
    .map(
      (h) =>
        `      auth_request_set $${variable(h)} $upstream_http_${h.toLowerCase().replaceAll('-', '_')};\n` +
        `      proxy_set_header ${h} $${variable(h)};`,
    )
    .join('\n');
  return `
  server {
    listen 127.0.0.1:${listen};
    underscores_in_headers ${f.underscores ? 'on' : 'off'};
    location / {
      auth_request /_keywarden;
${copy}
      # the key is for the validator only (docs/validator.md)
      proxy_set_header X-API-Key "";
      proxy_pass http://127.0.0.1:${appPort};
    }
    location = /_keywarden {
      internal;
      proxy_pass http://127.0.0.1:${validatorPort}/authz/nginx;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
${f.original.map((l) => `      proxy_set_header ${l};`).join('\n')}
    }
  }`;
}

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kw-nginx-jwt-'));
  writeFileSync(join(dir, 'jwt.pem'), generateSigningKeyPem('EdDSA'));
  validator = await startValidator(
    [
      'environment: production',
      'routes:',
      '  - { path: /, methods: [GET], permission: devices:read }',
      '  - { path: /v1/devices/**, methods: [GET], permission: devices:read }',
      '  - { path: /v1/devices/**, methods: [DELETE], permission: devices:write }',
      '  - { path: /v1/admin/**, permission: admin:write }',
      `identity: { jwt: { issuer: kw-nginx, ttl: 30s, signingKey: { file: ${join(dir, 'jwt.pem')} } } }`,
    ],
    [low, fenced],
  );
  app = createServer((req, res) => {
    received.push({
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      names: req.rawHeaders.filter((_, i) => i % 2 === 0),
    });
    req.resume();
    res.end('app');
  });
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  const appPort = (app.address() as AddressInfo).port;
  const blocks: string[] = [];
  for (const f of FRONTS) {
    port[f.name] = await freePort();
    blocks.push(serverBlock(f, port[f.name] as number, validator.port, appPort));
  }
  nginx = await startNginx(blocks.join('\n'), Object.values(port));
});

afterAll(async () => {
  await nginx?.stop();
  await validator?.stop();
  app?.close();
});

function send(
  front: string,
  method: string,
  target: string,
  headers: string[],
  host = 'api.example.com',
): Promise<RawReply> {
  const head = `${method} ${target} HTTP/1.1\r\nHost: ${host}\r\n${headers.map((h) => `${h}\r\n`).join('')}Connection: close\r\n\r\n`;
  return rawRequest(port[front] as number, head);
}

/** Sends, and returns the answer and what (if anything) reached the app for it. */
async function attempt(
  front: string,
  method: string,
  target: string,
  headers: string[],
  host?: string,
): Promise<{ reply: RawReply; reached: Received[] }> {
  const before = received.length;
  const reply = await send(front, method, target, headers, host);
  return { reply, reached: received.slice(before) };
}

const KEY = `X-API-Key: ${low.key}`;
const DOORS_WITH_ALL_METHODS = ['nginx-docs', 'nginx-docs-underscores', 'ingress-nginx', 'partial-copy'];

/** Every client spelling of forwarding headers that a forward-auth server might read. */
const HOSTILE_TARGET_HEADERS = [
  'X-Original-URL: /v1/devices/1',
  'X-Original-URI: /v1/devices/1',
  'X-Original-Method: GET',
  'X-Forwarded-Uri: /v1/devices/1',
  'X-Forwarded-Method: GET',
  'X-Forwarded-Host: api.example.com',
  'X-Forwarded-Proto: https',
  'X-Forwarded-Prefix: /v1/devices',
  'X-HTTP-Method-Override: GET',
  'x-original-url: http://api.example.com/v1/devices/1',
  'X_Original_URL: /v1/devices/1',
  'X_Original_URI: /v1/devices/1',
  'X_Original_Method: GET',
  'X_Forwarded_Uri: /v1/devices/1',
  'X_Forwarded_Method: GET',
];

describe('real nginx auth_request in front of /authz/nginx', () => {
  it('the honest path works: the app gets the request with the real identity headers', async () => {
    for (const front of DOORS_WITH_ALL_METHODS) {
      const { reply, reached } = await attempt(front, 'GET', '/v1/devices/1?full=1', [KEY]);
      expect(reply.status, front).toBe(200);
      expect(reached, front).toHaveLength(1);
      const h = reached[0]?.headers ?? {};
      expect(h['x-keywarden-key-id'], front).toBe(low.keyId);
      if (front !== 'partial-copy') {
        expect(h['x-keywarden-permissions'], front).toBe('devices:read');
        expect(h['x-keywarden-jwt'], front).toMatch(/^ey/);
      }
      expect(JSON.stringify(h), front).not.toContain(low.key);
    }
    const wrong = await attempt('nginx-docs', 'GET', '/v1/admin/users', [KEY]);
    expect(wrong.reply.status).toBe(403);
    expect(wrong.reached).toEqual([]);
  });

  it('hostile X-Original-*/X-Forwarded-* headers never let a devices:read key reach /v1/admin or DELETE', async () => {
    const cases: [string, string][] = [
      ['DELETE', '/v1/admin/users'],
      ['GET', '/v1/admin/users'],
      ['POST', '/v1/admin/users'],
      ['DELETE', '/v1/devices/1'],
    ];
    for (const front of DOORS_WITH_ALL_METHODS) {
      for (const [method, target] of cases) {
        for (const extra of [HOSTILE_TARGET_HEADERS, ...HOSTILE_TARGET_HEADERS.map((h) => [h])]) {
          const { reply, reached } = await attempt(front, method, target, [KEY, ...extra]);
          const what = `${front} ${method} ${target} with ${extra.join(' | ')}`;
          expect(reply.status, what).toBe(403);
          expect(reached, what).toEqual([]);
        }
      }
    }
  });

  it('a Host that ends the authority early (`api.example.com?`) is not decided as `/`', async () => {
    for (const host of ['api.example.com?', 'api.example.com#', 'api.example.com?x=', 'u@api.example.com']) {
      const { reply, reached } = await attempt('ingress-nginx', 'GET', '/v1/admin/users', [KEY], host);
      expect(reached, host).toEqual([]);
      expect([400, 403], host).toContain(reply.status);
    }
  });

  it('forged identity headers in any case and with underscores never reach the app', async () => {
    const forged = [
      'X-Keywarden-Key-Id: forged',
      'x-keywarden-permissions: admin:*',
      'X-KEYWARDEN-CUSTOMERS: forged-customer',
      'X-Keywarden-Jwt: forged.jwt.value',
      'X-Keywarden-Client-Ip: 198.51.100.7',
      'X_Keywarden_Key_Id: forged',
      'X_KEYWARDEN_PERMISSIONS: admin:*',
      'x_keywarden_jwt: forged.jwt.value',
      'X-Keywarden_Customers: forged-customer',
      'X_Keywarden_ApiKey_Namespace: kube-system',
    ];
    for (const front of DOORS_WITH_ALL_METHODS) {
      for (const extra of [forged, ...forged.map((h) => [h])]) {
        const { reached } = await attempt(front, 'GET', '/v1/devices/1', [KEY, ...extra]);
        const what = `${front} with ${extra.join(' | ')}`;
        for (const r of reached) {
          const values = JSON.stringify(r.headers);
          expect(values, what).not.toMatch(/forged|admin:\*|kube-system|198\.51\.100\.7/);
          const spoofable = r.names.filter(
            (n) => n.includes('_') && n.toLowerCase().replaceAll('_', '-').startsWith('x-keywarden-'),
          );
          expect(spoofable, what).toEqual([]);
        }
      }
    }
  });

  it('a client-sent X-Forwarded-For does not move a fenced key inside its allowed sources', async () => {
    for (const front of DOORS_WITH_ALL_METHODS) {
      const { reply, reached } = await attempt(front, 'GET', '/v1/devices/1', [
        `X-API-Key: ${fenced.key}`,
        'X-Forwarded-For: 198.51.100.7',
        'X-Real-IP: 198.51.100.7',
        'Forwarded: for=198.51.100.7',
      ]);
      expect(reply.status, front).toBe(403);
      expect(reached, front).toEqual([]);
    }
  });

  it('a config without X-Original-Method fails closed: even an honest GET is refused, so it is noticed', async () => {
    const { reply, reached } = await attempt('no-method', 'GET', '/v1/devices/1', [KEY]);
    expect(reply.status).toBe(403);
    expect(reached).toEqual([]);
  });
});
