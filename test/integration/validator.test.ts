import { randomBytes } from 'node:crypto';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from '../support/http/client.ts';
import { apiKeyPath, getApiKey, patchSpec, revealCli } from '../support/kube/apikeys.ts';
import { adminRest } from '../support/kube/client.ts';
import { promtoolCheckMetrics } from '../support/metrics/promtool.ts';
import { eventually } from '../support/processes/keywarden-process.ts';
import {
  mintKey,
  type RunningValidator,
  startControllerAndValidator,
  startValidator,
  type Upstream,
} from '../support/validator/cluster.ts';

// The validator as its own process, fed by a real API server, with keys minted by the real controller.

const rest = adminRest();
const ns = `val-${randomBytes(3).toString('hex')}`;
let upstream: Upstream;
let v: RunningValidator;
let config = '';
let stop = async () => {};

const ROUTES = `
routes:
  - { path: /v1/devices/**, methods: [GET], permission: devices:read }
  - { path: /v1/devices/**, methods: [POST, DELETE], permission: devices:write }
`;

beforeAll(async () => {
  ({ upstream, v, config, stop } = await startControllerAndValidator(rest, ns, {
    leaseName: `val-${ns}`,
    validatorYaml: (upstreamUrl) => `
environment: production
keyStore: { namespaces: [${ns}] }
trustedProxies: [127.0.0.2/32]
upstream: { url: "${upstreamUrl}" }
${ROUTES}
identity:
  jwt: { issuer: keywarden-it, audience: upstream, ttl: 60s, signingKey: { secret: { namespace: ${ns}, name: validator-jwt } } }
`,
  }));
});

afterAll(() => stop());

const get = (
  key: string | undefined,
  opts: { path?: string; headers?: Record<string, string>; localAddress?: string; method?: string } = {},
) =>
  call(v.port, {
    method: opts.method ?? 'GET',
    path: opts.path ?? '/v1/devices/1',
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...opts.headers },
    localAddress: opts.localAddress,
  });

