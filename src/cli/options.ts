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

/** A TCP port, 0 meaning any free one. */
export function portOption(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError(`${value} is not a port (0-65535)`);
  return n;
}

/** What the admin-port flags leave in a command's options. */
export interface AdminPortFlags {
  adminPort?: number;
  healthPort?: number;
}

/**
 * `--admin-port`, the one name for the /healthz, /readyz and /metrics port of every part. Add
 * healthPortAlias() beside it where `--health-port` was the name (the webhook and the controller: charts
 * and scripts pass it), and read the value with adminPortOf.
 */
export function adminPortOption(defaultPort: number): Option {
  return new Option(
    '--admin-port <port>',
    `port for /healthz, /readyz and /metrics (default: ${defaultPort})`,
  ).argParser(portOption);
}

/** The older name of --admin-port, still accepted, not shown in --help. */
export function healthPortAlias(): Option {
  return new Option('--health-port <port>', 'the older name of --admin-port')
    .argParser(portOption)
    .hideHelp();
}

export function adminPortOf(o: AdminPortFlags, defaultPort: number): number {
  return o.adminPort ?? o.healthPort ?? defaultPort;
}
