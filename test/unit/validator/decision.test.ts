import { describe, expect, it } from 'vitest';
import { generateKey } from '../../../src/rules/index.ts';
import { type DecisionContext, decide, type Requirement } from '../../../src/validator/decision.ts';
import { KeyStore } from '../../../src/validator/key-store.ts';
import { RateLimiter } from '../../../src/validator/rate-limiter.ts';
import { makeKey, type TestKey } from '../../support/validator/keys.ts';

const NOW = Date.parse('2030-01-01T00:00:00Z');
const later = (ms: number) => new Date(NOW + ms).toISOString();

function setup(...keys: TestKey[]) {
  const store = new KeyStore();
  for (const k of keys) store.upsert(structuredClone(k.secret));
  const limiter = new RateLimiter();
  let lookups = 0;
  const ctx: DecisionContext = {
    environment: 'production',
    lookup: (id) => {
      lookups++;
      return store.get(id);
    },
    unmappedRoutes: 'deny',
    takeToken: (k, now) => limiter.take(k, now),
  };
  return { store, ctx, lookups: () => lookups };
}

const need = (permission: string): Requirement => ({ permission });
const run = (
  ctx: DecisionContext,
  key: string | undefined,
  opts: { ip?: string; req?: Requirement; now?: number } = {},
) =>
  decide(
    {
      key,
      clientIp: opts.ip ?? '203.0.113.7',
      requirement: opts.req ?? need('devices:read'),
      nowMs: opts.now ?? NOW,
    },
    ctx,
  );

