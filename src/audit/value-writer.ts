import type { ColumnKind } from './schema.ts';

// The growing byte buffer every page body is written into (PLAIN values, levels, indices).

/** A growing buffer of PLAIN-encoded values. */
export class ValueWriter {
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
  /** A number as a column of `kind` stores it (timestamp: INT64 milliseconds). */
  number(kind: Exclude<ColumnKind, 'string'>, v: number): void {
    if (kind === 'int32') this.int32(v);
    else if (kind === 'double') this.double(v);
    else this.int64(v);
  }
  byte(b: number): void {
    this.#room(1);
    this.#buf[this.#pos++] = b;
  }
  varint(value: number): void {
    this.#room(10);
    this.#pos = putVarint(this.#buf, this.#pos, value);
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

/** Writes an unsigned varint, exact up to 2^53, at `at` (10 bytes of room at most); returns where it ends. */
export function putVarint(buf: Buffer, at: number, value: number): number {
  let pos = at;
  let v = value;
  while (v >= 0x80) {
    buf[pos++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  buf[pos++] = v;
  return pos;
}
