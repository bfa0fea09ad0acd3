import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DURATION_PATTERN, durationMs, formatDuration, parseDuration } from '../../../src/rules/index.ts';

const UNIT_MS = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 } as const;
type Unit = keyof typeof UNIT_MS;

const len = (n: number, unit: string) => (n > 0 ? String(n).length + unit.length : 0);

/** Exhaustive shortest length: every h and m count, and for the rest the exact best split into s + ms. */
function shortestLength(total: number): number {
  const secondsAndMs = (r: number): number => {
    let best = len(r, 'ms');
    for (let digits = 0; digits <= 16; digits++) {
      // The fewest seconds that leave at most `digits` digits of milliseconds.
      const s = Math.max(0, Math.ceil((r - (10 ** digits - 1)) / 1000));
      if (s * 1000 <= r) best = Math.min(best, len(s, 's') + len(r - s * 1000, 'ms'));
    }
    return best;
  };
  let best = Number.POSITIVE_INFINITY;
  for (let h = 0; h * UNIT_MS.h <= total; h++) {
    for (let m = 0; h * UNIT_MS.h + m * UNIT_MS.m <= total; m++) {
      best = Math.min(best, len(h, 'h') + len(m, 'm') + secondsAndMs(total - h * UNIT_MS.h - m * UNIT_MS.m));
    }
  }
  return best;
}

describe('parseDuration', () => {
  it('reads Go/Kubernetes-style integer durations', () => {
    const cases: [string, number][] = [
      ['30s', 30_000],
      ['1m', 60_000],
      ['24h', 86_400_000],
      ['1h30m', 5_400_000],
      ['500ms', 500],
      ['1m500ms', 60_500],
      ['0s', 0],
      ['30m1h', 5_400_000],
      ['1h1h', 7_200_000],
      ['720h', 2_592_000_000],
    ];
    for (const [s, ms] of cases) expect(parseDuration(s)).toEqual({ ok: true, ms });
  });

  it('sums any sequence of parts, as Go does', () => {
    const arbPart = fc.tuple(fc.nat({ max: 100_000 }), fc.constantFrom<Unit>('h', 'm', 's', 'ms'));
    fc.assert(
      fc.property(fc.array(arbPart, { minLength: 1, maxLength: 6 }), (parts) => {
        const text = parts.map(([n, u]) => `${n}${u}`).join('');
        const expected = parts.reduce((sum, [n, u]) => sum + n * UNIT_MS[u], 0);
        expect(parseDuration(text)).toEqual({ ok: true, ms: expected });
      }),
    );
  });

  it('refuses anything else with a message naming the value', () => {
    for (const s of [
      '',
      '1d',
      '7d',
      '1.5h',
      '-1s',
      '+1s',
      ' 1s',
      '1S',
      '1',
      'h',
      '1hh',
      '1us',
      '1µs',
      '1ns',
      '1h 30m',
    ]) {
      const r = parseDuration(s);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.message).toContain(`${JSON.stringify(s)} is not a valid duration`);
    }
    const d = parseDuration('1d');
    expect(!d.ok && d.message).toMatch(/no d unit.*24h/);
    expect(parseDuration(`${'9'.repeat(20)}h`)).toMatchObject({
      ok: false,
      message: expect.stringMatching(/too long/),
    });
    expect(parseDuration(42)).toMatchObject({ ok: false });
    expect(() => durationMs('1d')).toThrow(RangeError);
  });

  it('agrees with DURATION_PATTERN, the regex the CRD uses', () => {
    const re = new RegExp(DURATION_PATTERN);
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9hms.d -]{0,8}$/), (s) => {
        expect(parseDuration(s).ok).toBe(re.test(s));
      }),
    );
  });
});

describe('formatDuration', () => {
  it('gives the shortest string', () => {
    const cases: [number, string][] = [
      [0, '0s'],
      [500, '500ms'],
      [1500, '1500ms'],
      [30_000, '30s'],
      [60_000, '1m'],
      [90_000, '90s'],
      [3_600_000, '1h'],
      [3_601_000, '1h1s'],
      [3_600_500, '1h500ms'],
      [5_400_000, '90m'],
      [86_400_000, '24h'],
    ];
    for (const [ms, s] of cases) expect(formatDuration(ms)).toBe(s);
  });

  it('round-trips through parseDuration', () => {
    fc.assert(
      fc.property(fc.nat({ max: 2 ** 50 }), (ms) => {
        const s = formatDuration(ms);
        expect(s).toMatch(new RegExp(DURATION_PATTERN));
        expect(parseDuration(s)).toEqual({ ok: true, ms });
      }),
    );
  });

  it('is as short as an exhaustive search finds', () => {
    const arbMs = fc.oneof(
      fc.integer({ min: 1, max: 3 * 3_600_000 }),
      fc.integer({ min: 1, max: 10_800 }).map((s) => s * 1000),
      fc.integer({ min: 1, max: 180 }).map((m) => m * 60_000 + 999),
    );
    fc.assert(
      fc.property(arbMs, (ms) => {
        expect(formatDuration(ms).length).toBe(shortestLength(ms));
      }),
      { numRuns: 200 },
    );
  });

  it('refuses negative and fractional input', () => {
    expect(() => formatDuration(-1)).toThrow(RangeError);
    expect(() => formatDuration(1.5)).toThrow(RangeError);
  });
});
