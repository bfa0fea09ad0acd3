import type { RowGroupExt } from '@dsnp/parquetjs/dist/lib/declare.js';
import { HOUR_MS } from './naming.ts';
import { AuditFileReader, type CellValue, type ColumnBatch, rowAt, type TimeRange } from './reader.ts';
import { type AuditFileInfo, listAuditFiles } from './retention.ts';
import { type AuditRow, COLUMN_NAMES, type ColumnName, type EventType } from './schema.ts';

// The questions `keywarden audit` answers: which events match (by key id, ApiKey, time range, status,
// reason, event type, action), and how much each key was used, per key and per day. Partitions outside
// the time range are never opened; row groups whose time statistics rule them out are never read; the
// filter columns are read first and the rest only for row groups with a match.

export interface AuditQuery {
  directory: string;
  keyId?: string | undefined;
  /** ApiKey namespace; with `name`, one ApiKey. */
  namespace?: string | undefined;
  name?: string | undefined;
  sinceMs?: number | undefined;
  untilMs?: number | undefined;
  status?: readonly number[] | undefined;
  reason?: readonly string[] | undefined;
  eventType?: EventType | undefined;
  action?: readonly string[] | undefined;
}

export interface EventsOptions {
  /** Most events returned (0: all). */
  limit?: number;
  /** `desc`: newest first (default), `asc`: oldest first. With a limit, the newest (or oldest) are kept. */
  order?: 'asc' | 'desc';
}

export interface QueryStats {
  files: number;
  rowGroups: number;
  rowGroupsSkipped: number;
  rowsScanned: number;
}

export interface EventsResult {
  rows: AuditRow[];
  /** Matching events in the partitions read (a scan with a limit stops early, so this may be a floor). */
  matched: number;
  /** True when the limit cut the result (older/newer matches exist). */
  truncated: boolean;
  stats: QueryStats;
}

export type UsageGroup = 'key' | 'day' | 'key-day';

export interface UsageRow {
  /** YYYY-MM-DD (UTC), for `day` and `key-day`. */
  day?: string;
  /** For `key` and `key-day`; null for requests without a readable key. */
  key_id?: string | null;
  /** `namespace/name` of the key's ApiKey, when known. */
  api_key?: string | null;
  /** Requests with a proven key, or with no readable key at all (key_id null); not `failed_secret`. */
  requests: number;
  /** 2xx */
  allowed: number;
  /** 401 and 403 */
  denied: number;
  /** 429 */
  rate_limited: number;
  /** Other statuses (400, 503). */
  other: number;
  /**
   * Attempts with this key id that failed the secret check: someone sent the id with a secret that is
   * not the key's (or an id no key has). Counted apart from `requests`: they are not the key's use.
   */
  failed_secret: number;
  first: Date;
  last: Date;
}

export interface UsageResult {
  rows: UsageRow[];
  stats: QueryStats;
}

const FILTER_COLUMNS: Partial<Record<keyof AuditQuery, ColumnName>> = {
  keyId: 'key_id',
  namespace: 'api_key_namespace',
  name: 'api_key_name',
  status: 'status',
  reason: 'reason',
  eventType: 'event_type',
  action: 'action',
};

function filterColumns(q: AuditQuery): ColumnName[] {
  const cols = new Set<ColumnName>(['time']);
  for (const [k, col] of Object.entries(FILTER_COLUMNS)) {
    const v = q[k as keyof AuditQuery];
    if (v !== undefined && col && !(Array.isArray(v) && v.length === 0)) cols.add(col);
  }
  return [...cols];
}

/** A predicate over row i of a batch holding (at least) the filter columns. */
function predicate(q: AuditQuery): (b: ColumnBatch, i: number) => boolean {
  const tests: ((b: ColumnBatch, i: number) => boolean)[] = [];
  const eq = (col: ColumnName, value: CellValue) => (b: ColumnBatch, i: number) =>
    b.columns.get(col)?.[i] === value;
  const oneOf = (col: ColumnName, values: readonly CellValue[]) => {
    const set = new Set(values);
    return (b: ColumnBatch, i: number) => set.has(b.columns.get(col)?.[i] ?? null);
  };
  if (q.sinceMs !== undefined) {
    const since = q.sinceMs;
    tests.push((b, i) => (b.columns.get('time')?.[i] as number) >= since);
  }
  if (q.untilMs !== undefined) {
    const until = q.untilMs;
    tests.push((b, i) => (b.columns.get('time')?.[i] as number) < until);
  }
  if (q.keyId !== undefined) tests.push(eq('key_id', q.keyId));
  if (q.namespace !== undefined) tests.push(eq('api_key_namespace', q.namespace));
  if (q.name !== undefined) tests.push(eq('api_key_name', q.name));
  if (q.status?.length) tests.push(oneOf('status', q.status));
  if (q.reason?.length) tests.push(oneOf('reason', q.reason));
  if (q.eventType !== undefined) tests.push(eq('event_type', q.eventType));
  if (q.action?.length) tests.push(oneOf('action', q.action));
  return (b, i) => tests.every((t) => t(b, i));
}

