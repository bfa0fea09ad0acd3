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

// Events → one Parquet row group. Each event is encoded into the columns as it is taken in (its
// object is not kept: buffered events would otherwise live long enough for V8 to promote them, and the
// heap grows with the traffic); a row group is laid out when the batch is written: each column chunk
// one data page (DATA_PAGE v1, RLE/bit-packed definition levels). Strings are dictionary-encoded where
// that pays (key ids, names, methods, reasons: a few distinct values per batch), so each distinct
// string is redacted and encoded once per batch and the page holds small bit-packed indices; a column
// of mostly distinct values (request ids) falls back to PLAIN. GZIP runs on libuv's thread pool, so a
// batch does not hold up the event loop. A written row group's builder is reset and reused (RowGroupPool):
// its buffers have grown to the traffic's size once, so steady writing allocates almost nothing that
// outlives a turn, and the heap and RSS stay flat.

export type Compression = 'GZIP' | 'SNAPPY' | 'UNCOMPRESSED';

const gzip = promisify(zlib.gzip);
/** Level 1: files a few percent larger than level 6 on audit data (2.5 vs 2.4 MiB in the bench), for much less CPU. */
const GZIP_OPTIONS = { level: 1 };
/** Pages this small are compressed at once: the thread pool round trip would cost more than the work. */
const SYNC_COMPRESS_BELOW = 16 * 1024;

let snappy: ((b: Buffer) => Promise<Buffer>) | undefined;

