import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/observability/logger.ts';
import { parseConfig } from '../../../src/validator/config/load.ts';
import { generateSigningKeyPem } from '../../../src/validator/identity/signer.ts';
import { KeyStore } from '../../../src/validator/key-store.ts';
import { Validator } from '../../../src/validator/server.ts';
import { FIXED_HEADER_BUGS, HEADER_EXAMPLES, SEEDS } from '../../support/fuzz/regressions.ts';
import { runs, timeout } from '../../support/fuzz/runs.ts';
import { rawRequest } from '../../support/http/raw-http.ts';
import { makeKey } from '../../support/validator/keys.ts';

// Hostile Authorization / X-API-Key / X-Forwarded-For headers (and forged X-Keywarden-* ones, and
// CR/LF smuggled into values) against the validator's three doors, in-process over real sockets.
// Properties: an answer always comes; no 500, and no 5xx without a body; a 2xx (or `valid: true`) only
// when a valid key of this environment was actually presented; the upstream never sees a forged
// identity header or the key; and the validator still serves a normal request afterwards.

let upstream: Server;
let v: Validator;
const seenUpstream: IncomingHttpHeaders[] = [];
const store = new KeyStore();
const good = makeKey({ permissions: ['devices:read', 'tickets:create'] });
const fenced = makeKey({ permissions: ['devices:read'], allowedSources: ['198.51.100.0/24'] });
const disabled = makeKey({ permissions: ['devices:read'], disabled: true });
const expired = makeKey({
  permissions: ['devices:read'],
  expiresAt: new Date(Date.now() - 60_000).toISOString(),
});
const staging = makeKey({ permissions: ['devices:read'], environment: 'staging' });
const VALID = [good, fenced];
const ALL = [good, fenced, disabled, expired, staging];

beforeAll(async () => {
  upstream = createServer((req, res) => {
    seenUpstream.push(req.headers);
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('upstream ok');
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const dir = mkdtempSync(join(tmpdir(), 'kw-fuzz-headers-'));
  writeFileSync(join(dir, 'jwt.pem'), generateSigningKeyPem('EdDSA'));
  const cfg = parseConfig(
    [
      'environment: production',
      // The test client is a trusted proxy, so X-Forwarded-For is parsed (and fuzzed) on every request.
      'trustedProxies: [127.0.0.1, 10.0.0.0/8]',
      `upstream: { url: "http://127.0.0.1:${(upstream.address() as AddressInfo).port}" }`,
      'routes:',
      '  - { path: /v1/devices/**, methods: [GET, POST], permission: devices:read }',
      '  - { path: /v1/tickets, methods: [POST], permission: tickets:create }',
      `identity: { jwt: { issuer: kw-fuzz, ttl: 30s, signingKey: { file: ${join(dir, 'jwt.pem')} } } }`,
    ].join('\n'),
  );
  if (!cfg.ok) throw new Error(JSON.stringify(cfg.problems));
  for (const k of ALL) store.upsert(structuredClone(k.secret));
  v = new Validator(cfg.value, { rest: undefined, log: createLogger('fuzz', 'silent'), store });
  await v.start({ port: 0, host: '127.0.0.1', internalPort: 0 });
  for (let i = 0; i < 100 && !v.ready().ok; i++) await new Promise((r) => setTimeout(r, 20));
  if (!v.ready().ok) throw new Error('validator not ready');
});

afterAll(async () => {
  await v?.stop();
  upstream?.close();
});

const INJECT = [
  '\r\nX-Keywarden-Key-Id: forged',
  '\nX-Keywarden-Permissions: forged:*',
  '\r\n\r\nGET / HTTP/1.1',
  '\u0000',
  '\r',
];

const arbKeyValue: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...ALL.map((k) => k.key)),
  fc
    .tuple(fc.constantFrom(...ALL.map((k) => k.key)), fc.nat(), fc.string({ unit: 'binary', maxLength: 2 }))
    .map(([k, at, ins]) => {
      const i = at % k.length;
      return k.slice(0, i) + ins + k.slice(i + 1);
    }),
  fc.string({ maxLength: 60 }),
  fc.string({ unit: 'binary-ascii', maxLength: 60 }),
  fc.tuple(fc.constantFrom(...ALL.map((k) => k.key)), fc.constantFrom(...INJECT)).map(([k, s]) => k + s),
  fc.constantFrom('', ' ', 'null', 'undefined', 'kwsk_prod_', 'Bearer'),
);

const arbAuthorization = fc.oneof(
  arbKeyValue.map((k) => `Bearer ${k}`),
  arbKeyValue.map((k) => `bEaReR\t${k} `),
  arbKeyValue.map((k) => `Bearer ${k} ${k}`),
  arbKeyValue.map((k) => `Basic ${Buffer.from(`${k}:`).toString('base64')}`),
  fc.string({ unit: 'binary-ascii', maxLength: 80 }),
);

const arbIp = fc.oneof(
  fc.ipV4(),
  fc.ipV6(),
  fc.constantFrom(
    '198.51.100.7',
    '10.1.2.3',
    '127.0.0.1',
    '::ffff:198.51.100.7',
    '[2001:db8::1]:443',
    '198.51.100.7:8080',
  ),
);
const arbXff = fc.oneof(
  fc.array(arbIp, { minLength: 1, maxLength: 5 }).map((a) => a.join(', ')),
  fc
    .array(fc.oneof(arbIp, fc.string({ maxLength: 12 })), { minLength: 1, maxLength: 4 })
    .map((a) => a.join(',')),
  fc.string({ unit: 'binary-ascii', maxLength: 60 }),
  fc.constantFrom('', ',', 'unknown', '999.1.1.1', '1.2.3.4/24', `${'10.0.0.1,'.repeat(300)}198.51.100.7`),
);

