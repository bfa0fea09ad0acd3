import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminRest } from '../integration/support/kube.ts';
import { createNamespace } from '../integration/support/kubectl.ts';
import { type RunningValidator, startValidator, writeConfig } from '../integration/validator-support.ts';
import { type RawReply, rawRequest } from '../unit/fuzz/raw-http.ts';
import { type KeyedNamespace, keyedNamespace } from './keyed-validator.ts';
import {
  type RealUpstream,
  startRealUpstream,
  UPSTREAM_KINDS,
  type UpstreamKind,
} from './upstreams/index.ts';

// Actor: the holder of a valid low-privilege key (data:read). Never: reach a handler that needs a
// permission the key lacks (admin:manage) by spelling the path so that the validator and the upstream
// read it differently. Every variant of the corpus goes through every front door of real validator
// processes to three real upstreams (Express 5, Go net/http ServeMux, Python http.server), which
// print every handler they run. Forward auth is played as a proxy plays it: ask the validator with the
// original request in headers (or in the Envoy path), and send the same raw bytes upstream only on 2xx.

const NARROW = 'admin:manage';
const BROAD = 'data:read';
const ROUTES = `
routes:
  - { path: /v1/admin/**, permission: ${NARROW} }
  - { path: /v1/**, permission: ${BROAD} }
unmappedRoutes: allow
`;

interface Variant {
  label: string;
  method: string;
  /** The request target as raw bytes (latin1: one char per byte). */
  target: string;
  /** Extra raw header lines (Host tricks), each without CRLF. */
  headers?: string[];
  /** Replaces the Host header line (undefined: `Host: 127.0.0.1`; '' sends none). */
  host?: string;
}

type ForwardAuthDoor = { name: string; request: (v: Variant, key: string) => string };

// The forward-auth doors, one line each: what the proxy sends the validator for the original request.
// (When the styles move to /authz/traefik etc., only the paths here change.)
const FORWARD_AUTH_DOORS: ForwardAuthDoor[] = [
  {
    name: 'forward auth, nginx auth_request',
    request: (v, key) =>
      head('GET', '/authz/nginx', key, [`X-Original-Method: ${v.method}`, `X-Original-URI: ${v.target}`]),
  },
  {
    name: 'forward auth, Traefik ForwardAuth',
    request: (v, key) =>
      head('GET', '/authz', key, [
        `X-Forwarded-Method: ${v.method}`,
        `X-Forwarded-Uri: ${v.target}`,
        'X-Forwarded-Proto: http',
        'X-Forwarded-Host: api.example',
      ]),
  },
  {
    name: 'forward auth, Envoy ext_authz',
    request: (v, key) => head(v.method, `/authz/envoy${envoyPath(v.target)}`, key, []),
  },
];

/** Envoy sends :path, which for an absolute-form target is the part after the authority. */
function envoyPath(target: string): string {
  const rest = target.replace(/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/, '');
  return rest.startsWith('/') ? rest : `/${rest}`;
}

function head(
  method: string,
  target: string,
  key: string | undefined,
  lines: string[],
  host?: string,
): string {
  const hostLine = host === undefined ? ['Host: 127.0.0.1'] : host === '' ? [] : [host];
  return [
    `${method} ${target} HTTP/1.1`,
    ...hostLine,
    ...(key ? [`X-API-Key: ${key}`] : []),
    ...lines,
    'Connection: close',
    '',
    '',
  ].join('\r\n');
}

const hex2 = (b: number) => b.toString(16).toUpperCase().padStart(2, '0');
const utf8 = (s: string) => Buffer.from(s, 'utf8').toString('latin1');

