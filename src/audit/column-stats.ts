import type { ChunkStatistics } from './format.ts';
import type { ColumnKind } from './schema.ts';
import { ValueWriter } from './value-writer.ts';

// A column chunk's min/max statistics, ordered as Parquet readers order them.

export type Stats = { min: string | number | undefined; max: string | number | undefined };

/**
 * Orders as Parquet's statistics do: numbers by value, strings by their UTF-8 bytes, unsigned (JS `<`
 * compares UTF-16 units, which disagrees past U+FFFF).
 */
function before(a: string | number, b: string | number): boolean {
  if (typeof a === 'number' || typeof b === 'number') return a < b;
  if (isAscii(a) && isAscii(b)) return a < b;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')) < 0;
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

export function track(s: Stats, v: string | number): void {
  if (s.min === undefined || before(v, s.min)) s.min = v;
  if (s.max === undefined || before(s.max, v)) s.max = v;
}

/** The chunk's statistics: min and max PLAIN-encoded as `kind` stores them. */
export function chunkStatistics(kind: ColumnKind, s: Stats, nulls: number): ChunkStatistics {
  if (s.min === undefined || s.max === undefined) return { nulls };
  return { min: plainOne(kind, s.min), max: plainOne(kind, s.max), nulls };
}

function plainOne(kind: ColumnKind, v: string | number): Buffer {
  if (kind === 'string') return Buffer.from(v as string, 'utf8');
  const w = new ValueWriter(8);
  w.number(kind, v as number);
  return Buffer.from(w.bytes());
}