describe('validator against a real API server and controller', () => {
  it('allows a key minted by the controller; the upstream gets identity headers and a JWT that verifies; forged headers do not pass', async () => {
    const key = await mintKey(rest, ns, 'basic', { permissions: ['devices:read'], customers: ['acme'] });
    upstream.requests.length = 0;
    const r = await eventually(
      async () => {
        const res = await get(key, {
          headers: {
            'x-keywarden-key-id': 'forged',
            'x-keywarden-customers': 'everyone',
            'x-keywarden-jwt': 'forged',
          },
        });
        return res.status === 200 ? res : undefined;
      },
      10_000,
      50,
    );
    expect(r.status).toBe(200);
    const seen = upstream.requests.at(-1)?.headers ?? {};
    const ak = await getApiKey(rest, ns, 'basic');
    expect(seen['x-keywarden-key-id']).toBe(ak.status?.keyId);
    expect(seen['x-keywarden-apikey-name']).toBe('basic');
    expect(seen['x-keywarden-apikey-namespace']).toBe(ns);
    expect(seen['x-keywarden-environment']).toBe('production');
    expect(seen['x-keywarden-permissions']).toBe('devices:read');
    expect(seen['x-keywarden-customers']).toBe('acme');
    expect(seen.authorization).toBeUndefined();
    const jwks = (await call(v.port, { path: '/.well-known/jwks.json' })).json();
    const { payload } = await jwtVerify(String(seen['x-keywarden-jwt']), createLocalJWKSet(jwks as never), {
      issuer: 'keywarden-it',
      audience: 'upstream',
    });
    expect(payload).toMatchObject({
      sub: ak.status?.keyId,
      apikey: { namespace: ns, name: 'basic', uid: ak.metadata.uid },
      customers: ['acme'],
    });
    expect(JSON.stringify(seen)).not.toContain(key);
  });

  it('gives 401 within a second of disabled: true', async () => {
    const key = await mintKey(rest, ns, 'toggle');
    await eventually(async () => ((await get(key)).status === 200 ? true : undefined), 10_000, 50);
    const t0 = Date.now();
    await patchSpec(rest, ns, 'toggle', { disabled: true });
    const r = await eventually(
      async () => {
        const res = await get(key);
        return res.status === 401 ? res : undefined;
      },
      5_000,
      10,
    );
    const elapsed = Date.now() - t0;
    expect(r.json()).toMatchObject({ error: { code: 'key_disabled' } });
    expect(elapsed).toBeLessThan(1_000);
  });

  it('after a regenerate the old secret is 401 and the new one 200', async () => {
    const oldKey = await mintKey(rest, ns, 'rotate', { rotation: { generation: 1 } });
    await eventually(async () => ((await get(oldKey)).status === 200 ? true : undefined), 10_000, 50);
    await patchSpec(rest, ns, 'rotate', { rotation: { generation: 2 } });
    const r = await eventually(
      async () => {
        const res = await get(oldKey);
        return res.status === 401 ? res : undefined;
      },
      10_000,
      20,
    );
    expect(r.json()).toMatchObject({ error: { code: 'key_unknown' } });
    const newKey = (
      await eventually(async () => {
        const out = await revealCli(ns, 'rotate');
        return out.code === 0 ? out : undefined;
      })
    ).stdout.trim();
    expect(newKey).not.toBe(oldKey);
    expect(
      (
        await eventually(
          async () => {
            const res = await get(newKey);
            return res.status === 200 ? res : undefined;
          },
          10_000,
          50,
        )
      ).status,
    ).toBe(200);
    expect((await get(oldKey)).status).toBe(401);
  });

  it('refuses an expired key with 401 key_expired', async () => {
    // Long enough to mint, reveal and use it first (a few seconds on a busy machine).
    const expiresAt = new Date(Date.now() + 12_000);
    const key = await mintKey(rest, ns, 'short', { expiresAt: expiresAt.toISOString() });
    const before = await eventually(
      async () => {
        const res = await get(key);
        return res.status === 200 || Date.now() > expiresAt.getTime() ? res : undefined;
      },
      12_000,
      50,
    );
    expect(before.status).toBe(200);
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt.getTime() - Date.now() + 50)));
    const r = await get(key);
    expect(r.status).toBe(401);
    expect(r.json()).toMatchObject({ error: { code: 'key_expired' } });
  });

  it('refuses a staging key at this production validator with 401', async () => {
    const key = await mintKey(rest, ns, 'stage', { environment: 'staging' });
    expect(key.startsWith('kwsk_stg_') || key.startsWith('kwpk_stg_')).toBe(true);
    const r = await eventually(
      async () => {
        const res = await get(key);
        return res.json<{ error?: { code: string } }>().error?.code === 'wrong_environment' ? res : undefined;
      },
      10_000,
      50,
    );
    expect(r.status).toBe(401);
  });

  it('source: outside the allowlist 403, also with a spoofed X-Forwarded-For; allowed when a trusted proxy sets it', async () => {
    const key = await mintKey(rest, ns, 'fenced', { allowedSources: ['198.51.100.0/24'] });
    const direct = await eventually(
      async () => {
        const res = await get(key);
        return res.status !== 401 ? res : undefined;
      },
      10_000,
      50,
    );
    expect(direct.status).toBe(403);
    expect(direct.json()).toMatchObject({ error: { code: 'source_not_allowed' } });
    const spoofed = await get(key, { headers: { 'x-forwarded-for': '198.51.100.7' } });
    expect(spoofed.status).toBe(403);
    const viaProxy = await get(key, {
      headers: { 'x-forwarded-for': '198.51.100.7' },
      localAddress: '127.0.0.2',
    });
    expect(viaProxy.status).toBe(200);
    const spoofedThroughProxy = await get(key, {
      headers: { 'x-forwarded-for': '198.51.100.7, 203.0.113.9' },
      localAddress: '127.0.0.2',
    });
    expect(spoofedThroughProxy.status).toBe(403);
  });

  it('refuses a route the key has no permission for with 403', async () => {
    const key = await mintKey(rest, ns, 'reader', { permissions: ['devices:read'] });
    await eventually(async () => ((await get(key)).status === 200 ? true : undefined), 10_000, 50);
    const r = await get(key, { method: 'DELETE' });
    expect(r.status).toBe(403);
    expect(r.json()).toMatchObject({ error: { code: 'permission_denied' } });
    expect((await get(key, { path: '/v2/unmapped' })).json()).toMatchObject({
      error: { code: 'route_not_mapped' },
    });
  });

  it('a burst over the rate limit is 429 with Retry-After and RateLimit-*, and passes again after refill', async () => {
    const key = await mintKey(rest, ns, 'limited', { rateLimit: { requests: 1, period: '2s', burst: 3 } });
    await eventually(
      async () =>
        (
          await call(v.internalPort, {
            method: 'POST',
            path: '/v1/keys/verify',
            body: JSON.stringify({ key, permission: 'devices:read' }),
          })
        ).json<{ valid: boolean }>().valid
          ? true
          : undefined,
      10_000,
      50,
    );
    // The verify call above took one token: two left of the burst of three.
    const statuses: number[] = [];
    let last = await get(key);
    statuses.push(last.status);
    for (let i = 0; i < 3; i++) {
      last = await get(key);
      statuses.push(last.status);
    }
    expect(statuses).toEqual([200, 200, 429, 429]);
    expect(last.headers['ratelimit-limit']).toBe('3');
    expect(last.headers['ratelimit-remaining']).toBe('0');
    const retryAfter = Number(last.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(2);
    expect(last.json()).toMatchObject({ error: { code: 'rate_limited' } });
    await new Promise((r) => setTimeout(r, retryAfter * 1000));
    expect((await get(key)).status).toBe(200);
  });

  it('reports lastUsedAt to the ApiKey status, and never moves it backwards', async () => {
    const key = await mintKey(rest, ns, 'used');
    const before = Date.now();
    await eventually(async () => ((await get(key)).status === 200 ? true : undefined), 10_000, 50);
    const first = await eventually(
      async () => (await getApiKey(rest, ns, 'used')).status?.lastUsedAt,
      15_000,
      200,
    );
    expect(Date.parse(first)).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    // Another replica reported a later use; ours (now) is older and must not win, even on shutdown flush.
    const future = new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z');
    await rest.patch(`${apiKeyPath(ns, 'used')}/status`, { status: { lastUsedAt: future } }, 'merge');
    await get(key);
    const second = await startValidator(config);
    await call(second.port, { path: '/v1/devices/1', headers: { authorization: `Bearer ${key}` } });
    await second.proc.stop();
    await new Promise((r) => setTimeout(r, 6_000));
    expect((await getApiKey(rest, ns, 'used')).status?.lastUsedAt).toBe(future);
  });

  it('serves metrics that promtool accepts, with no key ids unless asked', async () => {
    const key = await mintKey(rest, ns, 'metered');
    await eventually(async () => ((await get(key)).status === 200 ? true : undefined), 10_000, 50);
    await get(undefined);
    const metrics = (await call(v.adminPort, { path: '/metrics' })).body;
    expect(metrics).toMatch(
      /keywarden_validator_decisions_total\{result="allow",reason="ok",environment="production",door="proxy"\} [1-9]/,
    );
    expect(metrics).toMatch(
      /keywarden_validator_decisions_total\{result="deny",reason="key_malformed",environment="unknown",door="proxy"\} [1-9]/,
    );
    expect(metrics).toMatch(/keywarden_validator_keys\{state="active",environment="production"\} [1-9]/);
    const lastUpdate = /keywarden_validator_key_store_last_update_timestamp_seconds ([0-9.e+]+)/.exec(
      metrics,
    );
    expect(Math.abs(Date.now() / 1000 - Number(lastUpdate?.[1]))).toBeLessThan(600);
    expect(metrics).not.toMatch(/key_id=/);
    const out = await promtoolCheckMetrics(metrics);
    expect(out.text).toBe('');
    expect(out.code).toBe(0);
  });

  it('drains in-flight requests on SIGTERM and exits 0', async () => {
    const key = await mintKey(rest, ns, 'drain');
    const other = await startValidator(config);
    await eventually(
      async () =>
        (await call(other.port, { path: '/v1/devices/1', headers: { authorization: `Bearer ${key}` } }))
          .status === 200
          ? true
          : undefined,
      10_000,
      50,
    );
    const pending = call(other.port, {
      path: '/v1/devices/slow',
      headers: { authorization: `Bearer ${key}` },
    });
    await eventually(
      async () => (upstream.requests.some((r) => r.url === '/v1/devices/slow') ? true : undefined),
      5_000,
      10,
    );
    const code = await other.proc.stop();
    expect(code).toBe(0);
    expect((await pending).status).toBe(200);
    expect(other.proc.lines.some((l) => l.includes('validator stopped'))).toBe(true);
  });
});