/** The corpus: at least 300 spellings of the protected path, and a few of the broad one. */
function corpus(): Variant[] {
  const out: Variant[] = [];
  const add = (label: string, target: string, extra: Partial<Variant> = {}) =>
    out.push({ label, method: 'GET', target, ...extra });
  const base = '/v1/admin/users';
  // Letter case: each letter alone, whole segments, everything.
  for (let i = 0; i < base.length; i++) {
    const c = base.charAt(i);
    if (/[a-z]/.test(c)) add(`case ${i}`, base.slice(0, i) + c.toUpperCase() + base.slice(i + 1));
  }
  for (const t of ['/V1/admin/users', '/v1/ADMIN/users', '/v1/Admin/Users', '/V1/ADMIN/USERS', '/v1/aDmIn'])
    add('case', t);
  // Slashes.
  for (const t of [
    '/v1/admin/users/',
    '/v1/admin/users//',
    '//v1/admin/users',
    '/v1//admin/users',
    '/v1/admin//users',
    '///v1/admin/users',
    '/v1/admin/',
    '/v1/admin',
    '/v1/Admin/',
    '/v1\\admin\\users',
    '/v1/admin\\users',
    '\\v1/admin/users',
    '/v1/public\\..\\admin/users',
    '/v1/admin/users\\',
  ])
    add('slashes', t);
  // Dot segments, raw and encoded.
  for (const t of [
    '/v1/./admin/users',
    '/v1/admin/./users',
    '/./v1/admin/users',
    '/v1/public/../admin/users',
    '/v1/x/y/../../admin/users',
    '/v1/admin/users/.',
    '/v1/admin/users/..',
    '/v1/admin/users/x/..',
    '/v1/public/%2e%2e/admin/users',
    '/v1/public/%2E%2E/admin/users',
    '/v1/public/.%2e/admin/users',
    '/v1/public/%2e./admin/users',
    '/v1/public/..%2fadmin/users',
    '/v1/public/..%2Fadmin/users',
    '/v1/public/..%5cadmin/users',
    '/v1/public/%2e%2e%2fadmin/users',
    '/v1/%2e/admin/users',
    '/v1/public/.../admin/users',
    '/v1/admin./users',
    '/v1/admin/users.',
    '/v1/admin/users%2e',
    '/v1/public/%252e%252e/admin/users',
    '/v1/public/%c0%ae%c0%ae/admin/users',
  ])
    add('dots', t);
  // Path parameters (Tomcat, Jetty, Spring strip them).
  for (const t of [
    '/v1/admin;/users',
    '/v1/admin;x=1/users',
    '/v1/admin/users;',
    '/v1/admin/users;jsessionid=0',
    '/v1/public/..;/admin/users',
    '/v1/public;/../admin/users',
    '/;/v1/admin/users',
    '/v1;x/admin/users',
    '/v1/admin%3b/users',
    '/v1/admin%3B/users',
    '/v1/public/..%3b/admin/users',
  ])
    add('semicolons', t);
  // Each character of the path percent-encoded, in both hex cases.
  for (let i = 0; i < base.length; i++) {
    const code = base.charCodeAt(i);
    for (const h of [hex2(code), hex2(code).toLowerCase()])
      if (i > 0) add(`encoded char ${i}`, `${base.slice(0, i)}%${h}${base.slice(i + 1)}`);
  }
  add('encoded segment', '/v1/%61%64%6D%69%6E/users');
  add('double-encoded', '/v1/%2561dmin/users');
  add('IIS %u', '/v1/%u0061dmin/users');
  // Every byte, percent-encoded, inside the protected segment and after the path.
  for (let b = 0; b < 256; b++) add(`byte %${hex2(b)} in segment`, `/v1/admin%${hex2(b)}/users`);
  for (const b of [0x00, 0x09, 0x0a, 0x0d, 0x20, 0x23, 0x25, 0x2f, 0x3b, 0x3f, 0x5c, 0x2e, 0x7f, 0xff])
    add(`byte %${hex2(b)} after`, `/v1/admin/users%${hex2(b)}`);
  // Raw bytes: NUL, controls, spaces, non-ASCII (raw UTF-8 and Latin-1), look-alikes.
  for (const [label, t] of [
    ['raw NUL', '/v1/admin/users\u0000'],
    ['raw NUL in segment', '/v1/admin\u0000/users'],
    ['raw tab', '/v1/admin/users\t'],
    ['raw DEL', '/v1/admin\u007f/users'],
    ['raw 0xFF', '/v1/admin\u00ff/users'],
    ['raw UTF-8 ä', utf8('/v1/ädmin/users')],
    ['dotless i', utf8('/v1/admın/users')],
    ['dotted capital I', utf8('/v1/ADMİN/users')],
    ['fullwidth slash raw', utf8('/v1/admin／users')],
    ['fullwidth letters', utf8('/v1/ａｄｍｉｎ/users')],
    ['long s', utf8('/v1/admin/ſers')],
    ['fullwidth slash encoded', '/v1/admin%EF%BC%8Fusers'],
    ['overlong / (2 bytes)', '/v1/admin%C0%AFusers'],
    ['overlong / (3 bytes)', '/v1/admin%E0%80%AFusers'],
    ['overlong / (4 bytes)', '/v1/admin%F0%80%80%AFusers'],
    ['overlong a', '/v1/%C1%A1dmin/users'],
    ['overlong backslash', '/v1/admin%C1%9Cusers'],
    ['encoded UTF-8 é', '/v1/%C3%A9/../admin/users'],
  ])
    add(label as string, t as string);
  // Spaces (a raw space ends the target: what follows is a hostile request line).
  add('raw space', '/v1/admin/users HTTP/1.1\r\nX-Smuggled: 1');
  add('encoded space in segment', '/v1/admin%20/users');
  add('plus', '/v1/admin+/users');
  // Absolute-form and other target forms.
  for (const t of [
    'http://127.0.0.1/v1/admin/users',
    'HTTP://127.0.0.1/v1/admin/users',
    'https://127.0.0.1/v1/admin/users',
    'http://127.0.0.1//v1/admin/users',
    'http://127.0.0.1/v1/ADMIN/users',
    'http://127.0.0.1?/v1/admin/users',
    'http://127.0.0.1#/v1/admin/users',
    'http://x@127.0.0.1/v1/admin/users',
    'http:/v1/admin/users',
    '//127.0.0.1/v1/admin/users',
    'v1/admin/users',
    '*',
  ])
    add('target form', t);
  // Query and fragment tricks.
  for (const t of [
    '/v1/public?/../admin/users',
    '/v1/public?x=/v1/admin/users',
    '/v1/admin/users?x=1',
    '/v1/admin/users#x',
    '/v1/public#/../admin/users',
    '/v1/admin/users%3Fx',
    '/v1/admin%3F/users',
    '/v1/admin%23/users',
  ])
    add('query', t);
  // Host tricks and headers some frameworks route on.
  const hostTricks: [string, Partial<Variant>][] = [
    ['Host with a path', { host: 'Host: 127.0.0.1/v1/admin/users' }],
    ['Host with ?', { host: 'Host: 127.0.0.1?/v1/admin/users' }],
    ['no Host', { host: '' }],
    ['two Host headers', { headers: ['Host: evil.example'] }],
    ['Host with userinfo', { host: 'Host: a@127.0.0.1' }],
    ['X-Original-URL', { headers: ['X-Original-URL: /v1/admin/users'] }],
    ['X-Rewrite-URL', { headers: ['X-Rewrite-URL: /v1/admin/users'] }],
    ['X-Forwarded-Prefix', { headers: ['X-Forwarded-Prefix: /v1/admin'] }],
    ['X-HTTP-Method-Override', { headers: ['X-HTTP-Method-Override: DELETE'] }],
  ];
  for (const [label, extra] of hostTricks) {
    add(label, '/v1/public/users', extra);
    add(`${label}, case`, '/v1/ADMIN/users', extra);
  }
  // Other methods on the case and slash variants.
  for (const method of ['POST', 'DELETE', 'HEAD', 'OPTIONS'])
    for (const t of ['/v1/ADMIN/users', '/v1/admin/users/', '/v1/%61dmin/users'])
      out.push({ label: `method ${method}`, method, target: t });
  return out;
}

