import { promisify } from 'node:util';
import zlib from 'node:zlib';
import parquetTypes from '@dsnp/parquetjs/dist/gen-nodejs/parquet_types.js';
import { deflate } from '@dsnp/parquetjs/dist/lib/compression.js';
import type { Page } from '@dsnp/parquetjs/dist/lib/declare.js';
import type { RecordBuffer } from '@dsnp/parquetjs/dist/lib/shred.js';
import { serializeThrift } from '@dsnp/parquetjs/dist/lib/util.js';
import { redactKeys } from './redact.ts';
import { type BufferedEvent, COLUMNS, type ColumnSpec } from './schema.ts';

// Events → one Parquet row group, column by column. @dsnp/parquetjs lays out the file (column chunks,
// row group and footer metadata, thrift); this file does the step its appendRow() does row by row
// (shredding each record through generic nested-schema code), which for a flat table of a few fixed
// types is an order of magnitude faster done a column at a time. Pages are DATA_PAGE v1 with PLAIN
// values and RLE/bit-packed definition levels: the most widely read layout (DuckDB, Spark, Trino,
// Athena, pandas). GZIP runs on libuv's thread pool, so a batch does not hold up the event loop.

export type Compression = 'GZIP' | 'SNAPPY' | 'UNCOMPRESSED';

const gzip = promisify(zlib.gzip);

async function compress(method: Compression, body: Buffer): Promise<Buffer> {
  if (method === 'GZIP') return gzip(body, { level: 6 });
  if (method === 'UNCOMPRESSED') return body;
  return deflate(method, body);
}

export interface EncodedRowGroup {
  buffer: RecordBuffer;
  rows: number;
  /** Strings that held something shaped like a key, now redacted. */
  redactions: number;
}

