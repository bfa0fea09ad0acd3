import { promisify } from 'node:util';
import zlib from 'node:zlib';
import {
  type ChunkMeta,
  type ChunkStatistics,
  CODEC,
  dataPageHeader,
  dictionaryPageHeader,
  ENCODING,
  rowGroupMetadata,
} from './format.ts';
import { redactKeys } from './redact.ts';
import { type BufferedEvent, COLUMNS, type ColumnSpec } from './schema.ts';

// Events → one Parquet row group, column by column, each column chunk one data page (DATA_PAGE v1,
// RLE/bit-packed definition levels). Strings are dictionary-encoded where that pays (key ids, names,
// methods, reasons: a few distinct values per batch), so each distinct string is redacted, encoded and
// compressed once per batch, and the page holds small bit-packed indices; a column whose values are
// mostly distinct (request ids) falls back to PLAIN. GZIP runs on libuv's thread pool, so a batch does
// not hold up the event loop.

export type Compression = 'GZIP' | 'SNAPPY' | 'UNCOMPRESSED';

const gzip = promisify(zlib.gzip);
/** Level 1: a few percent larger than the default level on this data, several times less CPU. */
const GZIP_OPTIONS = { level: 1 };
/** Pages this small are compressed at once: the thread pool round trip would cost more than the work. */
const SYNC_COMPRESS_BELOW = 16 * 1024;

let snappy: ((b: Buffer) => Promise<Buffer>) | undefined;

async function compress(method: Compression, body: Buffer): Promise<Buffer> {
  if (method === 'UNCOMPRESSED') return body;
  if (method === 'GZIP') {
    return body.length < SYNC_COMPRESS_BELOW ? zlib.gzipSync(body, GZIP_OPTIONS) : gzip(body, GZIP_OPTIONS);
  }
  // SNAPPY: @dsnp/parquetjs's codec (snappyjs), loaded only by writers configured for it.
  if (!snappy) {
    const { deflate } = await import('@dsnp/parquetjs/dist/lib/compression.js');
    snappy = (b) => deflate('SNAPPY', b);
  }
  return snappy(body);
}

export interface EncodedRowGroup {
  /** The row group's bytes, to append to the file at `offset`. */
  data: Buffer;
  /** Its thrift RowGroup metadata (absolute offsets), for the journal and the footer. */
  rowGroup: Buffer;
  rows: number;
  /** Strings that held something shaped like a key, now redacted. */
  redactions: number;
}

/** A dictionary is dropped for PLAIN once it holds more than this share of the batch's values... */
const DICTIONARY_MAX_SHARE = 0.5;
/** ...and skipped for this many batches after (a column of mostly distinct values stays so). */
const DICTIONARY_RETRY_AFTER = 32;

/** Per-writer memory of which columns did not pay for a dictionary lately. */
export class DictionaryHints {
  readonly #skip = new Map<string, number>();
  skip(column: string): boolean {
    const n = this.#skip.get(column) ?? 0;
    if (n > 0) this.#skip.set(column, n - 1);
    return n > 0;
  }
  failed(column: string): void {
    this.#skip.set(column, DICTIONARY_RETRY_AFTER);
  }
}

export interface EncodeOptions {
  source: string;
  compression: Compression;
  /** Where the row group starts in the file (its offsets are absolute). */
  offset: number;
  hints?: DictionaryHints | undefined;
}

interface ColumnPages {
  column: ColumnSpec;
  /** PLAIN dictionary values (uncompressed) when dictionary-encoded. */
  dictionary: Buffer | undefined;
  dictionarySize: number;
  /** Data page body (uncompressed): definition levels (optional columns) then values. */
  data: Buffer;
  encoding: number;
  statistics: ChunkStatistics | undefined;
  redactions: number;
}

