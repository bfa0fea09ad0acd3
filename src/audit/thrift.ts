import { putVarint } from './value-writer.ts';

// Thrift compact protocol, the writing half only: what Parquet's page headers and footer need (i32, i64,
// binary, bool, struct, list). Hand-written: the `thrift` package's JS protocol allocates a Buffer per
// byte it writes (it was most of the writer's metadata cost) and brings in a websocket stack with it.

const TYPE = { TRUE: 1, FALSE: 2, I32: 5, I64: 6, BINARY: 8, LIST: 9, STRUCT: 12 } as const;
export type ElementType = typeof TYPE.I32 | typeof TYPE.BINARY | typeof TYPE.STRUCT;
export const ELEMENT = { I32: TYPE.I32, BINARY: TYPE.BINARY, STRUCT: TYPE.STRUCT } as const;

export class CompactWriter {
  #buf: Buffer;
  #pos = 0;
  #lastId = 0;
  readonly #outer: number[] = [];

  constructor(capacity = 256) {
    this.#buf = Buffer.allocUnsafe(capacity);
  }

  #room(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#pos + n));
    this.#buf.copy(next, 0, 0, this.#pos);
    this.#buf = next;
  }

  #byte(b: number): void {
    this.#room(1);
    this.#buf[this.#pos++] = b;
  }

  /** Unsigned varint, exact up to 2^53. */
  #varint(value: number): void {
    this.#room(10);
    this.#pos = putVarint(this.#buf, this.#pos, value);
  }

  #zigzag(v: number): void {
    this.#varint(v >= 0 ? v * 2 : -v * 2 - 1);
  }

  #field(id: number, type: number): void {
    const delta = id - this.#lastId;
    if (delta > 0 && delta <= 15) this.#byte((delta << 4) | type);
    else {
      this.#byte(type);
      this.#zigzag(id);
    }
    this.#lastId = id;
  }

  i32(id: number, v: number): this {
    this.#field(id, TYPE.I32);
    this.#zigzag(v);
    return this;
  }

  /** An i64 given as a JS number (file offsets, counts and epoch milliseconds all fit in 2^53). */
  i64(id: number, v: number): this {
    this.#field(id, TYPE.I64);
    this.#zigzag(v);
    return this;
  }

  bool(id: number, v: boolean): this {
    this.#field(id, v ? TYPE.TRUE : TYPE.FALSE);
    return this;
  }

  binary(id: number, v: Buffer | string): this {
    this.#field(id, TYPE.BINARY);
    this.#bytes(v);
    return this;
  }

  #bytes(v: Buffer | string): void {
    const b = typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
    this.#varint(b.length);
    this.#room(b.length);
    b.copy(this.#buf, this.#pos);
    this.#pos += b.length;
  }

  /** A struct field: `body` writes its fields; the stop byte is added here. */
  struct(id: number, body: (w: this) => void): this {
    this.#field(id, TYPE.STRUCT);
    this.#inStruct(body);
    return this;
  }

  #inStruct(body: (w: this) => void): void {
    this.#outer.push(this.#lastId);
    this.#lastId = 0;
    body(this);
    this.#byte(0);
    this.#lastId = this.#outer.pop() as number;
  }

  /** A list field of `count` elements; `each(i)` writes element i (an i32, a binary, or a struct's fields). */
  list(id: number, type: ElementType, count: number, each: (i: number) => void): this {
    this.#field(id, TYPE.LIST);
    this.#listHeader(type, count);
    for (let i = 0; i < count; i++) {
      if (type === TYPE.STRUCT) this.#inStruct(() => each(i));
      else each(i);
    }
    return this;
  }

  #listHeader(type: number, count: number): void {
    if (count < 15) this.#byte((count << 4) | type);
    else {
      this.#byte(0xf0 | type);
      this.#varint(count);
    }
  }

  /** A list element of type i32 (inside list()). */
  elementI32(v: number): void {
    this.#zigzag(v);
  }

  /** A list element of type binary (inside list()). */
  elementBinary(v: Buffer | string): void {
    this.#bytes(v);
  }

  /**
   * A list<struct> field whose elements are already encoded (each a struct's fields and its stop byte),
   * e.g. a footer's row groups as the journal kept them.
   */
  encodedStructs(id: number, elements: readonly Buffer[]): this {
    this.#field(id, TYPE.LIST);
    this.#listHeader(TYPE.STRUCT, elements.length);
    for (const b of elements) {
      this.#room(b.length);
      b.copy(this.#buf, this.#pos);
      this.#pos += b.length;
    }
    return this;
  }

  /** The bytes of a top-level struct: its fields plus the stop byte. */
  end(): Buffer {
    this.#byte(0);
    return this.#buf.subarray(0, this.#pos);
  }
}