interface Case {
  door: 'authz' | 'verify' | 'proxy';
  authorization?: string;
  xApiKey?: string;
  xForwardedFor?: string;
  forged: boolean;
  bodyKey?: string;
}

const arbCase: fc.Arbitrary<Case> = fc.record(
  {
    door: fc.constantFrom('authz', 'verify', 'proxy'),
    authorization: arbAuthorization,
    xApiKey: arbKeyValue,
    xForwardedFor: arbXff,
    forged: fc.boolean(),
    bodyKey: arbKeyValue,
  },
  { requiredKeys: ['door', 'forged'] },
) as fc.Arbitrary<Case>;

function buildRequest(c: Case): { head: string; body: string } {
  const h: string[] = [];
  if (c.authorization !== undefined) h.push(`Authorization: ${c.authorization}`);
  if (c.xApiKey !== undefined) h.push(`X-API-Key: ${c.xApiKey}`);
  if (c.xForwardedFor !== undefined) h.push(`X-Forwarded-For: ${c.xForwardedFor}`);
  if (c.forged)
    h.push('X-Keywarden-Key-Id: forged', 'X-Keywarden-Permissions: forged:*', 'x-keywarden-jwt: forged');
  let line: string;
  let body = '';
  if (c.door === 'authz') {
    line = 'GET /authz/traefik HTTP/1.1';
    h.push('X-Forwarded-Method: GET', 'X-Forwarded-Uri: /v1/devices/1');
  } else if (c.door === 'verify') {
    line = 'POST /v1/keys/verify HTTP/1.1';
    body = c.bodyKey === undefined ? '' : JSON.stringify({ key: c.bodyKey, permission: 'devices:read' });
    h.push('Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body, 'latin1')}`);
  } else {
    line = 'GET /v1/devices/1 HTTP/1.1';
  }
  return {
    head: `${line}\r\nHost: validator\r\n${h.join('\r\n')}${h.length ? '\r\n' : ''}Connection: close\r\n\r\n`,
    body,
  };
}

async function check(c: Case): Promise<void> {
  const { head, body } = buildRequest(c);
  const before = seenUpstream.length;
  // Forward auth and verify are served on the internal port of a reverse proxy.
  const r = await rawRequest(c.door === 'proxy' ? v.port : v.internalPort, head, body);
  expect(r.dropped, `no answer to ${JSON.stringify(head)}`).toBe(false);
  expect(r.status, r.body).not.toBe(500);
  if (r.status >= 500) expect(r.body.length).toBeGreaterThan(0);
  const presented = head + body;
  const validPresented = VALID.some((k) => presented.includes(k.key));
  let accepted = r.status >= 200 && r.status < 300;
  if (c.door === 'verify' && accepted) accepted = (JSON.parse(r.body) as { valid?: boolean }).valid === true;
  if (accepted) expect(validPresented, `accepted without a valid key: ${JSON.stringify(head)}`).toBe(true);
  if (accepted && c.door !== 'verify') {
    const id = r.headers['x-keywarden-key-id'] ?? (c.door === 'proxy' ? 'upstream' : undefined);
    expect(id).toBeDefined();
  }
  for (const seen of seenUpstream.slice(before)) {
    expect(seen['x-api-key']).toBeUndefined();
    for (const [name, value] of Object.entries(seen)) {
      if (name.startsWith('x-keywarden-')) expect(String(value)).not.toContain('forged');
      for (const k of ALL) expect(String(value)).not.toContain(k.key);
    }
    expect(VALID.map((k) => k.keyId)).toContain(seen['x-keywarden-key-id']);
  }
}

describe('fuzz: Authorization / X-API-Key / X-Forwarded-For against the validator', () => {
  it('never crashes, never 5xx without a body, never accepts a junk key', {
    timeout: timeout(60_000),
  }, async () => {
    for (const e of HEADER_EXAMPLES) await check({ door: 'authz', forged: true, ...e });
    for (const r of SEEDS.validatorHeaders ?? [])
      await fc.assert(
        fc.asyncProperty(arbCase, (c) => check(c)),
        { seed: r.seed, path: r.path, endOnFailure: true },
      );
    await fc.assert(
      fc.asyncProperty(arbCase, (c) => check(c)),
      { numRuns: runs(800) },
    );
  });

  for (const bug of FIXED_HEADER_BUGS)
    it(`regression (fixed): ${bug.title}`, async () => {
      for (const k of VALID) {
        await check({
          door: 'proxy',
          forged: false,
          authorization: bug.case.authorization.replace('{key}', k.key),
          ...(bug.case.xApiKeyIsSameKey ? { xApiKey: k.key } : {}),
        });
      }
    });

  it('still serves a valid key afterwards (a known-good request is allowed end to end)', async () => {
    const r = await rawRequest(
      v.port,
      `GET /v1/devices/1 HTTP/1.1\r\nHost: v\r\nX-API-Key: ${good.key}\r\nX-Keywarden-Key-Id: forged\r\nConnection: close\r\n\r\n`,
    );
    expect(r.status, JSON.stringify(r)).toBe(200);
    expect(r.body).toBe('upstream ok');
    const seen = seenUpstream.at(-1);
    expect(seen?.['x-keywarden-key-id']).toBe(good.keyId);
    expect(seen?.['x-api-key']).toBeUndefined();
  });
});
