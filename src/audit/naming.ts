import { randomBytes } from 'node:crypto';

// Where files go and what they are called. Hive-style partitions by the events' UTC hour:
//   <root>/date=2026-03-01/hour=07/part-<source>-<boot>-<seq>.parquet
// `boot` is unique per process start (time + random: a container's pid is always 1), `seq` counts the
// files that process opened, so names never collide across replicas, restarts or rotations. A file is
// written as `.part-….parquet.tmp` (hidden: readers globbing *.parquet and Spark/Hive skip dot files)
// next to its journal `.part-….parquet.journal`, and renamed to its final name only when complete.

export const HOUR_MS = 3_600_000;

export interface Partition {
  /** Start of the UTC hour, epoch milliseconds. */
  hourStartMs: number;
  /** `date=YYYY-MM-DD/hour=HH` */
  path: string;
}

export function partitionOf(timeMs: number): Partition {
  const hourStartMs = Math.floor(timeMs / HOUR_MS) * HOUR_MS;
  const iso = new Date(hourStartMs).toISOString();
  return { hourStartMs, path: `date=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}` };
}

const PARTITION_RE = /^date=(\d{4}-\d{2}-\d{2})\/hour=(\d{2})$/;

/** The hour a partition path (`date=…/hour=…`) stands for, or undefined if it is not one. */
export function parsePartitionPath(path: string): number | undefined {
  const m = PARTITION_RE.exec(path.replaceAll('\\', '/'));
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}T${m[2]}:00:00Z`);
  return Number.isFinite(ms) ? ms : undefined;
}

export const DATE_DIR_RE = /^date=\d{4}-\d{2}-\d{2}$/;
export const HOUR_DIR_RE = /^hour=\d{2}$/;

const FINAL_RE = /^part-(.+)-([0-9a-z]+)-(\d{6,})\.parquet$/;
const TEMP_RE = /^\.(part-.+\.parquet)\.tmp$/;
const JOURNAL_RE = /^\.(part-.+\.parquet)\.journal$/;

export function isFinalName(name: string): boolean {
  return FINAL_RE.test(name);
}

/** The source part of a file name (sanitized as sourceToken makes it), or undefined. */
export function sourceOfName(finalName: string): string | undefined {
  return FINAL_RE.exec(finalName)?.[1];
}

export function tempName(finalName: string): string {
  return `.${finalName}.tmp`;
}

export function journalName(finalName: string): string {
  return `.${finalName}.journal`;
}

/** The final name a temp or journal file belongs to. */
export function finalNameOf(name: string): { finalName: string; kind: 'temp' | 'journal' } | undefined {
  const t = TEMP_RE.exec(name);
  if (t?.[1]) return { finalName: t[1], kind: 'temp' };
  const j = JOURNAL_RE.exec(name);
  if (j?.[1]) return { finalName: j[1], kind: 'journal' };
  return undefined;
}

/** `validator/pod-7f9` → `validator.pod-7f9`: safe in a file name, at most 80 characters. */
export function sourceToken(source: string): string {
  return (
    source
      .replace(/[^A-Za-z0-9_.-]+/g, '.')
      .replace(/^[.-]+/, '')
      .slice(0, 80) || 'unknown'
  );
}

export class FileNamer {
  readonly #prefix: string;
  #seq = 0;

  constructor(source: string, nowMs = Date.now()) {
    const boot = `${nowMs.toString(36)}${randomBytes(3).toString('hex')}`;
    this.#prefix = `part-${sourceToken(source)}-${boot}`;
  }

  next(): string {
    this.#seq++;
    return `${this.#prefix}-${String(this.#seq).padStart(6, '0')}.parquet`;
  }
}