/** The files a query has to open, in partition order. */
async function filesFor(q: AuditQuery): Promise<AuditFileInfo[]> {
  return (await listAuditFiles(q.directory)).filter(
    (f) =>
      (q.sinceMs === undefined || f.hourStartMs + HOUR_MS > q.sinceMs) &&
      (q.untilMs === undefined || f.hourStartMs < q.untilMs),
  );
}

/**
 * Calls `onMatch` with each row group's batch (filter columns plus `extra`) and the indexes that
 * match. Files are visited in `order` of partition; `stopAfterPartition` can end the scan between
 * partitions (their time ranges never overlap).
 */
async function scan(
  q: AuditQuery,
  extra: readonly ColumnName[],
  order: 'asc' | 'desc',
  onMatch: (batch: ColumnBatch, indexes: number[], where: { path: string; rowGroup: number }) => void,
  stopAfterPartition: () => boolean = () => false,
): Promise<QueryStats> {
  const stats: QueryStats = { files: 0, rowGroups: 0, rowGroupsSkipped: 0, rowsScanned: 0 };
  const files = await filesFor(q);
  if (order === 'desc') files.reverse();
  const range: TimeRange = { fromMs: q.sinceMs, toMs: q.untilMs };
  const filterCols = filterColumns(q);
  const restCols = extra.filter((c) => !filterCols.includes(c));
  const test = predicate(q);
  let partition: string | undefined;
  for (const f of files) {
    if (partition !== undefined && f.partition !== partition && stopAfterPartition()) break;
    partition = f.partition;
    let reader: AuditFileReader;
    try {
      reader = await AuditFileReader.open(f.path);
    } catch {
      continue; // deleted by retention meanwhile, or not readable: `keywarden audit check` reports those
    }
    stats.files++;
    try {
      for (const [rowGroup, rg] of reader.rowGroups.entries()) {
        stats.rowGroups++;
        if (!reader.mayMatch(rg, range)) {
          stats.rowGroupsSkipped++;
          continue;
        }
        const batch = await reader.read(rg, filterCols);
        stats.rowsScanned += batch.rows;
        const indexes: number[] = [];
        for (let i = 0; i < batch.rows; i++) if (test(batch, i)) indexes.push(i);
        if (indexes.length === 0) continue;
        if (restCols.length > 0) {
          const rest = await reader.read(rg, restCols);
          for (const [k, v] of rest.columns) batch.columns.set(k, v);
        }
        onMatch(batch, indexes, { path: f.path, rowGroup });
      }
    } finally {
      await reader.close();
    }
  }
  return stats;
}

interface Candidate {
  path: string;
  rowGroup: number;
  index: number;
  timeMs: number;
}

/**
 * Two passes, so that a query for the newest 100 of a million matches reads every column of only the
 * row groups holding those 100: first the filter columns everywhere (stopping between partitions once
 * enough matched, newest partition first), then all columns where the chosen rows are.
 */
