import { type Command, InvalidArgumentError, Option } from 'commander';
import type { OutputFormat } from '../../audit/output.ts';
import type { AuditQuery, UsageGroup } from '../../audit/query.ts';
import { LIFECYCLE_ACTIONS } from '../../audit/schema.ts';
import { KeywardenError, parseDuration, UsageError } from '../../rules/index.ts';

// `keywarden audit`: questions about the audit trail, answered from its Parquet files (a directory:
// the validator's or controller's audit volume, or a copy of it).

// Days and weeks ago are kept for --since/--until only: they name a point in time, not a duration
// flag, and `7d` is what people type for "last week" (durations proper have no d, see src/rules).
const DAYS_AGO_RE = /^([0-9]+)(d|w)$/;
const DAYS_MS: Record<string, number> = { d: 86_400_000, w: 604_800_000 };

/** A Go-style duration (`24h`, `90m`, `1h30m`) or `7d`, `2w` (that long ago), `2026-03-01` (UTC midnight) or an RFC 3339 time. */
export function parseTimeArg(value: string, nowMs: number): number {
  const ago = parseDuration(value);
  if (ago.ok) return nowMs - ago.ms;
  const days = DAYS_AGO_RE.exec(value);
  if (days) return nowMs - Number(days[1]) * (DAYS_MS[days[2] ?? 'd'] ?? 0);
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    const ms = Date.parse(`${value}T00:00:00Z`);
    if (Number.isFinite(ms)) return ms;
  }
  if (/^\d{4}-\d{2}-\d{2}T/.test(value)) {
    const ms = Date.parse(value);
    if (Number.isFinite(ms)) return ms;
  }
  throw new InvalidArgumentError(
    `${JSON.stringify(value)} is not a time: use e.g. 90m, 24h, 7d, 2026-03-01 or 2026-03-01T10:00:00Z`,
  );
}

const list = (value: string, prev: string[] = []) => [
  ...prev,
  ...value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
];