/** Encodes the events (all of one file) as one row group for ParquetEnvelopeWriter.writeRowGroup. */
export async function encodeRowGroup(
  events: readonly BufferedEvent[],
  source: string,
  compression: Compression,
): Promise<EncodedRowGroup> {
  const pages: Record<string, Page[]> = {};
  const pending: Promise<void>[] = [];
  let redactions = 0;
  for (const [c, col] of COLUMNS.entries()) {
    // Give the event loop a turn between columns (requests keep flowing while a batch is encoded);
    // compression of the columns already encoded goes on meanwhile on the thread pool.
    if (c > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    const values: (string | number | undefined)[] = new Array(events.length);
    if (col.name === 'source') values.fill(source);
    else {
      for (let i = 0; i < events.length; i++) {
        let v = col.get(events[i] as BufferedEvent);
        if (typeof v === 'string') {
          const clean = redactKeys(v);
          if (clean !== v) {
            redactions++;
            v = clean;
          }
        } else if (typeof v === 'number' && !Number.isFinite(v)) v = undefined;
        values[i] = v;
      }
    }
    pending.push(
      encodePage(col, values, compression).then((page) => {
        pages[col.name] = [page];
      }),
    );
  }
  await Promise.all(pending);
  return {
    buffer: { rowCount: events.length, pageRowCount: 0, pages, columnData: {} },
    rows: events.length,
    redactions,
  };
}

async function encodePage(
  col: ColumnSpec,
  all: (string | number | undefined)[],
  compression: Compression,
): Promise<Page> {
  const present: (string | number)[] = [];
  for (const v of all) if (v !== undefined) present.push(v);
  if (!col.optional && present.length !== all.length) throw new Error(`audit column ${col.name} is required`);
  const valuesBuf = encodeValues(col, present);
  const body = col.optional ? Buffer.concat([definitionLevels(all), valuesBuf]) : valuesBuf;
  const compressed = await compress(compression, body);

  const header = new parquetTypes.PageHeader();
  header.type = parquetTypes.PageType.DATA_PAGE;
  header.uncompressed_page_size = body.length;
  header.compressed_page_size = compressed.length;
  header.data_page_header = new parquetTypes.DataPageHeader();
  header.data_page_header.num_values = all.length;
  header.data_page_header.encoding = parquetTypes.Encoding.PLAIN;
  header.data_page_header.definition_level_encoding = parquetTypes.Encoding.RLE;
  header.data_page_header.repetition_level_encoding = parquetTypes.Encoding.RLE;

  const statistics: Page['statistics'] = {} as Page['statistics'];
  const distinct = new Set<string | number>();
  if (col.statistics) {
    let min: string | number | undefined;
    let max: string | number | undefined;
    for (const v of present) {
      distinct.add(v);
      if (min === undefined || v < min) min = v;
      if (max === undefined || v > max) max = v;
    }
    // encodeColumnChunk turns these into the chunk's Statistics (values in the column's logical type).
    Object.assign(statistics, { min_value: min, max_value: max, null_count: all.length - present.length });
  }
  return {
    page: Buffer.concat([serializeThrift(header), compressed]),
    statistics,
    first_row_index: 0,
    distinct_values: distinct,
    num_values: all.length,
  };
}

function encodeValues(col: ColumnSpec, values: (string | number)[]): Buffer {
  switch (col.kind) {
    case 'string': {
      // At most 3 UTF-8 bytes per UTF-16 unit: allocate for the worst case, write once, trim.
      let worst = 0;
      for (const v of values) worst += 4 + 3 * (v as string).length;
      const buf = Buffer.allocUnsafe(worst);
      let pos = 0;
      for (const v of values) {
        const n = buf.write(v as string, pos + 4, 'utf8');
        buf.writeUInt32LE(n, pos);
        pos += 4 + n;
      }
      return buf.subarray(0, pos);
    }
    case 'int32': {
      const buf = Buffer.allocUnsafe(4 * values.length);
      for (let i = 0; i < values.length; i++) buf.writeInt32LE(Math.trunc(values[i] as number) | 0, 4 * i);
      return buf;
    }
    case 'double': {
      const buf = Buffer.allocUnsafe(8 * values.length);
      for (let i = 0; i < values.length; i++) buf.writeDoubleLE(values[i] as number, 8 * i);
      return buf;
    }
    case 'timestamp': {
      // INT64 milliseconds since the epoch; written as two 32-bit halves (no BigInt per value).
      const buf = Buffer.allocUnsafe(8 * values.length);
      for (let i = 0; i < values.length; i++) {
        const ms = Math.trunc(values[i] as number);
        const hi = Math.floor(ms / 0x1_0000_0000);
        buf.writeUInt32LE(ms - hi * 0x1_0000_0000, 8 * i);
        buf.writeInt32LE(hi, 8 * i + 4);
      }
      return buf;
    }
  }
}

/**
 * Definition levels (bit width 1) in the RLE/bit-packing hybrid, with the 4-byte length prefix data
 * page v1 wants: one RLE run when all values are present (or all absent), else one bit-packed run.
 */
export function definitionLevels(values: readonly unknown[]): Buffer {
  const n = values.length;
  let defined = 0;
  for (const v of values) if (v !== undefined) defined++;
  let run: Buffer;
  if (defined === n || defined === 0) {
    run = Buffer.concat([varint(n * 2), Buffer.from([defined === 0 ? 0 : 1])]);
  } else {
    const groups = Math.ceil(n / 8);
    const bits = Buffer.alloc(groups);
    for (let i = 0; i < n; i++) {
      if (values[i] !== undefined) bits[i >> 3] = (bits[i >> 3] as number) | (1 << (i & 7));
    }
    run = Buffer.concat([varint(groups * 2 + 1), bits]);
  }
  const out = Buffer.allocUnsafe(4 + run.length);
  out.writeUInt32LE(run.length, 0);
  run.copy(out, 4);
  return out;
}

function varint(value: number): Buffer {
  const bytes: number[] = [];
  let v = value;
  while (v >= 0x80) {
    bytes.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  bytes.push(v);
  return Buffer.from(bytes);
}