/** Paths that must keep working: the same doors answer 2xx and the broad handler runs. */
const LEGITIMATE: Variant[] = [
  { label: 'plain', method: 'GET', target: '/v1/public/users' },
  { label: 'query with encodings', method: 'GET', target: '/v1/public/users?q=%61%2F..&x=;' },
  { label: 'data characters', method: 'GET', target: "/v1/files/a!$&'()*+,=:@b" },
  { label: 'encoded data', method: 'GET', target: '/v1/files/a%22b%7B%7D%5B%5D' },
  { label: 'case inside data', method: 'GET', target: '/v1/devices/AbC123' },
];

let keyed: KeyedNamespace;
let key: string;
let authzValidator: RunningValidator;
const upstreams = new Map<UpstreamKind, RealUpstream>();
const proxies = new Map<UpstreamKind, RunningValidator>();
const rest = adminRest();

const send = (port: number, raw: string) => rawRequest(port, raw, '', { timeoutMs: 15_000 });
/** The handler that ran, from the upstream's answer (undefined when no upstream handler answered). */
const handlerOf = (r: RawReply) => r.headers['x-handler'] ?? /handler=(\w+)/.exec(r.body)?.[1];
const adminHits = (u: RealUpstream) => u.hits.filter((h) => h.handler === 'admin');

