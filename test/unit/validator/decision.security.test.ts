import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generateKey } from '../../../src/rules/index.ts';
import { type DecisionContext, decide } from '../../../src/validator/decision.ts';
import { KeyStore } from '../../../src/validator/key-store.ts';
import { RateLimiter } from '../../../src/validator/rate-limiter.ts';
import { runs } from '../../support/fuzz/runs.ts';
import { makeKey, type TestKey } from '../../support/validator/keys.ts';

// The decision's allocation-free path: decide parses without building parseKey's result, hashes into
// one digest buffer reused by every call, and the rate limiter moves its buckets in place. Nothing of
// one call may reach another: key B decided after key A never sees A's id, digest or bucket.

const NOW = Date.parse('2030-01-01T00:00:00Z');
const LATER = new Date(NOW + 86_400_000).toISOString();

function setup(keys: TestKey[]) {
  const store = new KeyStore();
  for (const k of keys) store.upsert(structuredClone(k.secret));
  const limiter = new RateLimiter();
  const ctx: DecisionContext = {
    environment: 'production',
    lookup: (id) => store.get(id),
    unmappedRoutes: 'deny',
    takeToken: (k, now) => limiter.take(k, now),
  };
  const run = (key: string | undefined, now = NOW) =>
    decide({ key, clientIp: '203.0.113.7', requirement: { permission: 'devices:read' }, nowMs: now }, ctx);
  return { run, limiter };
}

/** Another key with the same id and a valid checksum: only the secret differs. */
const forge = (k: TestKey) => generateKey({ type: 'private', environment: 'production', keyId: k.keyId });

describe('decide: nothing of one call reaches the next', () => {
  it("a forged key right after the real one is refused (the real key's digest is not reused)", () => {
    const a = makeKey({ expiresAt: LATER });
    const { run } = setup([a]);
    for (let i = 0; i < 50; i++) {
      expect(run(a.key)).toMatchObject({ allowed: true, status: 200 });
      expect(run(forge(a))).toMatchObject({
        allowed: false,
        status: 401,
        code: 'key_unknown',
        key: undefined,
      });
    }
  });

  it('any sequence of real, forged, malformed and absent keys decides each as if alone', () => {
    const keys = [0, 1, 2].map(() =>
      makeKey({
        expiresAt: LATER,
        rateLimit: { requests: 1000, period: '1s' },
      }),
    );
    const alone = (key: string | undefined) => setup(keys).run(key);
    const arbKey = fc.oneof(
      fc.constantFrom(...keys.map((k) => k.key)),
      fc.constantFrom(...keys).map(forge),
      fc.constantFrom(...keys).map((k) => `${k.key.slice(0, -1)}${k.key.endsWith('a') ? 'b' : 'a'}`),
      fc.constant(undefined),
      fc.string({ maxLength: 70 }),
    );
    fc.assert(
      fc.property(fc.array(arbKey, { minLength: 2, maxLength: 12 }), (sequence) => {
        const { run } = setup(keys);
        for (const key of sequence) {
          const d = run(key);
          const expected = alone(key);
          const { rate: _r, ...shown } = d;
          const { rate: _e, ...fresh } = expected;
          expect(shown).toEqual(fresh);
          if (d.allowed) expect(d.key.record.hash).toBe(keys.find((k) => k.key === key)?.record.hash);
        }
      }),
      { numRuns: runs(200) },
    );
  });

  it("an earlier decision's answer (key, id, rate numbers) does not change when later ones are made", () => {
    const a = makeKey({ expiresAt: LATER, rateLimit: { requests: 5, period: '1m' } });
    const b = makeKey({ expiresAt: LATER, rateLimit: { requests: 5, period: '1m' } });
    const { run } = setup([a, b]);
    const first = run(a.key);
    if (!first.allowed || !first.rate) throw new Error('expected an allowed, limited decision');
    const before = structuredClone({ keyId: first.key.keyId, rate: { ...first.rate, state: undefined } });
    expect(before.rate.remaining).toBe(4);
    for (let i = 0; i < 5; i++) run(b.key);
    run(forge(a));
    for (let i = 0; i < 3; i++) run(a.key);
    expect({ keyId: first.key.keyId, rate: { ...first.rate, state: undefined } }).toEqual(before);
  });

  it("one key's rate limit is never taken from another key's bucket", () => {
    const a = makeKey({ expiresAt: LATER, rateLimit: { requests: 2, period: '1h' } });
    const b = makeKey({ expiresAt: LATER, rateLimit: { requests: 2, period: '1h' } });
    const { run, limiter } = setup([a, b]);
    expect(run(a.key).status).toBe(200);
    expect(run(a.key).status).toBe(200);
    expect(run(a.key)).toMatchObject({ status: 429, code: 'rate_limited' });
    expect(run(b.key).status).toBe(200);
    expect(run(b.key).status).toBe(200);
    expect(run(b.key).status).toBe(429);
    expect(limiter.size).toBe(2);
  });
});