export async function queryEvents(q: AuditQuery, opts: EventsOptions = {}): Promise<EventsResult> {
  const limit = opts.limit ?? 0;
  const order = opts.order ?? 'desc';
  let candidates: Candidate[] = [];
  const stats = await scan(
    q,
    [],
    order,
    (batch, indexes, where) => {
      const time = batch.columns.get('time') as number[];
      for (const i of indexes) candidates.push({ ...where, index: i, timeMs: time[i] as number });
    },
    // One more than the limit, so that `truncated` can tell "exactly limit" from "more than limit".
    () => limit > 0 && candidates.length > limit,
  );
  const matched = candidates.length;
  const sign = order === 'desc' ? -1 : 1;
  candidates.sort((a, b) => sign * (a.timeMs - b.timeMs));
  if (limit > 0) candidates = candidates.slice(0, limit);

  const byFile = new Map<string, Map<number, Candidate[]>>();
  for (const c of candidates) {
    let groups = byFile.get(c.path);
    if (!groups) {
      groups = new Map();
      byFile.set(c.path, groups);
    }
    const list = groups.get(c.rowGroup);
    if (list) list.push(c);
    else groups.set(c.rowGroup, [c]);
  }
  const rowOf = new Map<Candidate, AuditRow>();
  for (const [path, groups] of byFile) {
    const reader = await AuditFileReader.open(path);
    try {
      for (const [rg, list] of groups) {
        const batch = await reader.read(reader.rowGroups[rg] as RowGroupExt, COLUMN_NAMES);
        for (const c of list) rowOf.set(c, rowAt(batch, c.index));
      }
    } finally {
      await reader.close();
    }
  }
  const rows = candidates.map((c) => rowOf.get(c)).filter((r): r is AuditRow => r !== undefined);
  return { rows, matched, truncated: limit > 0 && matched > rows.length, stats };
}

/**
 * A decision whose key string named an id but whose secret was never proven: the validator records
 * the ApiKey (api_key_name) only once the secret matched, so an id without an ApiKey is such an attempt.
 */
function failedSecretCheck(keyId: string | null, apiKeyName: string | null): boolean {
  return keyId !== null && apiKeyName === null;
}

export async function queryUsage(q: AuditQuery, by: UsageGroup): Promise<UsageResult> {
  // Usage is about requests: decisions only, whatever the event type filter says.
  const query: AuditQuery = { ...q, eventType: 'decision' };
  const groups = new Map<string, UsageRow>();
  const dayNames = new Map<number, string>();
  const stats = await scan(
    query,
    ['key_id', 'api_key_namespace', 'api_key_name', 'status'],
    'asc',
    (batch, indexes) => {
      const time = batch.columns.get('time') as number[];
      const keyId = batch.columns.get('key_id') as (string | null)[];
      const ns = batch.columns.get('api_key_namespace') as (string | null)[];
      const name = batch.columns.get('api_key_name') as (string | null)[];
      const status = batch.columns.get('status') as (number | null)[];
      for (const i of indexes) {
        const t = time[i] as number;
        const dayNumber = Math.floor(t / 86_400_000);
        let day = dayNames.get(dayNumber);
        if (day === undefined) {
          day = new Date(dayNumber * 86_400_000).toISOString().slice(0, 10);
          dayNames.set(dayNumber, day);
        }
        const key = keyId[i] ?? null;
        const id = by === 'key' ? `${key}` : by === 'day' ? day : `${day}\u0000${key}`;
        let g = groups.get(id);
        if (!g) {
          g = {
            requests: 0,
            allowed: 0,
            denied: 0,
            rate_limited: 0,
            other: 0,
            failed_secret: 0,
            first: new Date(t),
            last: new Date(t),
          };
          if (by !== 'key') g.day = day;
          if (by !== 'day') {
            g.key_id = key;
            g.api_key = null;
          }
          groups.set(id, g);
        }
        if (by !== 'day' && g.api_key === null && ns[i] && name[i]) g.api_key = `${ns[i]}/${name[i]}`;
        if (failedSecretCheck(key, name[i] ?? null)) g.failed_secret++;
        else {
          g.requests++;
          const s = status[i] ?? 0;
          if (s >= 200 && s < 300) g.allowed++;
          else if (s === 401 || s === 403) g.denied++;
          else if (s === 429) g.rate_limited++;
          else g.other++;
        }
        if (t < g.first.getTime()) g.first.setTime(t);
        if (t > g.last.getTime()) g.last.setTime(t);
      }
    },
  );
  const rows = [...groups.values()].sort((a, b) => {
    if (by === 'key')
      return (
        b.requests - a.requests ||
        b.failed_secret - a.failed_secret ||
        String(a.key_id).localeCompare(String(b.key_id))
      );
    if (by === 'day') return (a.day ?? '').localeCompare(b.day ?? '');
    return (
      (a.day ?? '').localeCompare(b.day ?? '') ||
      b.requests - a.requests ||
      String(a.key_id).localeCompare(String(b.key_id))
    );
  });
  return { rows, stats };
}
