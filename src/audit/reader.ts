import parquet from '@dsnp/parquetjs';
import type { RowGroupExt } from '@dsnp/parquetjs/dist/lib/declare.js';
import { listAuditFiles } from './retention.ts';
import { type AuditRow, COLUMN_NAMES, COLUMNS, type ColumnName } from './schema.ts';

// Reading audit files back, column by column, for `keywarden audit`: only the columns asked for, and
// row groups whose time statistics cannot match are skipped without being read. (@dsnp/parquetjs's
// reader; DuckDB, Spark or Trino are the tools for heavy analysis, see docs/audit.md.)

export type CellValue = string | number | null;

export interface ColumnBatch {
  rows: number;
  columns: Map<ColumnName, CellValue[]>;
}

export interface TimeRange {
  /** Inclusive. */
  fromMs?: number | undefined;
  /** Exclusive. */
  toMs?: number | undefined;
}

const KIND = new Map(COLUMNS.map((c) => [c.name as ColumnName, c.kind]));

type ParquetReaderType = Awaited<ReturnType<typeof parquet.ParquetReader.openFile>>;

/** An open audit file: its row groups, read a few columns at a time. */
export class AuditFileReader {
  readonly path: string;
  readonly #reader: ParquetReaderType;
  readonly #present: Set<string>;

  private constructor(path: string, reader: ParquetReaderType) {
    this.path = path;
    this.#reader = reader;
    this.#present = new Set(Object.keys(reader.schema.fields));
  }

  static async open(path: string): Promise<AuditFileReader> {
    return new AuditFileReader(path, await parquet.ParquetReader.openFile(path));
  }

  get rowGroups(): RowGroupExt[] {
    return this.#reader.metadata?.row_groups ?? [];
  }

  /** The file's key-value metadata (e.g. `keywarden.audit.recovered` on a file recovered at start). */
  get keyValue(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.#reader.getMetadata())) out[k] = String(v);
    return out;
  }

  get rows(): number {
    return Number(this.#reader.getRowCount());
  }

  /** Whether a row group's time statistics allow rows in the range (true when it has none). */
  mayMatch(rg: RowGroupExt, range: TimeRange): boolean {
    const stats = rg.columns.find((c) => c.meta_data?.path_in_schema[0] === 'time')?.meta_data?.statistics as
      | { min_value?: unknown; max_value?: unknown }
      | undefined;
    const min = toMs(stats?.min_value);
    const max = toMs(stats?.max_value);
    if (range.fromMs !== undefined && max !== undefined && max < range.fromMs) return false;
    if (range.toMs !== undefined && min !== undefined && min >= range.toMs) return false;
    return true;
  }

  /** The named columns of one row group, each as one value (or null) per row. */
  async read(rg: RowGroupExt, columns: readonly ColumnName[]): Promise<ColumnBatch> {
    const envelope = this.#reader.envelopeReader;
    if (!envelope) throw new Error(`${this.path}: reader closed`);
    const rows = Number(rg.num_rows);
    const wanted = columns.filter((c) => this.#present.has(c));
    const data =
      wanted.length > 0
        ? await envelope.readRowGroup(
            this.#reader.schema,
            rg,
            wanted.map((c) => [c]),
          )
        : { columnData: {} };
    const out = new Map<ColumnName, CellValue[]>();
    for (const name of columns) {
      const col = data.columnData?.[name];
      if (!col) {
        out.set(name, new Array<CellValue>(rows).fill(null));
        continue;
      }
      out.set(
        name,
        expand(
          name,
          col.values ?? [],
          col.dlevels ?? [],
          rows,
          this.#reader.schema.fields[name]?.dLevelMax ?? 0,
        ),
      );
    }
    return { rows, columns: out };
  }

  async close(): Promise<void> {
    await this.#reader.close();
  }
}

function toMs(v: unknown): number | undefined {
  if (v instanceof Date) return v.getTime();
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  return undefined;
}

function convert(name: ColumnName, v: unknown): CellValue {
  if (v === null || v === undefined) return null;
  const kind = KIND.get(name);
  if (kind === 'string') return Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
  if (kind === 'timestamp') return toMs(v) ?? null;
  return typeof v === 'bigint' ? Number(v) : (v as number);
}

function expand(
  name: ColumnName,
  values: unknown[],
  dlevels: number[],
  rows: number,
  dLevelMax: number,
): CellValue[] {
  const out = new Array<CellValue>(rows);
  if (dLevelMax === 0 || dlevels.length !== rows) {
    for (let i = 0; i < rows; i++) out[i] = convert(name, values[i]);
    return out;
  }
  let j = 0;
  for (let i = 0; i < rows; i++) out[i] = dlevels[i] === dLevelMax ? convert(name, values[j++]) : null;
  return out;
}

/** Row i of a batch as an AuditRow (columns not in the batch are null). */
export function rowAt(batch: ColumnBatch, i: number): AuditRow {
  const row: Record<string, unknown> = {};
  for (const name of COLUMN_NAMES) {
    const v = batch.columns.get(name)?.[i] ?? null;
    row[name] = name === 'time' ? new Date(v as number) : v;
  }
  return row as unknown as AuditRow;
}

/** Every row of one file (for tests and small files). */
export async function readAuditFile(path: string): Promise<AuditRow[]> {
  const reader = await AuditFileReader.open(path);
  try {
    const rows: AuditRow[] = [];
    for (const rg of reader.rowGroups) {
      const batch = await reader.read(rg, COLUMN_NAMES);
      for (let i = 0; i < batch.rows; i++) rows.push(rowAt(batch, i));
    }
    return rows;
  } finally {
    await reader.close();
  }
}

/** Every row under a trail's root, oldest partition first. */
export async function readAuditRows(root: string): Promise<AuditRow[]> {
  const rows: AuditRow[] = [];
  for (const f of await listAuditFiles(root)) rows.push(...(await readAuditFile(f.path)));
  return rows;
}
