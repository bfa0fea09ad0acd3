import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type BucketState,
  bucketCapacity,
  initialBucket,
  type RateLimitConfig,
  rateLimitHeaders,
  takeToken,
  takeTokenInPlace,
} from '../../../src/rules/index.ts';

const T0 = 1_750_000_000_000;

const arbConfig: fc.Arbitrary<RateLimitConfig> = fc.record(
  {
    requests: fc.integer({ min: 1, max: 1000 }),
    periodMs: fc.constantFrom(1000, 60_000, 3_600_000, 86_400_000, 1, 7, 1500),
    burst: fc.integer({ min: 1, max: 1000 }),
  },
  { requiredKeys: ['requests', 'periodMs'] },
);

/** Takes until refused at one instant; returns how many were allowed and the state after. */
function drain(
  state: BucketState,
  config: RateLimitConfig,
  now: number,
): { allowed: number; state: BucketState } {
  let s = state;
  let allowed = 0;
  for (;;) {
    const r = takeToken(s, config, now);
    s = r.state;
    if (!r.allowed) return { allowed, state: s };
    allowed++;
  }
}

/** A state reached by a random history of takes at increasing times. */
const arbHistory = (config: RateLimitConfig) =>
  fc.array(fc.nat({ max: 2 * config.periodMs }), { maxLength: 20 }).map((gaps) => {
    let state = initialBucket(config, T0);
    let now = T0;
    for (const gap of gaps) {
      now += gap;
      state = takeToken(state, config, now).state;
    }
    return { state, now };
  });

