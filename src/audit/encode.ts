import { ColumnBuilder, DictionaryHints } from './column-builder.ts';
import { type Compression, compress } from './compress.ts';
import {
  type ChunkMeta,
  CODEC,
  dataPageHeader,
  dictionaryPageHeader,
  ENCODING,
  rowGroupMetadata,
} from './format.ts';
import { type BufferedEvent, COLUMNS } from './schema.ts';
import { ValueWriter } from './value-writer.ts';

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

export interface EncodedRowGroup {
  /** The row group's bytes, to append to the file at `offset`. */
  data: Buffer;
  /** Its thrift RowGroup metadata (absolute offsets), for the journal and the footer. */
  rowGroup: Buffer;
  rows: number;
  /** Strings that held something shaped like a key, now redacted. */
  redactions: number;
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

/** A column's page bodies, uncompressed, and compressed as they go into the file. */
interface CompressedColumn {
  pages: ReturnType<ColumnBuilder['pages']>;
  dictionaryBody: Buffer | undefined;
  dataBody: Buffer;
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
    const compressed = await this.#compressColumns(compression);
    const out = this.#out;
    out.clear();
    const chunks: ChunkMeta[] = [];
    let at = offset;
    for (const [i, column] of compressed.entries()) {
      const chunk = this.#layOutChunk(this.#columns[i] as ColumnBuilder, column, compression, at);
      chunks.push(chunk);
      at += chunk.compressed;
    }
    return {
      data: out.bytes(),
      rowGroup: rowGroupMetadata(chunks, this.rows, offset),
      rows: this.rows,
      redactions: this.redactions,
    };
  }

  /**
   * Each column's pages and their compressed bodies. A few workers over the columns: the event loop
   * runs between their steps, so requests keep flowing while a batch is laid out, and only a few zlib
   * states are alive at once.
   */
  async #compressColumns(compression: Compression): Promise<CompressedColumn[]> {
    const done: CompressedColumn[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: COMPRESS_IN_FLIGHT }, async () => {
        while (next < this.#columns.length) {
          const i = next++;
          const pages = (this.#columns[i] as ColumnBuilder).pages();
          const dictionaryBody = pages.dictionary ? await compress(compression, pages.dictionary) : undefined;
          done[i] = { pages, dictionaryBody, dataBody: await compress(compression, pages.data) };
        }
      }),
    );
    return done;
  }

  /** Appends one column chunk (its dictionary page, then its data page) at file offset `start`. */
  #layOutChunk(col: ColumnBuilder, c: CompressedColumn, compression: Compression, start: number): ChunkMeta {
    const { pages, dictionaryBody, dataBody } = c;
    const out = this.#out;
    let uncompressed = 0;
    let written = 0;
    if (pages.dictionary && dictionaryBody) {
      const h = dictionaryPageHeader(pages.dictionarySize, pages.dictionary.length, dictionaryBody.length);
      out.raw(h);
      out.raw(dictionaryBody);
      uncompressed += h.length + pages.dictionary.length;
      written += h.length + dictionaryBody.length;
    }
    const h = dataPageHeader(this.rows, pages.encoding, pages.data.length, dataBody.length);
    out.raw(h);
    out.raw(dataBody);
    uncompressed += h.length + pages.data.length;
    written += h.length + dataBody.length;
    return {
      column: col.col,
      codec: CODEC[compression],
      encodings: pages.dictionary
        ? [ENCODING.PLAIN, ENCODING.RLE, ENCODING.RLE_DICTIONARY]
        : [ENCODING.PLAIN, ENCODING.RLE],
      numValues: this.rows,
      uncompressed,
      compressed: written,
      offset: start,
      statistics: col.statistics(),
    };
  }
}
