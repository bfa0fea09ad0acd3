import { chunkStatistics, type Stats, track } from './column-stats.ts';
import { type ChunkStatistics, ENCODING } from './format.ts';
import { redactKeys } from './redact.ts';
import { packIndices, writeDefinitionLevels } from './rle.ts';
import type { ColumnKind, ColumnSpec } from './schema.ts';
import { ValueWriter } from './value-writer.ts';

// One column of a row group being built (see encode.ts): PLAIN values or dictionary indices, its
// definition levels, and its statistics.

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

/**
 * One column of a row group being built: values are encoded as they are added (PLAIN bytes, or an
 * index into the batch's dictionary), so the caller's event objects can be dropped at once.
 */
export class ColumnBuilder {
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
    const kind = this.col.kind as Exclude<ColumnKind, 'string'>; // string columns returned above
    const n = kind === 'double' ? given : kind === 'int32' ? Math.trunc(given) | 0 : Math.trunc(given);
    this.#values.number(kind, n);
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
    return this.#stats && chunkStatistics(this.col.kind, this.#stats, this.rows - this.present);
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
