import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addOneCalendarYear,
  CLOCK_SKEW_TOLERANCE_MS,
  checkExpiry,
  DAY_MS,
  defaultExpiry,
  formatRfc3339,
  isExpired,
  isExpiringSoon,
  latestAllowedExpiry,
  parseRfc3339,
} from '../../../src/rules/index.ts';

const HOUR = 3_600_000;
const arbDate = fc.date({
  min: new Date('1972-01-01T00:00:00Z'),
  max: new Date('2400-12-31T23:59:59.999Z'),
  noInvalidDate: true,
});
const isLeap = (y: number) => y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
/** 29 February at a random time of day, in the leap years 1972-2400 (2000 and 2400 included, 2100 not). */
const arbLeapDay = fc
  .tuple(fc.integer({ min: 1972, max: 2400 }), fc.nat({ max: DAY_MS - 1 }))
  .filter(([y]) => isLeap(y))
  .map(([y, t]) => new Date(Date.parse(`${String(y).padStart(4, '0')}-02-29T00:00:00Z`) + t));

/** The same instant written with a UTC offset of `offsetMinutes`, e.g. +05:30. */
function withOffset(date: Date, offsetMinutes: number): string {
  const local = new Date(date.getTime() + offsetMinutes * 60_000).toISOString().slice(0, 23);
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

describe('addOneCalendarYear', () => {
  it('keeps UTC month, day and time, 365 or 366 days later, across leap years 1972-2400', () => {
    fc.assert(
      fc.property(arbDate, (d) => {
        const r = addOneCalendarYear(d);
        const days = (r.getTime() - d.getTime()) / DAY_MS;
        expect(days).toBeGreaterThanOrEqual(365);
        expect(days).toBeLessThanOrEqual(366);
        expect(r.getUTCFullYear()).toBe(d.getUTCFullYear() + 1);
        expect(r.getTime() % DAY_MS).toBe(d.getTime() % DAY_MS);
        const leapDay = d.getUTCMonth() === 1 && d.getUTCDate() === 29;
        expect(r.getUTCMonth()).toBe(d.getUTCMonth());
        expect(r.getUTCDate()).toBe(leapDay ? 28 : d.getUTCDate());
      }),
      { numRuns: 2000 },
    );
  });

  it('takes 29 February to 28 February of the next year, 365 days later', () => {
    fc.assert(
      fc.property(arbLeapDay, (d) => {
        const r = addOneCalendarYear(d);
        expect(formatRfc3339(r).slice(4, 10)).toBe('-02-28');
        expect(r.getTime() - d.getTime()).toBe(365 * DAY_MS);
      }),
    );
    expect(formatRfc3339(addOneCalendarYear(new Date('2000-02-29T23:59:59Z')))).toBe('2001-02-28T23:59:59Z');
    expect(formatRfc3339(addOneCalendarYear(new Date('2399-03-01T00:00:00Z')))).toBe('2400-03-01T00:00:00Z');
    expect(formatRfc3339(addOneCalendarYear(new Date('2099-02-28T12:00:00Z')))).toBe('2100-02-28T12:00:00Z');
  });

  it('depends on the instant only, not on the offset it was written with', () => {
    const offsets = [0, 330, -480, 840, -720, 345, -210];
    fc.assert(
      fc.property(arbDate, (d) => {
        const caps = offsets.map((o) => {
          const parsed = parseRfc3339(withOffset(d, o));
          if (parsed === undefined) throw new Error('offset form did not parse');
          expect(parsed.getTime()).toBe(d.getTime());
          return addOneCalendarYear(parsed).getTime();
        });
        expect(new Set(caps).size).toBe(1);
      }),
    );
    // 20:30 UTC on 29 February is already 1 March in India: the cap is still taken in UTC.
    const india = parseRfc3339('2024-03-01T02:00:00+05:30');
    const california = parseRfc3339('2024-02-29T12:30:00-08:00');
    expect(india && formatRfc3339(addOneCalendarYear(india))).toBe('2025-02-28T20:30:00Z');
    expect(california && formatRfc3339(addOneCalendarYear(california))).toBe('2025-02-28T20:30:00Z');
  });
});

describe('checkExpiry', () => {
  const setAt = new Date('2026-11-23T15:04:05Z');

  it('accepts one year minus one minute and refuses one year plus one hour, with the exact message', () => {
    fc.assert(
      fc.property(arbDate, (now) => {
        const cap = addOneCalendarYear(now);
        expect(checkExpiry(new Date(cap.getTime() - 60_000), now).ok).toBe(true);
        const late = new Date(cap.getTime() + HOUR);
        expect(checkExpiry(late, now)).toEqual({
          ok: false,
          message: `spec.expiresAt ${formatRfc3339(late)} is more than one year ahead; the latest allowed now is ${formatRfc3339(cap)}`,
        });
      }),
    );
    expect(checkExpiry('2028-01-01T00:00:00Z', setAt)).toEqual({
      ok: false,
      message:
        'spec.expiresAt 2028-01-01T00:00:00Z is more than one year ahead; the latest allowed now is 2027-11-23T15:04:05Z',
    });
  });

  it('tolerates exactly CLOCK_SKEW_TOLERANCE_MS past the cap and before now, and not a millisecond more', () => {
    expect(CLOCK_SKEW_TOLERANCE_MS).toBe(120_000);
    expect(CLOCK_SKEW_TOLERANCE_MS).toBeLessThan(HOUR);
    fc.assert(
      fc.property(arbDate, (now) => {
        const cap = addOneCalendarYear(now).getTime();
        expect(checkExpiry(new Date(cap + CLOCK_SKEW_TOLERANCE_MS), now).ok).toBe(true);
        expect(checkExpiry(new Date(cap + CLOCK_SKEW_TOLERANCE_MS + 1), now).ok).toBe(false);
        expect(checkExpiry(new Date(now.getTime() - CLOCK_SKEW_TOLERANCE_MS), now).ok).toBe(true);
        const past = new Date(now.getTime() - CLOCK_SKEW_TOLERANCE_MS - 1);
        expect(checkExpiry(past, now)).toEqual({
          ok: false,
          message: `spec.expiresAt ${formatRfc3339(past)} is in the past (now is ${formatRfc3339(now)})`,
        });
      }),
    );
    expect(checkExpiry('2020-01-01T00:00:00Z', setAt)).toEqual({
      ok: false,
      message: 'spec.expiresAt 2020-01-01T00:00:00Z is in the past (now is 2026-11-23T15:04:05Z)',
    });
  });

  it('applies a shorter policy lifetime and says so in days', () => {
    expect(checkExpiry('2027-03-01T00:00:00Z', setAt, { maxLifetimeDays: 90 })).toEqual({
      ok: false,
      message:
        'spec.expiresAt 2027-03-01T00:00:00Z is more than 90 days ahead; the latest allowed now is 2027-02-21T15:04:05Z',
    });
    expect(checkExpiry('2027-02-21T15:04:05Z', setAt, { maxLifetimeDays: 90 }).ok).toBe(true);
    // 365 days binds when the year ahead has a 29 February in it...
    const beforeLeap = new Date('2027-06-01T00:00:00Z');
    expect(checkExpiry('2028-06-01T00:00:00Z', beforeLeap, { maxLifetimeDays: 365 })).toMatchObject({
      ok: false,
      message: expect.stringContaining(
        'more than 365 days ahead; the latest allowed now is 2028-05-31T00:00:00Z',
      ),
    });
    // ...and a policy above one year never stretches the cap.
    expect(checkExpiry('2027-11-24T15:04:05Z', setAt, { maxLifetimeDays: 366 })).toMatchObject({
      ok: false,
      message: expect.stringContaining('more than one year ahead'),
    });
  });

  it('refuses values that are not RFC 3339 timestamps, naming them', () => {
    for (const v of [
      'tomorrow',
      '2027-02-30T00:00:00Z',
      '2027-01-01',
      '2027-01-01T25:00:00Z',
      '2027-01-01T00:00:60Z',
      '2027-01-01T00:00:00',
      '2027-01-01 00:00:00Z',
      '2027-01-01T00:00:00+24:00',
      '',
    ]) {
      expect(checkExpiry(v, setAt)).toEqual({
        ok: false,
        message: `spec.expiresAt ${JSON.stringify(v)} is not an RFC 3339 timestamp such as 2027-01-31T12:00:00Z`,
      });
    }
    expect(checkExpiry(new Date(Number.NaN), setAt)).toEqual({
      ok: false,
      message: 'spec.expiresAt is not a valid date',
    });
    expect(checkExpiry('2027-01-01t10:00:00.123456789z', setAt)).toEqual({
      ok: true,
      expiresAt: new Date('2027-01-01T10:00:00.123Z'),
    });
  });

  it('uses the field name it is given', () => {
    const r = checkExpiry('2020-01-01T00:00:00Z', setAt, { field: 'spec.rotation.expiresAt' });
    expect(!r.ok && r.message).toMatch(/^spec\.rotation\.expiresAt /);
  });
});

describe('latestAllowedExpiry and defaultExpiry', () => {
  it('is the earlier of the policy lifetime and one calendar year', () => {
    fc.assert(
      fc.property(arbDate, fc.integer({ min: 1, max: 400 }), (now, days) => {
        const latest = latestAllowedExpiry(now, days).getTime();
        expect(latest).toBe(Math.min(now.getTime() + days * DAY_MS, addOneCalendarYear(now).getTime()));
        const d = defaultExpiry(now, days);
        expect(d.getTime() % 1000).toBe(0);
        expect(d.getTime()).toBeLessThanOrEqual(latest);
        expect(latest - d.getTime()).toBeLessThan(1000);
        expect(checkExpiry(formatRfc3339(d), now, { maxLifetimeDays: days }).ok).toBe(true);
      }),
    );
  });

  it('defaults to one calendar year, whole seconds', () => {
    expect(formatRfc3339(defaultExpiry(new Date('2024-02-29T10:11:12.987Z')))).toBe('2025-02-28T10:11:12Z');
    expect(defaultExpiry(new Date('2026-01-01T00:00:00Z'), 30, 7).toISOString()).toBe(
      '2026-01-08T00:00:00.000Z',
    );
    expect(() => latestAllowedExpiry(new Date(), 0)).toThrow(RangeError);
    expect(() => addOneCalendarYear(new Date(Number.NaN))).toThrow(TypeError);
  });
});

describe('formatRfc3339, isExpired, isExpiringSoon', () => {
  it('formats in UTC to the second', () => {
    expect(formatRfc3339(new Date('2027-11-23T15:04:05.999Z'))).toBe('2027-11-23T15:04:05Z');
  });

  it('expires at the instant, and fails closed on an unreadable expiry', () => {
    const now = new Date('2027-01-01T00:00:00Z');
    expect(isExpired('2027-01-01T00:00:00Z', now)).toBe(true);
    expect(isExpired('2027-01-01T00:00:00.001Z', now)).toBe(false);
    expect(isExpired(new Date('2026-12-31T23:59:59Z'), now)).toBe(true);
    expect(isExpired('garbage', now)).toBe(true);
    const week = 7 * DAY_MS;
    expect(isExpiringSoon('2027-01-08T00:00:00Z', now, week)).toBe(true);
    expect(isExpiringSoon('2027-01-08T00:00:01Z', now, week)).toBe(false);
    expect(isExpiringSoon('2026-12-31T00:00:00Z', now, week)).toBe(false);
    expect(isExpiringSoon('garbage', now, week)).toBe(false);
  });
});
