import { InvalidArgumentError, Option } from 'commander';
import { formatDuration, parseDuration } from '../rules/index.ts';

// Flag parsers every subcommand shares. Durations are one language everywhere: Go-style text in
// (`90s`, `10m`, `24h`, `500ms`, parsed by the one rule in src/rules/duration.ts) and the same text
// shown as the default in --help, never bare milliseconds.

/** The placeholder every duration flag uses (a test finds duration flags by it). */
export const DURATION_ARG = '<duration>';

/** A duration flag's value in milliseconds. */
function parseDurationOption(value: string): number {
  const r = parseDuration(value);
  if (!r.ok) throw new InvalidArgumentError(r.message);
  return r.ms;
}

export function parseIntOption(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${value} is not a non-negative integer`);
  return n;
}

/**
 * `--<name> <duration>`, parsed to milliseconds; with a default in milliseconds, --help shows it as
 * Go-style text (86400000 → `24h`).
 */
export function durationOption(flag: string, description: string, defaultMs?: number): Option {
  const option = new Option(`${flag} ${DURATION_ARG}`, description).argParser(parseDurationOption);
  return defaultMs === undefined ? option : option.default(defaultMs, formatDuration(defaultMs));
}

/** A duration flag whose value is passed on as text (e.g. into an ApiKey spec): checked here, kept as typed. */
export function durationTextOption(flag: string, description: string): Option {
  return new Option(`${flag} ${DURATION_ARG}`, description).argParser((value: string) => {
    parseDurationOption(value);
    return value;
  });
}

/** The line under --help of every command with duration flags. */
export const DURATION_HELP =
  '\nDurations are written with ms, s, m or h, e.g. 500ms, 90s, 10m, 24h or 1h30m.';