describe('decide: the decision table, in order', () => {
  const base = { expiresAt: later(86_400_000) };

  it('allows a good key with the permission', () => {
    const k = makeKey(base);
    const { ctx } = setup(k);
    const d = run(ctx, k.key);
    expect(d).toMatchObject({ allowed: true, status: 200 });
    if (d.allowed) expect(d.key.keyId).toBe(k.keyId);
  });

  it('refuses a malformed key (or none) with 401 key_malformed and no lookup', () => {
    const k = makeKey(base);
    const { ctx, lookups } = setup(k);
    const typo = `${k.key.slice(0, 20)}${k.key[20] === 'a' ? 'b' : 'a'}${k.key.slice(21)}`;
    for (const bad of [undefined, '', 'hello', typo, `${k.key}x`, 'kwsk_prod_'.padEnd(200, 'a')]) {
      const d = run(ctx, bad);
      expect(d).toMatchObject({ allowed: false, status: 401, code: 'key_malformed' });
      if (!d.allowed && bad) expect(d.message).not.toContain(bad);
    }
    expect(lookups()).toBe(0);
  });

  it('refuses an unknown key id and a wrong secret for a known id alike: 401 key_unknown', () => {
    const k = makeKey(base);
    const { ctx } = setup(k);
    expect(run(ctx, generateKey({ type: 'private', environment: 'production' }))).toMatchObject({
      status: 401,
      code: 'key_unknown',
    });
    const forged = generateKey({ type: 'private', environment: 'production', keyId: k.keyId });
    const d = run(ctx, forged);
    expect(d).toMatchObject({ status: 401, code: 'key_unknown', key: undefined });
  });

  it('accepts the previous secret only inside its grace period', () => {
    const old = makeKey(base);
    const fresh = makeKey({
      ...base,
      keyId: old.keyId,
      previous: { hash: old.record.hash, validUntil: later(60_000) },
    });
    const { ctx } = setup(fresh);
    expect(run(ctx, fresh.key)).toMatchObject({ allowed: true });
    expect(run(ctx, old.key)).toMatchObject({ allowed: true });
    expect(run(ctx, old.key, { now: NOW + 60_000 })).toMatchObject({ status: 401, code: 'key_unknown' });
  });

  it('refuses a key of another environment with 401 wrong_environment (after proving it)', () => {
    const k = makeKey({ ...base, environment: 'staging' });
    const { ctx } = setup(k);
    expect(run(ctx, k.key)).toMatchObject({ status: 401, code: 'wrong_environment' });
    expect(run(ctx, generateKey({ type: 'private', environment: 'staging', keyId: k.keyId }))).toMatchObject({
      code: 'key_unknown',
    });
  });

  it('refuses a disabled key with 401 key_disabled', () => {
    const k = makeKey({ ...base, disabled: true });
    expect(run(setup(k).ctx, k.key)).toMatchObject({ status: 401, code: 'key_disabled' });
  });

  it('refuses an expired key by the validator clock: 401 key_expired at exactly expiresAt', () => {
    const k = makeKey({ expiresAt: later(1000) });
    const { ctx } = setup(k);
    expect(run(ctx, k.key, { now: NOW + 999 })).toMatchObject({ allowed: true });
    expect(run(ctx, k.key, { now: NOW + 1000 })).toMatchObject({ status: 401, code: 'key_expired' });
  });

  it('refuses a source outside allowedSources with 403; unknown client addresses never match', () => {
    const k = makeKey({ ...base, allowedSources: ['10.0.0.0/8', '2001:db8::/32'] });
    const { ctx } = setup(k);
    expect(run(ctx, k.key, { ip: '10.1.2.3' })).toMatchObject({ allowed: true });
    expect(run(ctx, k.key, { ip: '2001:db8::5' })).toMatchObject({ allowed: true });
    expect(run(ctx, k.key, { ip: '192.168.0.1' })).toMatchObject({ status: 403, code: 'source_not_allowed' });
    expect(
      decide({ key: k.key, clientIp: undefined, requirement: need('devices:read'), nowMs: NOW }, ctx),
    ).toMatchObject({ code: 'source_not_allowed' });
  });

  it('refuses a missing permission with 403 permission_denied; a wildcard grants the resource', () => {
    const k = makeKey({ ...base, permissions: ['devices:*', 'tickets:read'] });
    const { ctx } = setup(k);
    expect(run(ctx, k.key, { req: need('devices:write') })).toMatchObject({ allowed: true });
    expect(run(ctx, k.key, { req: need('tickets:create') })).toMatchObject({
      status: 403,
      code: 'permission_denied',
    });
  });

  it('refuses unmapped routes with 403 route_not_mapped unless configured to allow', () => {
    const k = makeKey(base);
    const { ctx } = setup(k);
    expect(run(ctx, k.key, { req: { unmapped: true } })).toMatchObject({
      status: 403,
      code: 'route_not_mapped',
    });
    expect(run({ ...ctx, unmappedRoutes: 'allow' }, k.key, { req: { unmapped: true } })).toMatchObject({
      allowed: true,
    });
    expect(run(ctx, k.key, { req: { anyValidKey: true } })).toMatchObject({ allowed: true });
  });

  it('limits the rate: a burst over it is 429 with retry info, and passes again after refill', () => {
    const k = makeKey({ ...base, rateLimit: { requests: 2, period: '1s', burst: 3 } });
    const { ctx } = setup(k);
    for (let i = 0; i < 3; i++) expect(run(ctx, k.key)).toMatchObject({ allowed: true });
    const d = run(ctx, k.key);
    expect(d).toMatchObject({ status: 429, code: 'rate_limited' });
    expect(d.rate).toMatchObject({ allowed: false, limit: 3, remaining: 0, retryAfterSeconds: 1 });
    expect(run(ctx, k.key, { now: NOW + 500 })).toMatchObject({ allowed: true });
  });

  it('checks in the documented order: each failure hides the ones after it', () => {
    // Disabled, expired, wrong source, no permission and rate-limited at once: disabled wins.
    const k = makeKey({
      disabled: true,
      expiresAt: later(-1),
      allowedSources: ['10.0.0.0/8'],
      permissions: ['x:y'],
      rateLimit: { requests: 1, period: '1h' },
    });
    const { ctx, store } = setup(k);
    const steps: [Partial<typeof k.record>, string][] = [
      [{}, 'key_disabled'],
      [{ disabled: false }, 'key_expired'],
      [{ expiresAt: later(60_000) }, 'source_not_allowed'],
      [{ allowedSources: [] }, 'permission_denied'],
      [{ permissions: ['devices:read'] }, 'ok'],
    ];
    let record = k.record;
    for (const [change, code] of steps) {
      record = { ...record, ...change };
      store.upsert({
        ...k.secret,
        data: { 'record.json': Buffer.from(JSON.stringify(record)).toString('base64') },
      });
      const d = run(ctx, k.key);
      expect(d.allowed ? 'ok' : d.code).toBe(code);
    }
    expect(run(ctx, k.key)).toMatchObject({ code: 'rate_limited' });
  });

  it('never puts the key in a message', () => {
    const k = makeKey({ disabled: true });
    const { ctx } = setup(k);
    const d = run(ctx, k.key);
    expect(JSON.stringify(d)).not.toContain(k.key);
    expect(JSON.stringify(d)).not.toContain(k.key.slice(-39));
  });
});