beforeAll(async () => {
  const ns = await createNamespace('adv-paths');
  keyed = await keyedNamespace(rest, ns);
  const started = await Promise.all(UPSTREAM_KINDS.map((k) => startRealUpstream(k)));
  for (const u of started) upstreams.set(u.kind, u);
  key = await keyed.mint('low', { environment: 'production', permissions: [BROAD] });
  const common = `environment: production\nkeyStore: { namespaces: [${ns}] }\nlastUsed: { enabled: false }\n${ROUTES}`;
  const [authz, ...proxied] = await Promise.all([
    startValidator(writeConfig(common)),
    ...started.map((u) => startValidator(writeConfig(`${common}\nupstream: { url: "${u.url}" }\n`))),
  ]);
  authzValidator = authz as RunningValidator;
  started.forEach((u, i) => {
    proxies.set(u.kind, proxied[i] as RunningValidator);
  });
}, 300_000);

afterAll(async () => {
  await Promise.all([authzValidator?.proc.stop(), ...[...proxies.values()].map((v) => v.proc.stop())]);
  await Promise.all([...upstreams.values()].map((u) => u.stop()));
  await keyed?.stop();
});

describe('differential paths: validator vs Express 5, Go net/http, Python http.server', () => {
  const variants = corpus();

  it('the corpus has at least 300 variants', () => {
    expect(variants.length).toBeGreaterThanOrEqual(300);
  });

  it('every door refuses the narrow route itself and serves legitimate paths', async () => {
    for (const u of upstreams.values()) {
      const port = (proxies.get(u.kind) as RunningValidator).port;
      const denied = await send(port, head('GET', '/v1/admin/users', key, []));
      expect(denied.status, `proxy to ${u.kind}`).toBe(403);
      for (const v of LEGITIMATE) {
        const r = await send(port, head(v.method, v.target, key, []));
        expect([r.status, handlerOf(r)], `proxy to ${u.kind}: ${v.label}`).toEqual([200, 'broad']);
      }
    }
    for (const door of FORWARD_AUTH_DOORS) {
      const denied = await send(
        authzValidator.port,
        door.request(LEGITIMATE[0] as Variant, key).replace('/v1/public/users', '/v1/admin/users'),
      );
      expect(denied.status, door.name).toBe(403);
      for (const v of LEGITIMATE) {
        const r = await send(authzValidator.port, door.request(v, key));
        expect(r.status, `${door.name}: ${v.label}`).toBe(200);
      }
    }
    for (const u of upstreams.values()) expect(adminHits(u), u.kind).toEqual([]);
  });

  it('no variant reaches the admin handler through any door', async () => {
    const reached: string[] = [];
    // Reverse proxy: the validator forwards the raw request itself (one validator per upstream).
    const viaProxy = [...proxies].map(async ([kind, v]) => {
      for (const variant of variants) {
        const r = await send(
          v.port,
          head(variant.method, variant.target, key, variant.headers ?? [], variant.host),
        );
        if (handlerOf(r) === 'admin')
          reached.push(`proxy → ${kind}: ${variant.label} ${JSON.stringify(variant.target)}`);
      }
    });
    // Forward auth: on 2xx the proxy sends the same raw request to the upstream.
    const viaForwardAuth = FORWARD_AUTH_DOORS.map(async (door) => {
      for (const variant of variants) {
        const answer = await send(authzValidator.port, door.request(variant, key));
        if (answer.status < 200 || answer.status > 299) continue;
        for (const u of upstreams.values()) {
          const r = await send(
            u.port,
            head(variant.method, variant.target, undefined, variant.headers ?? [], variant.host),
          );
          if (handlerOf(r) === 'admin')
            reached.push(`${door.name} → ${u.kind}: ${variant.label} ${JSON.stringify(variant.target)}`);
        }
      }
    });
    await Promise.all([...viaProxy, ...viaForwardAuth]);
    expect(reached).toEqual([]);
    // What the upstreams printed is the ground truth (an answer can be lost; a HIT line cannot).
    for (const u of upstreams.values()) expect(adminHits(u), `${u.kind} ran the admin handler`).toEqual([]);
  }, 600_000);

  it('the corpus does reach the admin handler of each upstream when sent to it directly', async () => {
    // Without this the test above could pass on a corpus no upstream reads as the admin path.
    for (const u of upstreams.values()) {
      const before = adminHits(u).length;
      for (const variant of variants) {
        if (variant.target === '/v1/admin/users') continue;
        await send(
          u.port,
          head(variant.method, variant.target, undefined, variant.headers ?? [], variant.host),
        );
      }
      expect(adminHits(u).length - before, `${u.kind}: variants read as the admin path`).toBeGreaterThan(5);
    }
  }, 300_000);
});
