import {
  type FieldPath,
  failed,
  formatProblem,
  ok,
  type Place,
  type Problem,
  parseDuration,
  type Result,
  unplaced,
} from '../rules/index.ts';
import type { Compression } from './compress.ts';
import type { RetentionPolicy } from './retention.ts';

// Writer settings and their defaults. Numbers are milliseconds, bytes and event counts; configuration
// files give durations as 30s/5m/720h and sizes as 64Mi/10Gi (parseAuditSettings).

export interface AuditWriterOptions {
  /** Root of the trail; files go to <directory>/date=YYYY-MM-DD/hour=HH/. */
  directory: string;
  /** Who writes: `validator/<pod>` or `controller/<pod>`; goes into every row and file name. */
  source: string;
  compression?: Compression;
  /** Write what is buffered at least this often. Bounds what a SIGKILL can lose. */
  flushIntervalMs?: number;
  /** Write as soon as this many events are waiting, and at most this many per row group... */
  batchRows?: number;
  /** ...or as soon as they take this many bytes encoded (uncompressed), and at most about this many per row group. */
  batchBytes?: number;
  /** Rotate a file (finish it, start the next) at this many rows... */
  maxFileRows?: number;
  /** ...or this many bytes... */
  maxFileBytes?: number;
  /** ...or when it has been open this long (files become visible to readers when finished)... */
  maxFileAgeMs?: number;
  /** ...or at this many row groups (each batch is one; bounds footer size when traffic is light). */
  maxFileRowGroups?: number;
  /** Events held in memory at most (waiting plus being written). */
  bufferEvents?: number;
  /** When the buffer is full, how long an event may wait for room before it is dropped. */
  blockMs?: number;
  /** How many events may wait for room at once; more are dropped at once. */
  overflowEvents?: number;
  /** fsync at each commit and before each rename (survives power loss, not only a process kill). */
  fsync?: boolean;
  retention?: RetentionPolicy & { intervalMs?: number };
  /**
   * Temp files of another source are recovered at start only if untouched this long (a live writer
   * touches its open file at least every maxFileAgeMs). Temp files of this source always are.
   */
  staleAfterMs?: number;
  now?: () => number;
  /** Fault injection for tests (see PartFileOptions.beforeCommit). */
  beforeCommit?: () => Promise<void>;
}

export const AUDIT_DEFAULTS = {
  compression: 'GZIP' as Compression,
  flushIntervalMs: 1_000,
  batchRows: 10_000,
  batchBytes: 8 * 1024 * 1024,
  maxFileRows: 1_000_000,
  maxFileBytes: 128 * 1024 * 1024,
  maxFileAgeMs: 5 * 60_000,
  maxFileRowGroups: 500,
  bufferEvents: 50_000,
  blockMs: 200,
  fsync: true,
  retentionIntervalMs: 10 * 60_000,
} as const;

export type ResolvedAuditOptions = Required<
  Omit<AuditWriterOptions, 'retention' | 'beforeCommit' | 'now' | 'overflowEvents' | 'staleAfterMs'>
> & {
  overflowEvents: number;
  staleAfterMs: number;
  retention: RetentionPolicy & { intervalMs: number };
  now: () => number;
  beforeCommit: (() => Promise<void>) | undefined;
};

export function resolveOptions(o: AuditWriterOptions): ResolvedAuditOptions {
  const positive = (name: string, v: number) => {
    if (!(Number.isFinite(v) && v > 0))
      throw new RangeError(`audit option ${name} must be a positive number, got ${v}`);
    return v;
  };
  const bufferEvents = positive('bufferEvents', o.bufferEvents ?? AUDIT_DEFAULTS.bufferEvents);
  const flushIntervalMs = positive('flushIntervalMs', o.flushIntervalMs ?? AUDIT_DEFAULTS.flushIntervalMs);
  const maxFileAgeMs = positive('maxFileAgeMs', o.maxFileAgeMs ?? AUDIT_DEFAULTS.maxFileAgeMs);
  if (!o.directory) throw new RangeError('audit option directory is required');
  return {
    directory: o.directory,
    source: o.source || 'unknown',
    compression: o.compression ?? AUDIT_DEFAULTS.compression,
    flushIntervalMs,
    batchRows: positive('batchRows', o.batchRows ?? AUDIT_DEFAULTS.batchRows),
    batchBytes: positive('batchBytes', o.batchBytes ?? AUDIT_DEFAULTS.batchBytes),
    maxFileRows: positive('maxFileRows', o.maxFileRows ?? AUDIT_DEFAULTS.maxFileRows),
    maxFileBytes: positive('maxFileBytes', o.maxFileBytes ?? AUDIT_DEFAULTS.maxFileBytes),
    maxFileAgeMs,
    maxFileRowGroups: positive('maxFileRowGroups', o.maxFileRowGroups ?? AUDIT_DEFAULTS.maxFileRowGroups),
    bufferEvents,
    blockMs: o.blockMs ?? AUDIT_DEFAULTS.blockMs,
    overflowEvents: o.overflowEvents ?? Math.max(1_000, Math.ceil(bufferEvents / 10)),
    fsync: o.fsync ?? AUDIT_DEFAULTS.fsync,
    retention: {
      maxAgeMs: o.retention?.maxAgeMs,
      maxTotalBytes: o.retention?.maxTotalBytes,
      intervalMs: o.retention?.intervalMs ?? AUDIT_DEFAULTS.retentionIntervalMs,
    },
    staleAfterMs: o.staleAfterMs ?? maxFileAgeMs + 2 * flushIntervalMs + 60_000,
    now: o.now ?? Date.now,
    beforeCommit: o.beforeCommit,
  };
}

