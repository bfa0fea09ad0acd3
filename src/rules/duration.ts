import { describeValue } from './redact.ts';

// Go/Kubernetes-style durations limited to whole numbers and the units ms, s, m, h: the subset both
// Go's time.ParseDuration and Kubernetes CEL duration() accept. There is no `d` unit because CEL
// duration() refuses it; write 24h instead.

/** Regex source shared with the CRD's CEL rules. */
export const DURATION_PATTERN = '^([0-9]+(ms|s|m|h))+$';

const DURATION_RE = new RegExp(DURATION_PATTERN);
const PART_RE = /([0-9]+)(ms|s|m|h)/g;
const MAX_DURATION_LENGTH = 64;

const UNIT_MS = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 } as const;
type Unit = keyof typeof UNIT_MS;

export type DurationResult = { ok: true; ms: number } | { ok: false; message: string };

/** Parses e.g. `30s`, `1m`, `24h`, `1h30m`, `500ms` to milliseconds. Units may repeat and come in any order, as in Go. */
export function parseDuration(s: unknown): DurationResult {
  const invalid = (why: string): DurationResult => ({
    ok: false,
    message: `${describeValue(s)} is not a valid duration: ${why}`,
  });
  if (typeof s !== 'string' || s.length === 0) return invalid('expected a string such as 30s, 1m or 1h30m');
  if (s.length > MAX_DURATION_LENGTH) return invalid(`longer than ${MAX_DURATION_LENGTH} characters`);
  if (!DURATION_RE.test(s)) {
    const hint = /^[0-9]+d$/.test(s) ? ' (there is no d unit: write days as hours, e.g. 24h)' : '';
    return invalid(`use whole numbers with the units ms, s, m, h, e.g. 30s, 1m, 1h30m${hint}`);
  }
  let ms = 0;
  for (const [, digits = '', unit = ''] of s.matchAll(PART_RE)) {
    ms += Number(digits) * UNIT_MS[unit as Unit];
  }
  if (!Number.isSafeInteger(ms)) return invalid('too long');
  return { ok: true, ms };
}

/** Like parseDuration, but throws a RangeError; for values already validated (e.g. by the CRD). */
export function durationMs(s: string): number {
  const r = parseDuration(s);
  if (!r.ok) throw new RangeError(r.message);
  return r.ms;
}

const UNITS: readonly Unit[] = ['h', 'm', 's', 'ms'];

/**
 * The shortest string parseDuration reads back as `ms` (e.g. 5400000 → `90m`, 3600500 → `1h500ms`);
 * among equally short ones, the one with the largest units. 0 is `0s`.
 */
export function formatDuration(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < 0)
    throw new RangeError('formatDuration needs a non-negative integer');
  if (ms === 0) return '0s';
  let best: string | undefined;
  // Every non-empty subset of units, each filled greedily from the largest: 15 candidates. Checked
  // against an exhaustive search in the tests. Masks with larger units come first, so they win ties.
  for (let mask = (1 << UNITS.length) - 1; mask > 0; mask--) {
    const used = UNITS.filter((_, i) => mask & (1 << (UNITS.length - 1 - i)));
    let rest = ms;
    let text = '';
    for (const unit of used) {
      const n = Math.floor(rest / UNIT_MS[unit]);
      rest -= n * UNIT_MS[unit];
      if (n > 0) text += `${n}${unit}`;
    }
    if (rest === 0 && (best === undefined || text.length < best.length)) best = text;
  }
  return best ?? `${ms}ms`;
}