async function compress(method: Compression, body: Buffer): Promise<Buffer> {
  if (method === 'UNCOMPRESSED') return body;
  if (method === 'GZIP') {
    // zlib's output buffer is sized to what audit pages compress to (about a tenth): the default 16 KiB
    // per call, kept alive by its stream until a full GC, was most of the writer's garbage.
    const options = {
      level: GZIP_OPTIONS.level,
      chunkSize: Math.min(Math.max(body.length >> 3, 256), 64 * 1024),
    };
    return body.length < SYNC_COMPRESS_BELOW ? zlib.gzipSync(body, options) : gzip(body, options);
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

/** A dictionary is dropped for PLAIN once it holds this many distinct values (request ids, paths)... */
const DICTIONARY_MAX_ENTRIES = 4096;
/** ...and not tried again for this many row groups (a column of mostly distinct values stays so). */
const DICTIONARY_RETRY_AFTER = 32;

/** Per-writer memory of which columns did not pay for a dictionary lately. */
export class DictionaryHints {
  readonly #skip = new Map<string, number>();
  /** Called once per row group and column. */
  skip(column: string): boolean {
    const n = this.#skip.get(column) ?? 0;
    if (n > 0) this.#skip.set(column, n - 1);
    return n > 0;
  }
  failed(column: string): void {
    this.#skip.set(column, DICTIONARY_RETRY_AFTER);
  }
}

/** Builders kept for reuse: one being built, one being written and this one spare is the steady state. */
const POOL_SIZE = 1;
/** A builder whose buffers grew past this (a burst of huge values) is not kept. */
const POOL_MAX_BYTES = 16 * 1024 * 1024;

/**
 * Per-writer encoder state: the dictionary hints, and row group builders written already, reset for
 * the next row group (their buffers reused).
 */
export class RowGroupPool {
  readonly hints = new DictionaryHints();
  readonly #source: string;
  readonly #spare: RowGroupBuilder[] = [];

  constructor(source: string) {
    this.#source = source;
  }

  take(): RowGroupBuilder {
    const b = this.#spare.pop();
    if (!b) return new RowGroupBuilder(this.#source, this.hints);
    b.reset(this.hints);
    return b;
  }

  /** A builder whose row group is written (encode() resolved): its buffers may be reused. */
  give(b: RowGroupBuilder): void {
    if (this.#spare.length < POOL_SIZE && b.capacity() <= POOL_MAX_BYTES) this.#spare.push(b);
  }
}

type Stats = { min: string | number | undefined; max: string | number | undefined };

/**
 * One column of a row group being built: values are encoded as they are added (PLAIN bytes, or an
 * index into the batch's dictionary), so the caller's event objects can be dropped at once.
 */
class ColumnBuilder {
  readonly col: ColumnSpec;
  /** The `source` column: the writer's own name, the same on every row. */
  readonly isSource: boolean;
  rows = 0;
  present = 0;
  redactions = 0;
  #defined = new Uint8Array(1024);
  /** PLAIN values, after room for the definition levels (see #headroom). */
  readonly #values: ValueWriter;
  /** Dictionary indices, packed at pages() (room for the levels in front too), and the dictionary page. */
  readonly #packed: ValueWriter | undefined;
  readonly #dictPage: ValueWriter | undefined;
  /** Definition levels of an optional column, built at pages(). */
  readonly #levels: ValueWriter | undefined;
  /**
   * Bytes kept free before the values for the levels, so a data page is one buffer without a copy:
   * grows to what the last row group needed (a row group of similar size fits the next time).
   */
  #headroom = 0;
  #stats: Stats | undefined;
  readonly #isString: boolean;
  // Dictionary mode (strings): distinct raw string → index; the redacted strings in index order.
  #dict: Map<string, number> | undefined;
  #dictValues: string[] = [];
  #dictRedacted: Uint8Array | undefined;
  // Indices fit 16 bits: a dictionary holds at most DICTIONARY_MAX_ENTRIES values.
  #indices = new Uint16Array(1024);
  /** The last string seen and its index: most columns repeat the same string object row after row. */
  #lastRaw: string | undefined;
  #lastIdx = 0;
  #hints: DictionaryHints | undefined;

  constructor(col: ColumnSpec, hints: DictionaryHints | undefined) {
    this.col = col;
    this.#isString = col.kind === 'string';
    this.isSource = col.name === 'source';
    this.#values = new ValueWriter(col.kind === 'string' ? 4096 : 8192);
    this.#packed = this.#isString ? new ValueWriter(1024) : undefined;
    this.#dictPage = this.#isString ? new ValueWriter(256) : undefined;
    this.#levels = col.optional ? new ValueWriter(256) : undefined;
    if (col.optional) this.#headroom = 4 + 5 + 128;
    this.#values.clear(this.#headroom);
    this.#start(hints);
  }

  #start(hints: DictionaryHints | undefined): void {
    this.#hints = hints;
    this.#stats = this.col.statistics ? { min: undefined, max: undefined } : undefined;
    if (this.#isString && !hints?.skip(this.col.name)) {
      if (this.#dict) this.#dict.clear();
      else this.#dict = new Map();
    } else this.#dict = undefined;
  }

  /** Empty again, keeping the buffers (after its row group was written). */
  reset(hints: DictionaryHints | undefined): void {
    this.rows = 0;
    this.present = 0;
    this.redactions = 0;
    this.#values.clear(this.#headroom);
    this.#dictValues = [];
    this.#dictRedacted = undefined;
    this.#lastRaw = undefined;
    this.#lastIdx = 0;
    this.#start(hints);
  }

  /** Bytes of buffers held. */
  capacity(): number {
    return (
      this.#defined.byteLength +
      this.#indices.byteLength +
      this.#values.capacity +
      (this.#packed?.capacity ?? 0) +
      (this.#dictPage?.capacity ?? 0) +
      (this.#levels?.capacity ?? 0)
    );
  }

  /**
   * One row's value. Never throws (a batch is built on the event loop, row by row): a value of the
   * wrong type is converted (a number for a string column becomes its text; text for a number column
   * its number, or null when it is none), so every column always gets exactly one value per row.
   */
  add(v: unknown): number {
    const row = this.rows++;
    if (row === this.#defined.length) this.#defined = grow(this.#defined);
    if (this.#isString) {
      if (typeof v !== 'string') {
        if (v === undefined || v === null) {
          this.#defined[row] = 0;
          return 0;
        }
        v = textOf(v);
        if (v === undefined) {
          this.#defined[row] = 0;
          return 0;
        }
      }
      this.#defined[row] = 1;
      this.present++;
      return this.#dict ? this.#addToDictionary(v as string) : this.#addPlain(v as string);
    }
    const given = typeof v === 'number' ? v : v === undefined || v === null ? Number.NaN : Number(v);
    if (!Number.isFinite(given)) {
      this.#defined[row] = 0;
      return 0;
    }
    this.#defined[row] = 1;
    this.present++;
    // The value as stored, so statistics describe what readers see.
    const kind = this.col.kind;
    const n = kind === 'double' ? given : kind === 'int32' ? Math.trunc(given) | 0 : Math.trunc(given);
    if (kind === 'int32') this.#values.int32(n);
    else if (kind === 'double') this.#values.double(n);
    else this.#values.int64(n);
    if (this.#stats) track(this.#stats, n);
    return 8;
  }

  #addPlain(raw: string): number {
    const clean = redactKeys(raw);
    if (clean !== raw) this.redactions++;
    this.#values.string(clean);
    if (this.#stats) track(this.#stats, clean);
    return 4 + clean.length;
  }

  #addToDictionary(raw: string): number {
    const dict = this.#dict as Map<string, number>;
    let idx = raw === this.#lastRaw ? this.#lastIdx : dict.get(raw);
    let added = 2;
    if (idx === undefined) {
      if (dict.size >= DICTIONARY_MAX_ENTRIES) {
        this.#toPlain();
        return this.#addPlain(raw);
      }
      idx = dict.size;
      dict.set(raw, idx);
      const clean = redactKeys(raw);
      if (clean !== raw) {
        this.#dictRedacted ??= new Uint8Array(DICTIONARY_MAX_ENTRIES);
        this.#dictRedacted[idx] = 1;
      }
      this.#dictValues.push(clean);
      added = 4 + clean.length;
      if (this.#stats) track(this.#stats, clean);
    }
    this.#lastRaw = raw;
    this.#lastIdx = idx;
    if (this.#dictRedacted?.[idx]) this.redactions++;
    // This value is number `present` (counted already): its index goes at present - 1.
    if (this.present > this.#indices.length) this.#indices = grow(this.#indices);
    this.#indices[this.present - 1] = idx;
    return added;
  }

  /** Too many distinct values: rewrite the values so far as PLAIN and go on in PLAIN. */
  #toPlain(): void {
    this.#hints?.failed(this.col.name);
    // The values before this one (counted in present already, not yet encoded).
    for (let p = 0; p < this.present - 1; p++) {
      this.#values.string(this.#dictValues[this.#indices[p] as number] as string);
    }
    this.#dict = undefined;
    this.#dictValues = [];
    this.#dictRedacted = undefined;
    this.#lastRaw = undefined;
  }

  /**
   * The column chunk's page bodies, uncompressed. They are views of this builder's buffers: valid
   * until it is reset.
   */
  pages(): { dictionary: Buffer | undefined; dictionarySize: number; data: Buffer; encoding: number } {
    if (!this.col.optional && this.present !== this.rows)
      throw new Error(`audit column ${this.col.name} is required`);
    let dictionary: Buffer | undefined;
    let values: ValueWriter;
    // A dictionary of nothing (every value null) is not written: PLAIN of no values says the same.
    if (this.#dict && this.#dictValues.length > 0 && this.#packed && this.#dictPage) {
      this.#dictPage.clear();
      for (const s of this.#dictValues) this.#dictPage.string(s);
      dictionary = this.#dictPage.bytes();
      this.#packed.clear(this.#headroom);
      packIndices(this.#packed, this.#indices, this.present, this.#dictValues.length);
      values = this.#packed;
    } else values = this.#values;
    if (this.#levels) {
      this.#levels.clear();
      writeDefinitionLevels(this.#levels, this.#defined, this.rows, this.present);
      const levels = this.#levels.bytes();
      // Next time, room for this many (and a little more: traffic grows).
      if (levels.length > this.#headroom) this.#headroom = levels.length + (levels.length >> 2);
      values.prepend(levels);
    }
    const data = values.bytes();
    return {
      dictionary,
      dictionarySize: dictionary ? this.#dictValues.length : 0,
      data,
      encoding: dictionary ? ENCODING.RLE_DICTIONARY : ENCODING.PLAIN,
    };
  }

  statistics(): ChunkStatistics | undefined {
    const s = this.#stats;
    if (!s) return undefined;
    const nulls = this.rows - this.present;
    if (s.min === undefined || s.max === undefined) return { nulls };
    return { min: this.#plainOne(s.min), max: this.#plainOne(s.max), nulls };
  }

  #plainOne(v: string | number): Buffer {
    if (this.col.kind === 'string') return Buffer.from(v as string, 'utf8');
    const w = new ValueWriter(8);
    if (this.col.kind === 'int32') w.int32(v as number);
    else if (this.col.kind === 'double') w.double(v as number);
    else w.int64(v as number);
    return Buffer.from(w.bytes());
  }
}

/** Text of a non-string value; undefined when it has none (a toString that throws). */
function textOf(v: unknown): string | undefined {
  try {
    return String(v);
  } catch {
    return undefined;
  }
}

function grow<T extends Uint8Array | Uint16Array>(a: T): T {
  const next = new (a.constructor as new (n: number) => T)(a.length * 2);
  next.set(a);
  return next;
}

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

function track(s: Stats, v: string | number): void {
  if (s.min === undefined || before(v, s.min)) s.min = v;
  if (s.max === undefined || before(s.max, v)) s.max = v;
}

/** Column chunks compressed at once at most (libuv's pool has 4 threads; each job holds a zlib state). */
const COMPRESS_IN_FLIGHT = 3;

/**
 * A row group being built, one event at a time: add() encodes the event's values into its columns
 * right away (the event object is not kept), encode() compresses the pages and lays out the chunk.
 */
export class RowGroupBuilder {
  readonly #columns: ColumnBuilder[];
  readonly #source: string;
  /** The laid-out row group (reused, as the columns' buffers are). */
  readonly #out = new ValueWriter(64 * 1024);
  rows = 0;
  /** Approximate encoded size (uncompressed): what row groups are cut by. */
  bytes = 0;

  constructor(source: string, hints?: DictionaryHints) {
    this.#source = source;
    this.#columns = COLUMNS.map((c) => new ColumnBuilder(c, hints));
  }

  static of(events: readonly BufferedEvent[], source: string, hints?: DictionaryHints): RowGroupBuilder {
    const b = new RowGroupBuilder(source, hints);
    for (const e of events) b.add(e);
    return b;
  }

  /** Empty again, keeping the buffers (see RowGroupPool). */
  reset(hints: DictionaryHints | undefined): void {
    this.rows = 0;
    this.bytes = 0;
    for (const c of this.#columns) c.reset(hints);
  }

  capacity(): number {
    let n = this.#out.capacity;
    for (const c of this.#columns) n += c.capacity();
    return n;
  }

  add(e: BufferedEvent): void {
    const columns = this.#columns;
    let n = 0;
    for (let i = 0; i < columns.length; i++) {
      const c = columns[i] as ColumnBuilder;
      n += c.add(c.isSource ? this.#source : c.col.get(e));
    }
    this.bytes += n;
    this.rows++;
  }

  get redactions(): number {
    let n = 0;
    for (const c of this.#columns) n += c.redactions;
    return n;
  }

  /**
   * Compresses the pages (GZIP on the thread pool, a few columns at a time) and lays the row group out
   * at `offset`. The result's bytes are the builder's: valid until it is reset.
   */
  async encode(compression: Compression, offset: number): Promise<EncodedRowGroup> {
    const n = this.rows;
    const built: ReturnType<ColumnBuilder['pages']>[] = [];
    const bodies: [Buffer | undefined, Buffer][] = [];
    const compressColumn = async (i: number): Promise<void> => {
      const pages = (this.#columns[i] as ColumnBuilder).pages();
      built[i] = pages;
      bodies[i] = [
        pages.dictionary ? await compress(compression, pages.dictionary) : undefined,
        await compress(compression, pages.data),
      ];
    };
    // A few workers over the columns: the event loop runs between their steps, so requests keep
    // flowing while a batch is laid out, and only a few zlib states are alive at once.
    let next = 0;
    await Promise.all(
      Array.from({ length: COMPRESS_IN_FLIGHT }, async () => {
        while (next < this.#columns.length) await compressColumn(next++);
      }),
    );
    const out = this.#out;
    out.clear();
    const chunks: ChunkMeta[] = [];
    let at = offset;
    for (const [i, pages] of built.entries()) {
      const [dictBody, dataBody] = bodies[i] as [Buffer | undefined, Buffer];
      const start = at;
      let uncompressed = 0;
      if (pages.dictionary && dictBody) {
        const h = dictionaryPageHeader(pages.dictionarySize, pages.dictionary.length, dictBody.length);
        out.raw(h);
        out.raw(dictBody);
        uncompressed += h.length + pages.dictionary.length;
        at += h.length + dictBody.length;
      }
      const h = dataPageHeader(n, pages.encoding, pages.data.length, dataBody.length);
      out.raw(h);
      out.raw(dataBody);
      uncompressed += h.length + pages.data.length;
      at += h.length + dataBody.length;
      const col = this.#columns[i] as ColumnBuilder;
      chunks.push({
        column: col.col,
        codec: CODEC[compression],
        encodings: pages.dictionary
          ? [ENCODING.PLAIN, ENCODING.RLE, ENCODING.RLE_DICTIONARY]
          : [ENCODING.PLAIN, ENCODING.RLE],
        numValues: n,
        uncompressed,
        compressed: at - start,
        offset: start,
        statistics: col.statistics(),
      });
    }
    return {
      data: out.bytes(),
      rowGroup: rowGroupMetadata(chunks, n, offset),
      rows: n,
      redactions: this.redactions,
    };
  }
}

/** A growing buffer of PLAIN-encoded values. */
class ValueWriter {
  #buf: Buffer;
  /** Where the content starts (after room left free by clear(headroom), less what prepend() used). */
  #start = 0;
  #pos = 0;
  constructor(capacity: number) {
    this.#buf = Buffer.allocUnsafe(Math.max(64, capacity));
  }
  get capacity(): number {
    return this.#buf.length;
  }
  /** Empty, with `headroom` bytes free in front for prepend(). */
  clear(headroom = 0): void {
    this.#start = headroom;
    this.#pos = 0;
    this.#room(headroom);
    this.#pos = headroom;
  }
  /** Puts `b` in front of the content: in the headroom when it fits, else by moving the content. */
  prepend(b: Buffer): void {
    if (b.length > this.#start) {
      const shift = b.length - this.#start;
      this.#room(shift);
      this.#buf.copyWithin(this.#start + shift, this.#start, this.#pos);
      this.#start += shift;
      this.#pos += shift;
    }
    this.#start -= b.length;
    b.copy(this.#buf, this.#start);
  }
  #room(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#pos + n));
    this.#buf.copy(next, 0, 0, this.#pos);
    this.#buf = next;
  }
  string(s: string): void {
    const n = s.length;
    // At most 3 UTF-8 bytes per UTF-16 unit.
    this.#room(4 + 3 * n);
    const buf = this.#buf;
    const at = this.#pos + 4;
    let len = 0;
    // Short ASCII text (ids, methods, addresses) byte by byte: cheaper than a call into the runtime.
    if (n <= 64) {
      while (len < n) {
        const c = s.charCodeAt(len);
        if (c > 0x7f) break;
        buf[at + len++] = c;
      }
    }
    if (len < n) len = buf.write(s, at);
    buf[this.#pos] = len & 0xff;
    buf[this.#pos + 1] = (len >>> 8) & 0xff;
    buf[this.#pos + 2] = (len >>> 16) & 0xff;
    buf[this.#pos + 3] = len >>> 24;
    this.#pos = at + len;
  }
  raw(b: Buffer): void {
    this.#room(b.length);
    b.copy(this.#buf, this.#pos);
    this.#pos += b.length;
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
    return this.#buf.subarray(this.#start, this.#pos);
  }
  /** Bytes of content. */
  get size(): number {
    return this.#pos - this.#start;
  }
  /** Overwrites 4 bytes at `at` (from the content's start) with `v`, little-endian. */
  setUInt32(at: number, v: number): void {
    this.#buf.writeUInt32LE(v, this.#start + at);
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
function packIndices(out: ValueWriter, indices: Uint16Array, count: number, size: number): void {
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

/**
 * Definition levels (bit width 1) in the RLE/bit-packing hybrid, with the 4-byte length prefix data
 * page v1 wants: one RLE run when all values are present (or all absent), else one bit-packed run.
 */
export function definitionLevels(defined: ArrayLike<number>, n = defined.length, present?: number): Buffer {
  const out = new ValueWriter(16 + Math.ceil(n / 8));
  writeDefinitionLevels(out, defined, n, present);
  return out.bytes();
}

function writeDefinitionLevels(
  out: ValueWriter,
  defined: ArrayLike<number>,
  n: number,
  present: number | undefined,
): void {
  let count = present;
  if (count === undefined) {
    count = 0;
    for (let i = 0; i < n; i++) if (defined[i]) count++;
  }
  const lengthAt = out.size;
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
  out.setUInt32(lengthAt, out.size - lengthAt - 4);
}