/** Encodes the events (all of one file) as one row group starting at `opts.offset`. */
export async function encodeRowGroup(
  events: readonly BufferedEvent[],
  opts: EncodeOptions,
): Promise<EncodedRowGroup> {
  const n = events.length;
  const scratch = new Scratch(n);
  const compressed: Promise<[Buffer | undefined, Buffer]>[] = [];
  const columns: ColumnPages[] = [];
  let redactions = 0;
  for (const [c, col] of COLUMNS.entries()) {
    // Give the event loop a turn between columns (requests keep flowing while a batch is encoded);
    // compression of the columns already encoded goes on meanwhile on the thread pool.
    if (c > 0 && c % 4 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    const pages = encodeColumn(col, events, opts, scratch);
    redactions += pages.redactions;
    columns.push(pages);
    const dict = pages.dictionary;
    compressed.push(
      Promise.all([
        dict ? compress(opts.compression, dict) : undefined,
        compress(opts.compression, pages.data),
      ]),
    );
  }
  const bodies = await Promise.all(compressed);

  const parts: Buffer[] = [];
  const chunks: ChunkMeta[] = [];
  let at = opts.offset;
  for (const [i, pages] of columns.entries()) {
    const [dictBody, dataBody] = bodies[i] as [Buffer | undefined, Buffer];
    const start = at;
    let uncompressed = 0;
    if (pages.dictionary && dictBody) {
      const h = dictionaryPageHeader(pages.dictionarySize, pages.dictionary.length, dictBody.length);
      parts.push(h, dictBody);
      uncompressed += h.length + pages.dictionary.length;
      at += h.length + dictBody.length;
    }
    const h = dataPageHeader(n, pages.encoding, pages.data.length, dataBody.length);
    parts.push(h, dataBody);
    uncompressed += h.length + pages.data.length;
    at += h.length + dataBody.length;
    chunks.push({
      column: pages.column,
      codec: CODEC[opts.compression],
      encodings: pages.dictionary
        ? [ENCODING.PLAIN, ENCODING.RLE, ENCODING.RLE_DICTIONARY]
        : [ENCODING.PLAIN, ENCODING.RLE],
      numValues: n,
      uncompressed,
      compressed: at - start,
      offset: start,
      statistics: pages.statistics,
    });
  }
  return {
    data: Buffer.concat(parts, at - opts.offset),
    rowGroup: rowGroupMetadata(chunks, n, opts.offset),
    rows: n,
    redactions,
  };
}

/** Buffers reused across the columns of one batch (each column is done with them before the next). */
class Scratch {
  readonly indices: Int32Array;
  readonly defined: Uint8Array;
  constructor(n: number) {
    this.indices = new Int32Array(n);
    this.defined = new Uint8Array(n);
  }
}

function encodeColumn(
  col: ColumnSpec,
  events: readonly BufferedEvent[],
  opts: EncodeOptions,
  scratch: Scratch,
): ColumnPages {
  const n = events.length;
  const defined = scratch.defined;
  let present = 0;
  let redactions = 0;
  const values = new ValueWriter(col.kind === 'string' ? 16 * n : 8 * n);
  let stats: { min: string | number | undefined; max: string | number | undefined } | undefined =
    col.statistics ? { min: undefined, max: undefined } : undefined;
  let dictionary: Buffer | undefined;
  let dictionarySize = 0;
  let encoding: number = ENCODING.PLAIN;

  if (col.kind === 'string') {
    const useDictionary = !opts.hints?.skip(col.name);
    const indexOf = useDictionary ? new Map<string, number>() : undefined;
    const dictValues = useDictionary ? new ValueWriter(256) : undefined;
    let abandoned = false;
    const limit = Math.max(16, Math.floor(n * DICTIONARY_MAX_SHARE));
    for (let i = 0; i < n; i++) {
      const raw = col.name === 'source' ? opts.source : col.get(events[i] as BufferedEvent);
      if (typeof raw !== 'string') {
        if (raw !== undefined) throw new Error(`audit column ${col.name}: not a string`);
        defined[i] = 0;
        continue;
      }
      defined[i] = 1;
      if (indexOf && !abandoned) {
        let idx = indexOf.get(raw);
        if (idx === undefined) {
          if (indexOf.size >= limit) {
            abandoned = true;
          } else {
            idx = indexOf.size;
            indexOf.set(raw, idx);
            const clean = redactKeys(raw);
            if (clean !== raw) redactions++;
            (dictValues as ValueWriter).string(clean);
            if (stats) track(stats, clean);
          }
        }
        if (!abandoned) {
          scratch.indices[present++] = idx as number;
          continue;
        }
        // Too many distinct values: rewrite what was encoded so far as PLAIN and go on in PLAIN.
        opts.hints?.failed(col.name);
        present = 0;
        redactions = 0;
        if (stats) stats = { min: undefined, max: undefined };
        for (let j = 0; j < i; j++) {
          if (defined[j] === 0) continue;
          present++;
          const v = col.get(events[j] as BufferedEvent) as string;
          redactions += plainString(values, v, stats);
        }
      }
      present++;
      redactions += plainString(values, raw, stats);
    }
    if (indexOf && !abandoned) {
      // Redactions counted per distinct value so far: count them per row instead.
      if (redactions > 0) redactions = countRedactedRows(col, events, opts.source);
      dictionary = (dictValues as ValueWriter).bytes();
      dictionarySize = indexOf.size;
      encoding = ENCODING.RLE_DICTIONARY;
      packIndices(values, scratch.indices, present, indexOf.size);
    }
  } else {
    for (let i = 0; i < n; i++) {
      let v = col.get(events[i] as BufferedEvent) as number | undefined;
      if (typeof v === 'number' && !Number.isFinite(v)) v = undefined;
      if (v === undefined) {
        defined[i] = 0;
        continue;
      }
      defined[i] = 1;
      present++;
      if (col.kind === 'int32') values.int32(v);
      else if (col.kind === 'double') values.double(v);
      else values.int64(v);
      if (stats) track(stats, v);
    }
  }
  if (!col.optional && present !== n) throw new Error(`audit column ${col.name} is required`);
  const body = values.bytes();
  const data = col.optional ? withDefinitionLevels(defined, n, present, body) : body;
  return {
    column: col,
    dictionary,
    dictionarySize,
    data,
    encoding,
    statistics: stats ? statisticsOf(col, stats, n - present) : undefined,
    redactions,
  };
}

function plainString(
  out: ValueWriter,
  raw: string,
  stats: { min: string | number | undefined; max: string | number | undefined } | undefined,
): number {
  const clean = redactKeys(raw);
  out.string(clean);
  if (stats) track(stats, clean);
  return clean === raw ? 0 : 1;
}

function countRedactedRows(col: ColumnSpec, events: readonly BufferedEvent[], source: string): number {
  let count = 0;
  for (const e of events) {
    const v = col.name === 'source' ? source : col.get(e);
    if (typeof v === 'string' && redactKeys(v) !== v) count++;
  }
  return count;
}

function track(
  s: { min: string | number | undefined; max: string | number | undefined },
  v: string | number,
) {
  if (s.min === undefined || v < s.min) s.min = v;
  if (s.max === undefined || v > s.max) s.max = v;
}

function statisticsOf(
  col: ColumnSpec,
  s: { min: string | number | undefined; max: string | number | undefined },
  nulls: number,
): ChunkStatistics | undefined {
  if (s.min === undefined || s.max === undefined) return { nulls };
  const enc = (v: string | number) => {
    const w = new ValueWriter(16);
    if (col.kind === 'string') return Buffer.from(v as string, 'utf8');
    if (col.kind === 'int32') w.int32(v as number);
    else if (col.kind === 'double') w.double(v as number);
    else w.int64(v as number);
    return Buffer.from(w.bytes());
  };
  return { min: enc(s.min), max: enc(s.max), nulls };
}

/** A growing buffer of PLAIN-encoded values. */
class ValueWriter {
  #buf: Buffer;
  #pos = 0;
  constructor(capacity: number) {
    this.#buf = Buffer.allocUnsafe(Math.max(64, capacity));
  }
  #room(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#pos + n));
    this.#buf.copy(next, 0, 0, this.#pos);
    this.#buf = next;
  }
  string(s: string): void {
    // At most 3 UTF-8 bytes per UTF-16 unit.
    this.#room(4 + 3 * s.length);
    const len = this.#buf.write(s, this.#pos + 4);
    this.#buf.writeUInt32LE(len, this.#pos);
    this.#pos += 4 + len;
  }
  int32(v: number): void {
    this.#room(4);
    this.#buf.writeInt32LE(Math.trunc(v) | 0, this.#pos);
    this.#pos += 4;
  }
  double(v: number): void {
    this.#room(8);
    this.#buf.writeDoubleLE(v, this.#pos);
    this.#pos += 8;
  }
  /** INT64 from a safe integer, as two 32-bit halves (no BigInt per value). */
  int64(v: number): void {
    this.#room(8);
    const ms = Math.trunc(v);
    const hi = Math.floor(ms / 0x1_0000_0000);
    this.#buf.writeUInt32LE(ms - hi * 0x1_0000_0000, this.#pos);
    this.#buf.writeInt32LE(hi, this.#pos + 4);
    this.#pos += 8;
  }
  byte(b: number): void {
    this.#room(1);
    this.#buf[this.#pos++] = b;
  }
  varint(value: number): void {
    this.#room(10);
    let v = value;
    while (v >= 0x80) {
      this.#buf[this.#pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.#buf[this.#pos++] = v;
  }
  /** Room for `n` bytes written directly, zeroed; returns the buffer and the offset to write at. */
  reserve(n: number): [Buffer, number] {
    this.#room(n);
    const at = this.#pos;
    this.#buf.fill(0, at, at + n);
    this.#pos += n;
    return [this.#buf, at];
  }
  bytes(): Buffer {
    return this.#buf.subarray(0, this.#pos);
  }
}

/** Bit width of dictionary indices below `size` (at least 1). */
function bitWidth(size: number): number {
  let w = 1;
  while (1 << w < size) w++;
  return w;
}

/**
 * RLE_DICTIONARY data: the bit width, then the indices in the RLE/bit-packing hybrid: one RLE run when
 * they are all the same, else one bit-packed run (gzip takes care of repetition inside it).
 */
function packIndices(out: ValueWriter, indices: Int32Array, count: number, size: number): void {
  const width = bitWidth(size);
  out.byte(width);
  if (count === 0) return;
  let same = true;
  const first = indices[0] as number;
  for (let i = 1; i < count && same; i++) same = indices[i] === first;
  if (same) {
    out.varint(count * 2);
    for (let b = 0; b < Math.ceil(width / 8); b++) out.byte((first >>> (8 * b)) & 0xff);
    return;
  }
  const groups = Math.ceil(count / 8);
  out.varint(groups * 2 + 1);
  const [buf, at] = out.reserve(groups * width);
  let pos = at;
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < groups * 8; i++) {
    acc |= (i < count ? (indices[i] as number) : 0) << bits;
    bits += width;
    while (bits >= 8) {
      buf[pos++] = acc & 0xff;
      acc >>>= 8;
      bits -= 8;
    }
  }
}

/** The data page body of an optional column: its definition levels (length-prefixed), then `values`. */
function withDefinitionLevels(defined: Uint8Array, n: number, present: number, values: Buffer): Buffer {
  const levels = definitionLevels(defined, n, present);
  const out = Buffer.allocUnsafe(levels.length + values.length);
  levels.copy(out, 0);
  values.copy(out, levels.length);
  return out;
}

/**
 * Definition levels (bit width 1) in the RLE/bit-packing hybrid, with the 4-byte length prefix data
 * page v1 wants: one RLE run when all values are present (or all absent), else one bit-packed run.
 */
export function definitionLevels(defined: ArrayLike<number>, n = defined.length, present?: number): Buffer {
  let count = present;
  if (count === undefined) {
    count = 0;
    for (let i = 0; i < n; i++) if (defined[i]) count++;
  }
  const out = new ValueWriter(16 + Math.ceil(n / 8));
  out.int32(0); // length, filled in below
  if (count === n || count === 0) {
    out.varint(n * 2);
    out.byte(count === 0 ? 0 : 1);
  } else {
    const groups = Math.ceil(n / 8);
    out.varint(groups * 2 + 1);
    const [bits, at] = out.reserve(groups);
    for (let i = 0; i < n; i++)
      if (defined[i]) bits[at + (i >> 3)] = (bits[at + (i >> 3)] as number) | (1 << (i & 7));
  }
  const buf = out.bytes();
  buf.writeUInt32LE(buf.length - 4, 0);
  return buf;
}
