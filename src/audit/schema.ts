import type { DecisionEvent } from '../api/events.ts';

// The audit trail's one table: every validator decision and every controller lifecycle change, told
// apart by `event_type`. Flat columns only (no nesting), so every Parquet reader maps them directly.
// Column names are snake_case for SQL; a column is never renamed or retyped, only added (as OPTIONAL),
// and SCHEMA_VERSION goes up when one is.

export const SCHEMA_VERSION = 1;

export type EventType = 'decision' | 'lifecycle';

/** What the validator hands over (its optional fields: older validators leave them out). */
export type AuditDecisionEvent = DecisionEvent;

export const LIFECYCLE_ACTIONS = [
  'created',
  'regenerated',
  'disabled',
  'enabled',
  'expired',
  'revealed',
  'deleted',
] as const;
export type LifecycleAction = (typeof LIFECYCLE_ACTIONS)[number];

/** A change in an ApiKey's life, as the controller sees it. */
export interface LifecycleEvent {
  action: LifecycleAction;
  /** ApiKey namespace and name. */
  namespace: string;
  name: string;
  /** Defaults to the time of recording. */
  timeMs?: number | undefined;
  keyId?: string | undefined;
  environment?: string | undefined;
  /** Who did it, where the API server says so (a managedFields manager, a user). Omitted when unknown. */
  actor?: string | undefined;
  /** A short code, e.g. the Kubernetes Event reason (`Regenerated`, `DeliveryExpired`). */
  reason?: string | undefined;
  /** Short free text (e.g. `generation 3`). Never a key: key-shaped text is redacted anyway. */
  detail?: string | undefined;
}

/** One buffered event: the caller's object, untouched, tagged with its type. */
export type BufferedEvent =
  | { type: 'decision'; timeMs: number; event: AuditDecisionEvent }
  | { type: 'lifecycle'; timeMs: number; event: LifecycleEvent };

export type ColumnKind = 'timestamp' | 'string' | 'int32' | 'double';

export interface ColumnSpec {
  name: string;
  kind: ColumnKind;
  optional: boolean;
  /** Min/max statistics: only where readers prune with them (time) or they are tiny. */
  statistics: boolean;
  /** What the column holds, for docs and `keywarden audit --help`. */
  doc: string;
  get(e: BufferedEvent): string | number | undefined;
}

const dec =
  <T>(f: (e: AuditDecisionEvent) => T) =>
  (b: BufferedEvent) =>
    b.type === 'decision' ? f(b.event) : undefined;
const life =
  <T>(f: (e: LifecycleEvent) => T) =>
  (b: BufferedEvent) =>
    b.type === 'lifecycle' ? f(b.event) : undefined;

/** The columns in file order. `source` is filled by the writer (see ColumnValues). */
export const COLUMNS: readonly ColumnSpec[] = [
  {
    name: 'time',
    kind: 'timestamp',
    optional: false,
    statistics: true,
    doc: 'when it happened (UTC, milliseconds)',
    get: (b) => b.timeMs,
  },
  {
    name: 'event_type',
    kind: 'string',
    optional: false,
    statistics: true,
    doc: '`decision` (validator) or `lifecycle` (controller)',
    get: (b) => b.type,
  },
  {
    name: 'key_id',
    kind: 'string',
    optional: true,
    statistics: false,
    doc: 'the key id (never the key)',
    get: (b) => b.event.keyId,
  },
  {
    name: 'api_key_namespace',
    kind: 'string',
    optional: true,
    statistics: false,
    doc: 'namespace of the ApiKey',
    get: (b) => (b.type === 'decision' ? b.event.apiKeyNamespace : b.event.namespace),
  },
  {
    name: 'api_key_name',
    kind: 'string',
    optional: true,
    statistics: false,
    doc: 'name of the ApiKey',
    get: (b) => (b.type === 'decision' ? b.event.apiKeyName : b.event.name),
  },
  {
    name: 'environment',
    kind: 'string',
    optional: true,
    statistics: false,
    doc: 'production, staging or development',
    get: (b) => b.event.environment,
  },
  {
    name: 'door',
    kind: 'string',
    optional: true,
    statistics: false,
    doc: 'decision: authz, proxy or verify',
    get: dec((e) => e.door),
  },
  {
    name: 'method',
    kind: 'string',
    optional: true,
    statistics: false,
    doc: 'decision: HTTP method',
    get: dec((e) => e.method),
  },
  {
    name: 'path',
    kind: 'string',
    optional: true,
    statistics: false,
    doc: 'decision: request path, without the query string',
    get: dec((e) => e.path),
  },
  {
    name: 'status',
    kind: 'int32',
    optional: true,
    statistics: true,
    doc: 'decision: HTTP status (200, 400, 401, 403, 429, 503)',
    get: dec((e) => e.status),
  },
  {
    name: 'reason',
    kind: 'string',
    optional: true,
    statistics: false,
    doc: 'decision: `ok` or the deny code; lifecycle: a short code',
    get: (b) => b.event.reason,
  },
  {
    name: 'client_ip',
    kind: 'string',
    optional: true,
    statistics: false,
    doc: 'decision: client address (after trusted proxies)',
    get: dec((e) => e.clientIp),
  },
  {
    name: 'latency_ms',
    kind: 'double',
    optional: true,
    statistics: false,
    doc: 'decision: time to decide, milliseconds',
    get: dec((e) => e.latencyMs),
  },
  {
    name: 'request_id',
    kind: 'string',
    optional: true,
    statistics: false,
    doc: 'decision: request id, when the request had one',
    get: dec((e) => e.requestId),
  },
  {
    name: 'action',
    kind: 'string',
    optional: true,
    statistics: false,
    doc: 'lifecycle: created, regenerated, disabled, enabled, expired, revealed, deleted',
    get: life((e) => e.action),
  },
  {
    name: 'actor',
    kind: 'string',
    optional: true,
    statistics: false,
    doc: 'lifecycle: who did it, when known',
    get: life((e) => e.actor),
  },
  {
    name: 'detail',
    kind: 'string',
    optional: true,
    statistics: false,
    doc: 'lifecycle: short free text',
    get: life((e) => e.detail),
  },
  {
    name: 'source',
    kind: 'string',
    optional: false,
    statistics: false,
    doc: 'which process wrote it (component/instance)',
    get: () => undefined,
  },
];

/** A row as the query side reads it back. */
export interface AuditRow {
  time: Date;
  event_type: EventType;
  key_id: string | null;
  api_key_namespace: string | null;
  api_key_name: string | null;
  environment: string | null;
  door: string | null;
  method: string | null;
  path: string | null;
  status: number | null;
  reason: string | null;
  client_ip: string | null;
  latency_ms: number | null;
  request_id: string | null;
  action: string | null;
  actor: string | null;
  detail: string | null;
  source: string;
}

export type ColumnName = keyof AuditRow;

export const COLUMN_NAMES = COLUMNS.map((c) => c.name) as ColumnName[];