const SIZE_RE = /^([0-9]{1,16})(Ki|Mi|Gi|Ti|k|M|G|T)?$/;
const SIZE_UNIT: Record<string, number> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
};

/** `64Mi`, `10Gi`, `500M`, `1048576` → bytes (Kubernetes quantity suffixes); undefined if not a size. */
function byteSize(s: string): number | undefined {
  const m = SIZE_RE.exec(s.trim());
  const bytes = m ? Number(m[1]) * (SIZE_UNIT[m[2] ?? ''] ?? 1) : Number.NaN;
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** The `audit:` block of a configuration file, as written by people. */
export interface AuditSettings {
  directory: string;
  compression?: Compression;
  flushInterval?: string;
  batchRows?: number;
  /** Size of a batch (row group) at most, e.g. `8Mi`. */
  batchSize?: string;
  rotate?: { rows?: number; size?: string; age?: string };
  buffer?: { events?: number; block?: string };
  fsync?: boolean;
  retention?: { maxAge?: string; maxSize?: string; interval?: string };
}

/**
 * Checks the durations, sizes and counts of the `audit:` block (its shape is the validator's schema)
 * and turns them into writer options. `place` gives each problem its field (and line, in a file).
 */
export function checkAuditSettings(
  s: AuditSettings,
  source: string,
  place: Place = unplaced,
): Result<AuditWriterOptions> {
  const problems: Problem[] = [];
  // Only values of the right type are looked at: a wrong type is a shape problem (the schema's).
  const duration = (path: FieldPath, v: string | undefined) => {
    if (typeof v !== 'string' || v === '') return undefined;
    const r = parseDuration(v);
    if (!r.ok) problems.push(place(path, r.message));
    return r.ok ? r.ms : undefined;
  };
  const size = (path: FieldPath, v: string | undefined) => {
    if (typeof v !== 'string' || v === '') return undefined;
    const bytes = byteSize(v);
    if (bytes === undefined)
      problems.push(place(path, `${JSON.stringify(v)} is not a size (e.g. 64Mi, 10Gi, 500M)`));
    return bytes;
  };
  const count = (path: FieldPath, v: number | undefined) => {
    if (typeof v !== 'number') return undefined;
    if (!(Number.isSafeInteger(v) && v > 0)) problems.push(place(path, 'must be a positive whole number'));
    return v || undefined;
  };
  const defined = <T extends object>(o: T) =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
  const options: AuditWriterOptions = {
    directory: s.directory,
    source,
    ...defined({
      compression: s.compression || undefined,
      flushIntervalMs: duration(['flushInterval'], s.flushInterval),
      batchRows: count(['batchRows'], s.batchRows),
      batchBytes: size(['batchSize'], s.batchSize),
      maxFileRows: count(['rotate', 'rows'], s.rotate?.rows),
      maxFileBytes: size(['rotate', 'size'], s.rotate?.size),
      maxFileAgeMs: duration(['rotate', 'age'], s.rotate?.age),
      bufferEvents: count(['buffer', 'events'], s.buffer?.events),
      blockMs: duration(['buffer', 'block'], s.buffer?.block),
      fsync: s.fsync,
    }),
    retention: defined({
      maxAgeMs: duration(['retention', 'maxAge'], s.retention?.maxAge),
      maxTotalBytes: size(['retention', 'maxSize'], s.retention?.maxSize),
      intervalMs: duration(['retention', 'interval'], s.retention?.interval),
    }),
  };
  return problems.length > 0 ? failed(problems) : ok(options);
}

/** For settings already checked (the validator's file after `--check`, the controller's flags): throws on a problem. */
export function parseAuditSettings(s: AuditSettings, source: string): AuditWriterOptions {
  const r = checkAuditSettings(s, source);
  if (!r.ok) throw new RangeError(r.problems.map((p) => formatProblem('audit', p)).join('; '));
  return r.value;
}