describe('takeToken', () => {
  it('starts full: capacity at once, then refuses', () => {
    const config = { requests: 100, periodMs: 60_000, burst: 20 };
    expect(bucketCapacity(config)).toBe(20);
    expect(drain(initialBucket(config, T0), config, T0).allowed).toBe(20);
    expect(
      drain(initialBucket({ requests: 5, periodMs: 1000 }, T0), { requests: 5, periodMs: 1000 }, T0).allowed,
    ).toBe(5);
  });

  it('never allows more than the capacity in one instant, whatever came before', () => {
    fc.assert(
      fc.property(
        arbConfig.chain((c) => arbHistory(c).map((h) => ({ c, h }))),
        fc.nat({ max: 10 * 86_400_000 }),
        ({ c, h }, later) => {
          expect(drain(h.state, c, h.now + later).allowed).toBeLessThanOrEqual(bucketCapacity(c));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('allows the sustained rate over time, and no more', () => {
    fc.assert(
      fc.property(arbConfig, fc.integer({ min: 1, max: 50 }), (c, periods) => {
        const capacity = bucketCapacity(c);
        const duration = periods * c.periodMs;
        // Poll often enough that the bucket never overflows between polls (no tokens wasted).
        const step = Math.max(
          1,
          Math.floor(((capacity - 1) * c.periodMs) / c.requests),
          Math.ceil(duration / 500),
        );
        let state = initialBucket(c, T0);
        let allowed = 0;
        for (let t = T0; t <= T0 + duration; t += step) {
          const r = drain(state, c, t);
          state = r.state;
          allowed += r.allowed;
        }
        const last = T0 + Math.floor(duration / step) * step;
        const ceiling = capacity + Math.floor(((last - T0) * c.requests) / c.periodMs);
        expect(allowed).toBeLessThanOrEqual(ceiling);
        if (step * c.requests <= (capacity - 1) * c.periodMs) expect(allowed).toBe(ceiling);
      }),
      { numRuns: 100 },
    );
  });

  it('retryAfterSeconds is enough, and a second less is not', () => {
    fc.assert(
      fc.property(
        arbConfig.chain((c) => arbHistory(c).map((h) => ({ c, h }))),
        ({ c, h }) => {
          const { state } = drain(h.state, c, h.now);
          const refused = takeToken(state, c, h.now);
          expect(refused.allowed).toBe(false);
          expect(refused.retryAfterSeconds).toBeGreaterThanOrEqual(1);
          expect(Number.isInteger(refused.retryAfterSeconds)).toBe(true);
          const wait = refused.retryAfterSeconds * 1000;
          expect(takeToken(refused.state, c, h.now + wait).allowed).toBe(true);
          if (refused.retryAfterSeconds > 1)
            expect(takeToken(refused.state, c, h.now + wait - 1000).allowed).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('gives no free tokens when the clock goes backwards', () => {
    fc.assert(
      fc.property(
        arbConfig,
        fc.array(fc.integer({ min: -3_600_000, max: 3_600_000 }), { minLength: 1, maxLength: 40 }),
        (c, jumps) => {
          let state = initialBucket(c, T0);
          let now = T0;
          let latest = T0;
          let allowed = 0;
          for (const jump of jumps) {
            now += jump;
            latest = Math.max(latest, now);
            const r = drain(state, c, now);
            state = r.state;
            allowed += r.allowed;
          }
          // Whatever the order of the readings, only time actually gained refills the bucket.
          const ceiling = bucketCapacity(c) + Math.floor(((latest - T0) * c.requests) / c.periodMs);
          expect(allowed).toBeLessThanOrEqual(ceiling);
        },
      ),
      { numRuns: 300 },
    );
    const c = { requests: 10, periodMs: 10_000 };
    const drained = drain(initialBucket(c, T0), c, T0).state;
    expect(takeToken(drained, c, T0 - 60_000).allowed).toBe(false);
    expect(takeToken(takeToken(drained, c, T0 - 60_000).state, c, T0 + 999).allowed).toBe(false);
    expect(takeToken(drained, c, T0 + 1000).allowed).toBe(true);
  });

  it('never mutates its input and reports whole numbers', () => {
    fc.assert(
      fc.property(
        arbConfig.chain((c) => arbHistory(c).map((h) => ({ c, h }))),
        fc.nat({ max: 100_000 }),
        ({ c, h }, later) => {
          const frozen = Object.freeze({ ...h.state });
          const r = takeToken(frozen, c, h.now + later);
          expect(frozen).toEqual(h.state);
          expect(Number.isInteger(r.remaining) && r.remaining >= 0 && r.remaining <= r.limit).toBe(true);
          expect(Number.isInteger(r.resetSeconds) && r.resetSeconds >= 0).toBe(true);
          expect(r.retryAfterSeconds).toBe(r.allowed ? 0 : Math.max(1, r.retryAfterSeconds));
          expect(r.limit).toBe(bucketCapacity(c));
        },
      ),
    );
  });

  it('takeTokenInPlace answers as takeToken does, and moves the given bucket to the new state', () => {
    fc.assert(
      fc.property(
        arbConfig.chain((c) => arbHistory(c).map((h) => ({ c, h }))),
        fc.array(fc.integer({ min: -5000, max: 100_000 }), { maxLength: 10 }),
        ({ c, h }, gaps) => {
          const bucket = { ...h.state };
          let pure = h.state;
          let now = h.now;
          for (const gap of gaps) {
            now += gap;
            const expected = takeToken(pure, c, now);
            const r = takeTokenInPlace(bucket, c, now);
            expect(r.state).toBe(bucket);
            expect({ ...r, state: { ...r.state } }).toEqual(expected);
            pure = expected.state;
          }
        },
      ),
    );
  });

  it('rescales a state kept from a different configuration, never above the new capacity', () => {
    const a = { requests: 100, periodMs: 60_000 };
    const b = { requests: 10, periodMs: 1000, burst: 5 };
    const r = drain(initialBucket(a, T0), b, T0);
    expect(r.allowed).toBe(5);
  });

  it('refuses nonsense configurations and costs', () => {
    const s = initialBucket({ requests: 1, periodMs: 1000 }, T0);
    expect(() => takeToken(s, { requests: 0, periodMs: 1000 }, T0)).toThrow(RangeError);
    expect(() => takeToken(s, { requests: 1, periodMs: 0 }, T0)).toThrow(RangeError);
    expect(() => takeToken(s, { requests: 1, periodMs: 1000, burst: 0.5 }, T0)).toThrow(RangeError);
    expect(() => takeToken(s, { requests: 1, periodMs: 1000 }, T0, 2)).toThrow(RangeError);
  });
});

describe('rateLimitHeaders', () => {
  it('sets RateLimit-* always and Retry-After only when refused', () => {
    const c = { requests: 100, periodMs: 60_000, burst: 2 };
    const first = takeToken(initialBucket(c, T0), c, T0);
    expect(rateLimitHeaders(first)).toEqual({
      'RateLimit-Limit': '2',
      'RateLimit-Remaining': '1',
      'RateLimit-Reset': '1',
    });
    const second = takeToken(first.state, c, T0);
    const third = takeToken(second.state, c, T0);
    expect(third.allowed).toBe(false);
    // 100 per minute: one token every 600 ms, so retry after 1 s; full (2 tokens) after 1.2 s → 2 s.
    expect(rateLimitHeaders(third)).toEqual({
      'RateLimit-Limit': '2',
      'RateLimit-Remaining': '0',
      'RateLimit-Reset': '2',
      'Retry-After': '1',
    });
  });
});
