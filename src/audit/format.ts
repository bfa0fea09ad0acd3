import { COLUMNS, type ColumnKind, SCHEMA_VERSION } from './schema.ts';
import { CompactWriter, ELEMENT } from './thrift.ts';

// The Parquet container around the pages column-builder.ts makes (encode.ts lays them out): the enums of
// parquet.thrift we use, page headers, a row group's metadata, and the footer (for a file being closed
// and for one rebuilt from its journal after a crash). The footer's row groups are the very bytes each
// batch journaled, so a rebuilt footer equals the one the writer would have written.

export const MAGIC = Buffer.from('PAR1');

/** parquet.thrift enums (only the members this writer uses). */
const TYPE = { INT32: 1, INT64: 2, DOUBLE: 5, BYTE_ARRAY: 6 } as const;
const CONVERTED = { UTF8: 0, TIMESTAMP_MILLIS: 9 } as const;
const REPETITION = { REQUIRED: 0, OPTIONAL: 1 } as const;
export const ENCODING = { PLAIN: 0, RLE: 3, RLE_DICTIONARY: 8 } as const;
const PAGE = { DATA_PAGE: 0, DICTIONARY_PAGE: 2 } as const;
export const CODEC = { UNCOMPRESSED: 0, SNAPPY: 1, GZIP: 2 } as const;

const PHYSICAL: Record<ColumnKind, number> = {
  timestamp: TYPE.INT64,
  string: TYPE.BYTE_ARRAY,
  int32: TYPE.INT32,
  double: TYPE.DOUBLE,
};

/** `created_by`, in the `<app> version <v>` form readers parse (Spark trusts our string statistics then). */
const CREATED_BY = `keywarden-audit version ${SCHEMA_VERSION}`;

export function fileMetadata(source: string): Record<string, string> {
  return { 'keywarden.audit.schema_version': String(SCHEMA_VERSION), 'keywarden.audit.source': source };
}

export function dataPageHeader(
  numValues: number,
  encoding: number,
  uncompressed: number,
  compressed: number,
): Buffer {
  return new CompactWriter(32)
    .i32(1, PAGE.DATA_PAGE)
    .i32(2, uncompressed)
    .i32(3, compressed)
    .struct(5, (w) =>
      w
        .i32(1, numValues)
        .i32(2, encoding)
        .i32(3, ENCODING.RLE) // definition levels
        .i32(4, ENCODING.RLE),
    ) // repetition levels (none: a flat table)
    .end();
}

export function dictionaryPageHeader(numValues: number, uncompressed: number, compressed: number): Buffer {
  return new CompactWriter(32)
    .i32(1, PAGE.DICTIONARY_PAGE)
    .i32(2, uncompressed)
    .i32(3, compressed)
    .struct(7, (w) => w.i32(1, numValues).i32(2, ENCODING.PLAIN))
    .end();
}

/** Statistics of a column chunk: min/max in the column's PLAIN encoding, and the null count. */
export interface ChunkStatistics {
  /** Absent when every value is null. */
  min?: Buffer;
  max?: Buffer;
  nulls: number;
}

export interface ChunkMeta {
  column: (typeof COLUMNS)[number];
  codec: number;
  encodings: number[];
  numValues: number;
  uncompressed: number;
  compressed: number;
  /** Where the column chunk starts: its dictionary page, or its data page when it has none. */
  offset: number;
  statistics: ChunkStatistics | undefined;
}

/**
 * A row group's metadata (thrift RowGroup). data_page_offset is where the chunk starts, dictionary
 * page included, as every reader expects when dictionary_page_offset is unset.
 */
export function rowGroupMetadata(chunks: readonly ChunkMeta[], rows: number, offset: number): Buffer {
  let compressed = 0;
  let uncompressed = 0;
  for (const c of chunks) {
    compressed += c.compressed;
    uncompressed += c.uncompressed;
  }
  const w = new CompactWriter(96 * chunks.length);
  w.list(1, ELEMENT.STRUCT, chunks.length, (i) => {
    const c = chunks[i] as ChunkMeta;
    w.i64(2, c.offset).struct(3, () => {
      w.i32(1, PHYSICAL[c.column.kind] as number)
        .list(2, ELEMENT.I32, c.encodings.length, (j) => w.elementI32(c.encodings[j] as number))
        .list(3, ELEMENT.BINARY, 1, () => w.elementBinary(c.column.name))
        .i32(4, c.codec)
        .i64(5, c.numValues)
        .i64(6, c.uncompressed)
        .i64(7, c.compressed)
        .i64(9, c.offset);
      const s = c.statistics;
      if (s) {
        // Both the deprecated min/max and min_value/max_value, as before: old and new readers prune.
        w.struct(12, () => {
          if (s.max && s.min) w.binary(1, s.max).binary(2, s.min);
          w.i64(3, s.nulls);
          if (s.max && s.min) w.binary(5, s.max).binary(6, s.min);
        });
      }
    });
  });
  return w.i64(2, uncompressed).i64(3, rows).i64(5, offset).i64(6, compressed).end();
}

/** The footer (FileMetaData, its length, magic) for a file holding these row groups (journaled bytes). */
export function footer(rowGroups: readonly Buffer[], rows: number, metadata: Record<string, string>): Buffer {
  const w = new CompactWriter(1024 + 128 * rowGroups.length * COLUMNS.length);
  const kv = Object.entries(metadata);
  w.i32(1, 1)
    .list(2, ELEMENT.STRUCT, COLUMNS.length + 1, (i) => {
      if (i === 0) {
        w.binary(4, 'root').i32(5, COLUMNS.length);
        return;
      }
      const c = COLUMNS[i - 1] as (typeof COLUMNS)[number];
      w.i32(1, PHYSICAL[c.kind] as number)
        .i32(3, c.optional ? REPETITION.OPTIONAL : REPETITION.REQUIRED)
        .binary(4, c.name);
      if (c.kind === 'string') w.i32(6, CONVERTED.UTF8);
      else if (c.kind === 'timestamp') w.i32(6, CONVERTED.TIMESTAMP_MILLIS);
    })
    .i64(3, rows)
    .encodedStructs(4, rowGroups)
    .list(5, ELEMENT.STRUCT, kv.length, (i) => {
      const [k, v] = kv[i] as [string, string];
      w.binary(1, k).binary(2, v);
    })
    .binary(6, CREATED_BY)
    // column_orders: without it the min_value/max_value of every chunk's statistics mean nothing
    // (parquet.thrift); TYPE_ORDER (an empty struct) is the type's own order (UTF-8 bytes, unsigned).
    .list(7, ELEMENT.STRUCT, COLUMNS.length, () => {
      w.struct(1, () => {});
    });
  const meta = w.end();
  const out = Buffer.allocUnsafe(meta.length + 8);
  meta.copy(out, 0);
  out.writeUInt32LE(meta.length, meta.length);
  MAGIC.copy(out, meta.length + 4);
  return out;
}