function statusList(value: string, prev: number[] = []): number[] {
  return [
    ...prev,
    ...list(value).map((s) => {
      const n = Number(s);
      if (!Number.isInteger(n) || n < 100 || n > 599)
        throw new InvalidArgumentError(`${s} is not an HTTP status`);
      return n;
    }),
  ];
}

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${value} is not a whole number`);
  return n;
}

interface FilterFlags {
  dir?: string;
  keyId?: string;
  apikey?: string;
  namespace?: string;
  since?: string;
  until?: string;
  status?: number[];
  reason?: string[];
  type?: 'decision' | 'lifecycle';
  action?: string[];
  output: OutputFormat;
}

function withFilters(cmd: Command): Command {
  return cmd
    .option('--dir <dir>', 'audit trail directory (default: $KEYWARDEN_AUDIT_DIR)')
    .option('--key-id <id>', 'only this key id')
    .option('--apikey <[namespace/]name>', 'only this ApiKey (namespace from -n when not given here)')
    .option('-n, --namespace <ns>', 'only ApiKeys in this namespace')
    .option('--since <time>', 'from this time on: 24h, 7d (ago), 2026-03-01 (UTC) or RFC 3339')
    .option('--until <time>', 'before this time (same forms as --since)')
    .option('--status <codes>', 'only these HTTP statuses, e.g. 401,403 (repeatable)', statusList)
    .option('--reason <codes>', 'only these reason codes, e.g. ok,key_expired (repeatable)', list)
    .addOption(
      new Option('--type <type>', 'only decisions or lifecycle events').choices(['decision', 'lifecycle']),
    )
    .option('--action <actions>', `only these lifecycle actions (${LIFECYCLE_ACTIONS.join(', ')})`, list)
    .addOption(
      new Option('-o, --output <format>', 'output format').choices(['table', 'json', 'csv']).default('table'),
    );
}

function toQuery(o: FilterFlags, nowMs: number): AuditQuery {
  const directory = o.dir ?? process.env.KEYWARDEN_AUDIT_DIR;
  if (!directory) throw new UsageError('say where the audit trail is: --dir <dir> or KEYWARDEN_AUDIT_DIR');
  let namespace = o.namespace;
  let name: string | undefined;
  if (o.apikey) {
    const parts = o.apikey.split('/');
    if (parts.length > 2 || parts.some((p) => p === ''))
      throw new UsageError(`--apikey ${o.apikey}: expected name or namespace/name`);
    if (parts.length === 2) [namespace, name] = parts;
    else name = parts[0];
    if (!namespace)
      throw new UsageError('--apikey needs a namespace: --apikey namespace/name or -n namespace');
  }
  const time = (flag: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    try {
      return parseTimeArg(v, nowMs);
    } catch (err) {
      throw new UsageError(`${flag}: ${(err as Error).message}`);
    }
  };
  const q: AuditQuery = {
    directory,
    keyId: o.keyId,
    namespace,
    name,
    sinceMs: time('--since', o.since),
    untilMs: time('--until', o.until),
    status: o.status,
    reason: o.reason,
    eventType: o.type,
    action: o.action,
  };
  if (q.sinceMs !== undefined && q.untilMs !== undefined && q.sinceMs >= q.untilMs) {
    throw new UsageError('--since must be before --until');
  }
  return q;
}

export function registerAudit(program: Command): void {
  const audit = program
    .command('audit')
    .description(
      'query the audit trail (Parquet files of decisions and lifecycle events; see docs/audit.md)',
    );

  withFilters(
    audit
      .command('events', { isDefault: true })
      .description('list matching events, newest first (the default)'),
  )
    .option('--limit <n>', 'at most this many events (0: all)', nonNegativeInt, 100)
    .addOption(
      new Option('--order <order>', 'newest or oldest first').choices(['desc', 'asc']).default('desc'),
    )
    .action(async (o: FilterFlags & { limit: number; order: 'asc' | 'desc' }) => {
      const q = toQuery(o, Date.now());
      // Loaded here, not at start: the Parquet reader is only needed by these commands.
      const { queryEvents } = await import('../../audit/query.ts');
      const { formatEvents } = await import('../../audit/output.ts');
      const result = await queryEvents(q, { limit: o.limit, order: o.order });
      process.stdout.write(formatEvents(result.rows, o.output));
      if (o.output === 'table' && result.truncated) {
        process.stderr.write(
          `(showing ${result.rows.length} events; more match: raise --limit, or --limit 0 for all)\n`,
        );
      }
    });

  withFilters(
    audit.command('usage').description('requests per key, per day, or per key and day (decisions only)'),
  )
    .addOption(new Option('--by <group>', 'group by').choices(['key', 'day', 'key-day']).default('key'))
    .action(async (o: FilterFlags & { by: UsageGroup }) => {
      const q = toQuery(o, Date.now());
      const { queryUsage } = await import('../../audit/query.ts');
      const { formatUsage } = await import('../../audit/output.ts');
      const result = await queryUsage(q, o.by);
      process.stdout.write(formatUsage(result.rows, o.by, o.output));
    });

  audit
    .command('check')
    .description(
      'check every file: readable, row counts, no leftovers of interrupted writes, no plaintext keys',
    )
    .option('--dir <dir>', 'audit trail directory (default: $KEYWARDEN_AUDIT_DIR)')
    .action(async (o: { dir?: string }) => {
      const dir = o.dir ?? process.env.KEYWARDEN_AUDIT_DIR;
      if (!dir) throw new UsageError('say where the audit trail is: --dir <dir> or KEYWARDEN_AUDIT_DIR');
      const { findPlaintextKeys, readableRowsOf } = await import('../../audit/scan.ts');
      const readable = await readableRowsOf(dir);
      const scan = await findPlaintextKeys(dir);
      for (const f of readable.unreadable) process.stdout.write(`unreadable: ${f.path}: ${f.error}\n`);
      for (const f of readable.leftovers)
        process.stdout.write(
          `leftover of an interrupted write (recovered at the writer's next start): ${f}\n`,
        );
      for (const f of scan.findings)
        process.stdout.write(`plaintext key ${f.hint} in ${f.column} of ${f.path}\n`);
      process.stdout.write(
        `${readable.files} files, ${readable.rows} events, ${readable.unreadable.length} unreadable, ` +
          `${readable.leftovers.length} leftovers, ${scan.findings.length} plaintext keys\n`,
      );
      if (readable.unreadable.length > 0 || scan.findings.length > 0)
        throw new KeywardenError('failure', 'the audit trail has problems (above)');
    });
}
