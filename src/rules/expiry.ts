import { describeValue } from './redact.ts';

// The one-year cap on spec.expiresAt, in UTC so the answer does not depend on anyone's time zone.

export const DAY_MS = 86_400_000;

/**
 * An expiresAt up to 2 minutes past the cap (or in the past) is still accepted, so a client whose clock
 * runs slightly ahead of the webhook's is not refused. Kept far below an hour so it cannot stretch the cap.
 */
export const CLOCK_SKEW_TOLERANCE_MS = 120_000;

const RFC3339_RE =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

function assertValidDate(date: Date, what: string): void {
  if (!(date instanceof Date) || Number.isNaN(date.getTime()))
    throw new TypeError(`${what} is not a valid date`);
}

/** RFC 3339 in UTC with seconds precision, e.g. `2027-11-23T15:04:05Z` (sub-second part truncated). */
export function formatRfc3339(date: Date): string {
  assertValidDate(date, 'formatRfc3339 input');
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Strict RFC 3339 (as Kubernetes' date-time format): date, `T`, time, optional fraction (kept to the
 * millisecond), and `Z` or a ±hh:mm offset. Calendar-checked: 2027-02-30 is refused. undefined when invalid.
 */
export function parseRfc3339(s: string): Date | undefined {
  if (typeof s !== 'string' || s.length > 64) return undefined;
  const m = RFC3339_RE.exec(s);
  if (m === null) return undefined;
  const [, y, mo, d, h, mi, sec, frac = '', , sign, oh = '0', om = '0'] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(sec);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59 || Number(oh) > 23 || Number(om) > 59) return undefined;
  const date = new Date(0);
  // setUTCFullYear, unlike Date.UTC, does not map years 0-99 to 1900-1999.
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, Number(frac.padEnd(3, '0').slice(0, 3)));
  const offsetMinutes = sign === undefined ? 0 : (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om));
  return new Date(date.getTime() - offsetMinutes * 60_000);
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** Same UTC month, day and time one year later; 29 February becomes 28 February. */
export function addOneCalendarYear(date: Date): Date {
  assertValidDate(date, 'addOneCalendarYear input');
  const out = new Date(date.getTime());
  const month = date.getUTCMonth();
  const day = date.getUTCDate();
  // The year after a leap year never has 29 February; without this it would roll over to 1 March.
  out.setUTCFullYear(date.getUTCFullYear() + 1, month, month === 1 && day === 29 ? 28 : day);
  return out;
}

function checkDays(days: number | undefined, what: string): void {
  if (days !== undefined && !(Number.isFinite(days) && days > 0)) {
    throw new RangeError(`${what} must be a positive number of days`);
  }
}

/** The latest expiresAt that may be set at `setAt`: min(setAt + maxLifetimeDays, one calendar year). */
export function latestAllowedExpiry(setAt: Date, maxLifetimeDays?: number): Date {
  checkDays(maxLifetimeDays, 'maxLifetimeDays');
  const year = addOneCalendarYear(setAt);
  if (maxLifetimeDays === undefined) return year;
  const byDays = setAt.getTime() + maxLifetimeDays * DAY_MS;
  return byDays < year.getTime() ? new Date(byDays) : year;
}

/**
 * expiresAt for a key created without one: min(now + defaultLifetimeDays, now + maxLifetimeDays, one
 * calendar year), rounded down to a whole second so that its RFC 3339 form is exactly this instant.
 */
export function defaultExpiry(now: Date, defaultLifetimeDays?: number, maxLifetimeDays?: number): Date {
  checkDays(defaultLifetimeDays, 'defaultLifetimeDays');
  let t = latestAllowedExpiry(now, maxLifetimeDays).getTime();
  if (defaultLifetimeDays !== undefined) t = Math.min(t, now.getTime() + defaultLifetimeDays * DAY_MS);
  return new Date(Math.floor(t / 1000) * 1000);
}

export interface ExpiryCheckOptions {
  /** The ApiKeyPolicy's maxLifetimeDays; the one-year cap applies regardless. */
  maxLifetimeDays?: number;
  /** Field path used in messages; default `spec.expiresAt`. */
  field?: string;
}

export type ExpiryCheckResult = { ok: true; expiresAt: Date } | { ok: false; message: string };

/**
 * Checks an expiresAt being set at `setAt` (create, change of expiresAt, re-enable): not in the past and
 * not beyond latestAllowedExpiry, each with CLOCK_SKEW_TOLERANCE_MS of slack.
 */
export function checkExpiry(
  expiresAt: string | Date,
  setAt: Date,
  opts: ExpiryCheckOptions = {},
): ExpiryCheckResult {
  assertValidDate(setAt, 'setAt');
  const field = opts.field ?? 'spec.expiresAt';
  let at: Date | undefined;
  if (expiresAt instanceof Date) {
    if (Number.isNaN(expiresAt.getTime())) return { ok: false, message: `${field} is not a valid date` };
    at = expiresAt;
  } else {
    at = parseRfc3339(expiresAt);
    if (at === undefined) {
      return {
        ok: false,
        message: `${field} ${describeValue(expiresAt)} is not an RFC 3339 timestamp such as 2027-01-31T12:00:00Z`,
      };
    }
  }
  if (at.getTime() < setAt.getTime() - CLOCK_SKEW_TOLERANCE_MS) {
    return {
      ok: false,
      message: `${field} ${formatRfc3339(at)} is in the past (now is ${formatRfc3339(setAt)})`,
    };
  }
  const latest = latestAllowedExpiry(setAt, opts.maxLifetimeDays);
  if (at.getTime() > latest.getTime() + CLOCK_SKEW_TOLERANCE_MS) {
    const byDays = latest.getTime() < addOneCalendarYear(setAt).getTime();
    const span = byDays ? `${opts.maxLifetimeDays} days` : 'one year';
    return {
      ok: false,
      message: `${field} ${formatRfc3339(at)} is more than ${span} ahead; the latest allowed now is ${formatRfc3339(latest)}`,
    };
  }
  return { ok: true, expiresAt: at };
}

function toTime(expiresAt: Date | string): number {
  const t =
    typeof expiresAt === 'string' ? (parseRfc3339(expiresAt)?.getTime() ?? Number.NaN) : expiresAt.getTime();
  return t;
}

/** Whether the key has expired at `now`. An unreadable expiry counts as expired: fail closed. */
export function isExpired(expiresAt: Date | string, now: Date): boolean {
  return isExpiredAt(toTime(expiresAt), now.getTime());
}

/** isExpired on epoch milliseconds (the validator's hot path keeps times as numbers). */
export function isExpiredAt(expiresAtMs: number, nowMs: number): boolean {
  return Number.isNaN(expiresAtMs) || expiresAtMs <= nowMs;
}

/** Not yet expired, but expiring within `windowMs` of `now`. */
export function isExpiringSoon(expiresAt: Date | string, now: Date, windowMs: number): boolean {
  const t = toTime(expiresAt);
  return !isExpired(expiresAt, now) && t - now.getTime() <= windowMs;
}
