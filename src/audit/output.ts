import type { UsageGroup, UsageRow } from './query.ts';
import { type AuditRow, COLUMN_NAMES } from './schema.ts';

// Output for `keywarden audit`: an aligned table for people, JSON and CSV for tools. Text from requests
// (paths, ids) is shown safely: control characters are escaped in tables (no terminal escapes from a
// crafted path), and CSV cells that a spreadsheet would run as a formula get a leading apostrophe.

export type OutputFormat = 'table' | 'json' | 'csv';

type Cell = string | number | null | undefined | Date;

function iso(d: Date): string {
  return d.toISOString();
}

function plain(v: Cell): string | number | null {
  if (v === undefined || v === null) return null;
  if (v instanceof Date) return iso(v);
  return v;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f]/g;

function tableCell(v: Cell): string {
  const p = plain(v);
  if (p === null || p === '') return '-';
  return String(p).replace(CONTROL_RE, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export function renderTable(headers: string[], rows: Cell[][]): string {
  const cells = rows.map((r) => r.map(tableCell));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return `${[line(headers), ...cells.map(line)].join('\n')}\n`;
}

function csvCell(v: Cell): string {
  const p = plain(v);
  if (p === null) return '';
  if (typeof p === 'number') return String(p);
  const s = /^[=+\-@\t\r]/.test(p) ? `'${p}` : p;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export function renderCsv(headers: string[], rows: Cell[][]): string {
  return `${[headers, ...rows].map((r) => r.map(csvCell).join(',')).join('\r\n')}\r\n`;
}

function renderJson(objects: Record<string, Cell>[]): string {
  if (objects.length === 0) return '[]\n';
  const lines = objects.map((o) =>
    JSON.stringify(Object.fromEntries(Object.entries(o).map(([k, v]) => [k, plain(v)]))),
  );
  return `[\n${lines.join(',\n')}\n]\n`;
}

function apiKeyOf(r: AuditRow): string | null {
  return r.api_key_namespace && r.api_key_name ? `${r.api_key_namespace}/${r.api_key_name}` : null;
}

export function formatEvents(rows: AuditRow[], format: OutputFormat): string {
  if (format === 'json') return renderJson(rows as unknown as Record<string, Cell>[]);
  if (format === 'csv')
    return renderCsv(
      COLUMN_NAMES,
      rows.map((r) => COLUMN_NAMES.map((c) => r[c] as Cell)),
    );
  const headers = [
    'TIME',
    'EVENT',
    'KEY ID',
    'APIKEY',
    'STATUS',
    'REASON',
    'METHOD',
    'PATH',
    'CLIENT',
    'LATENCY MS',
    'ACTOR',
  ];
  return renderTable(
    headers,
    rows.map((r) => [
      iso(r.time),
      r.event_type === 'lifecycle' ? r.action : r.event_type,
      r.key_id,
      apiKeyOf(r),
      r.status,
      r.reason,
      r.method,
      r.path,
      r.client_ip,
      r.latency_ms === null ? null : r.latency_ms.toFixed(3),
      r.actor,
    ]),
  );
}

export function formatUsage(rows: UsageRow[], by: UsageGroup, format: OutputFormat): string {
  const cols: (keyof UsageRow)[] = [
    ...(by !== 'key' ? (['day'] as const) : []),
    ...(by !== 'day' ? (['key_id', 'api_key'] as const) : []),
    'requests',
    'allowed',
    'denied',
    'rate_limited',
    'other',
    'failed_secret',
    'first',
    'last',
  ];
  const data = rows.map((r) => cols.map((c) => r[c] as Cell));
  if (format === 'json')
    return renderJson(rows.map((r) => Object.fromEntries(cols.map((c) => [c, r[c] as Cell]))));
  if (format === 'csv') return renderCsv(cols, data);
  return renderTable(
    cols.map((c) => c.toUpperCase().replace('_', ' ')),
    data,
  );
}
