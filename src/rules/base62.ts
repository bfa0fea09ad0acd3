import { randomBytes } from 'node:crypto';

/** Digits, then upper case, then lower case: ASCII order, so fixed-width encodings sort numerically. */
export const BASE62_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

const BASE = 62n;
const DIGIT_VALUE = new Map<string, bigint>([...BASE62_ALPHABET].map((c, i) => [c, BigInt(i)]));

/** Encodes a non-negative integer, left-padded with '0' to at least `minLength` characters. */
export function encodeBase62Int(value: number | bigint, minLength = 1): string {
  if (typeof value === 'number' && !Number.isSafeInteger(value)) {
    throw new RangeError('encodeBase62Int needs a safe integer');
  }
  if (value < 0) throw new RangeError('encodeBase62Int needs a non-negative integer');
  let out = '';
  if (typeof value === 'number') {
    // Plain number arithmetic on the hot path (key checksums); BigInt is several times slower.
    for (let n = value; n > 0; n = Math.floor(n / 62)) out = BASE62_ALPHABET.charAt(n % 62) + out;
    return out.padStart(Math.max(1, minLength), '0');
  }
  let n = value;
  while (n > 0n) {
    out = BASE62_ALPHABET.charAt(Number(n % BASE)) + out;
    n /= BASE;
  }
  return out.padStart(Math.max(1, minLength), '0');
}

/** Decodes base62 digits to an integer; throws a RangeError on any other character. */
export function decodeBase62Int(s: string): bigint {
  if (s.length === 0) throw new RangeError('empty base62 string');
  let n = 0n;
  for (const c of s) {
    const d = DIGIT_VALUE.get(c);
    if (d === undefined) throw new RangeError('not a base62 string');
    n = n * BASE + d;
  }
  return n;
}

/**
 * The value of base62 digits s[from, to) as a number, without allocating (the key checksum is read on
 * every request); NaN when a character is not a base62 digit. At most 8 digits: 62^8 < 2^53.
 */
export function decodeBase62Number(s: string, from: number, to: number): number {
  if (to - from > 8) throw new RangeError('decodeBase62Number reads at most 8 digits');
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 65 && c <= 90 ? c - 55 : c >= 97 && c <= 122 ? c - 61 : -1;
    if (d < 0) return Number.NaN;
    n = n * 62 + d;
  }
  return n;
}

/** Encodes bytes as one big-endian integer; each leading zero byte becomes a leading '0' (as base58 does). */
export function encodeBase62Bytes(bytes: Uint8Array): string {
  let zeros = 0;
  while (zeros < bytes.length && bytes[zeros] === 0) zeros++;
  if (zeros === bytes.length) return '0'.repeat(zeros);
  const n = BigInt(`0x${Buffer.from(bytes.subarray(zeros)).toString('hex')}`);
  return '0'.repeat(zeros) + encodeBase62Int(n);
}

/** Inverse of encodeBase62Bytes. */
export function decodeBase62Bytes(s: string): Uint8Array {
  let zeros = 0;
  while (zeros < s.length && s[zeros] === '0') zeros++;
  if (zeros === s.length) return new Uint8Array(zeros);
  let hex = decodeBase62Int(s.slice(zeros)).toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  const out = new Uint8Array(zeros + hex.length / 2);
  out.set(Buffer.from(hex, 'hex'), zeros);
  return out;
}

// Random bytes are drawn 4 KiB at a time: one randomBytes call per key was most of the cost of
// generating one. Each byte is used once.
const POOL_SIZE = 4096;
let pool = Buffer.alloc(0);
let poolPos = 0;

function randomByte(): number {
  if (poolPos >= pool.length) {
    pool = randomBytes(POOL_SIZE);
    poolPos = 0;
  }
  return pool.readUInt8(poolPos++);
}

/** A uniformly random base62 string of the given length, from the CSPRNG. */
export function randomBase62(length: number): string {
  if (!Number.isSafeInteger(length) || length < 0)
    throw new RangeError('length must be a non-negative integer');
  let out = '';
  while (out.length < length) {
    const b = randomByte();
    // Rejection sampling: 256 is not a multiple of 62, so b % 62 over every byte would favour 0-7.
    if (b < 248) out += BASE62_ALPHABET.charAt(b % 62);
  }
  return out;
}
