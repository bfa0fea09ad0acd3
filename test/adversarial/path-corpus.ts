// The corpus of the differential path test: spellings of the protected path /v1/admin/users (and a
// few legitimate paths), and the forward-auth doors as a proxy calls them. Raw bytes throughout.

export interface Variant {
  label: string;
  method: string;
  /** The request target as raw bytes (latin1: one char per byte). */
  target: string;
  /** Extra raw header lines (Host tricks), each without CRLF. */
  headers?: string[];
  /** Replaces the Host header line (undefined: `Host: 127.0.0.1`; '' sends none). */
  host?: string;
}

export interface ForwardAuthDoor {
  name: string;
  /** The auth request the proxy sends the validator, or undefined when the proxy refuses the request itself. */
  request: (v: Variant, key: string) => string | undefined;
  /** The target the proxy sends upstream once allowed. */
  upstreamTarget: (v: Variant) => string;
}

// The forward-auth doors, one line each: what the proxy sends the validator for the original request.
export const FORWARD_AUTH_DOORS: ForwardAuthDoor[] = [
  {
    name: 'forward auth, nginx auth_request',
    request: (v, key) =>
      head('GET', '/authz/nginx', key, [`X-Original-Method: ${v.method}`, `X-Original-URI: ${v.target}`]),
    upstreamTarget: (v) => v.target,
  },
  {
    name: 'forward auth, Traefik ForwardAuth',
    request: (v, key) =>
      head('GET', '/authz/traefik', key, [
        `X-Forwarded-Method: ${v.method}`,
        `X-Forwarded-Uri: ${v.target}`,
        'X-Forwarded-Proto: http',
        'X-Forwarded-Host: api.example',
      ]),
    upstreamTarget: (v) => v.target,
  },
  {
    name: 'forward auth, Envoy ext_authz',
    request: (v, key) => {
      const path = envoyPath(v.target);
      return path === undefined ? undefined : head(v.method, `/authz/envoy${path}`, key, []);
    },
    upstreamTarget: (v) => envoyPath(v.target) ?? v.target,
  },
];

/** Envoy sends :path, which for an absolute-form target is the part after the authority. */
function envoyPath(target: string): string | undefined {
  if (target.startsWith('/')) return target;
  const absolute = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*(.*)$/.exec(target);
  if (!absolute) return undefined; // neither origin-form nor absolute-form: Envoy answers 400 itself
  const rest = absolute[1] ?? '';
  return rest.startsWith('/') ? rest : `/${rest}`;
}

export function head(
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
export function corpus(): Variant[] {
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
export const LEGITIMATE: Variant[] = [
  { label: 'plain', method: 'GET', target: '/v1/public/users' },
  { label: 'query with encodings', method: 'GET', target: '/v1/public/users?q=%61%2F..&x=;' },
  { label: 'data characters', method: 'GET', target: "/v1/files/a!$&'()*+,=:@b" },
  { label: 'encoded data', method: 'GET', target: '/v1/files/a%22b%7B%7D%5B%5D' },
  { label: 'case inside data', method: 'GET', target: '/v1/devices/AbC123' },
];
