import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BASE62_ALPHABET,
  decodeBase62Bytes,
  decodeBase62Int,
  decodeBase62Number,
  encodeBase62Bytes,
  encodeBase62Int,
  randomBase62,
} from '../../../src/rules/index.ts';
import { referenceBase62 } from '../../support/fuzz/arbitraries.ts';

describe('base62', () => {
  it('encodes integers like the reference, and decodes them back', () => {
    expect(encodeBase62Int(0)).toBe('0');
    expect(encodeBase62Int(61)).toBe('z');
    expect(encodeBase62Int(62)).toBe('10');
    expect(encodeBase62Int(2 ** 32 - 1, 6)).toBe(referenceBase62(2 ** 32 - 1, 6));
    expect(encodeBase62Int(2 ** 32 - 1).length).toBeLessThanOrEqual(6);
    fc.assert(
      fc.property(fc.nat({ max: 2 ** 32 - 1 }), (n) => {
        expect(encodeBase62Int(n, 6)).toBe(referenceBase62(n, 6));
        expect(decodeBase62Int(encodeBase62Int(n, 6))).toBe(BigInt(n));
      }),
    );
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 256n }), (n) => {
        expect(decodeBase62Int(encodeBase62Int(n))).toBe(n);
      }),
    );
  });

  it('decodeBase62Number reads a digit range like decodeBase62Int, and NaN on any other character', () => {
    fc.assert(
      fc.property(fc.nat({ max: 2 ** 32 - 1 }), fc.string({ maxLength: 3 }), (n, pad) => {
        const s = `${pad}${encodeBase62Int(n, 6)}${pad}`;
        expect(decodeBase62Number(s, pad.length, pad.length + 6)).toBe(n);
      }),
    );
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 8 }), (s) => {
        const base62 = [...s].every((c) => BASE62_ALPHABET.includes(c)) && s.length === [...s].length;
        const n = decodeBase62Number(s, 0, s.length);
        if (base62) expect(BigInt(n)).toBe(decodeBase62Int(s));
        else expect(n).toBeNaN();
      }),
    );
    expect(decodeBase62Number('zzzzzzzz', 0, 8)).toBe(62 ** 8 - 1);
    expect(() => decodeBase62Number('000000000', 0, 9)).toThrow(RangeError);
  });

  it('keeps numeric order in fixed-width encodings', () => {
    fc.assert(
      fc.property(fc.nat({ max: 2 ** 32 - 1 }), fc.nat({ max: 2 ** 32 - 1 }), (a, b) => {
        expect(encodeBase62Int(a, 6) < encodeBase62Int(b, 6)).toBe(a < b);
      }),
    );
  });

  it('round-trips bytes, leading zero bytes included', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const s = encodeBase62Bytes(bytes);
        expect(s).toMatch(/^[0-9A-Za-z]*$/);
        expect(decodeBase62Bytes(s)).toEqual(bytes);
      }),
    );
    expect(encodeBase62Bytes(new Uint8Array([0, 0, 1]))).toBe('001');
  });

  it('refuses bad input', () => {
    expect(() => encodeBase62Int(-1)).toThrow(RangeError);
    expect(() => encodeBase62Int(1.5)).toThrow(RangeError);
    expect(() => decodeBase62Int('ab-c')).toThrow(RangeError);
    expect(() => decodeBase62Int('')).toThrow(RangeError);
    expect(() => randomBase62(-1)).toThrow(RangeError);
  });

  it('draws random strings of the asked length from the whole alphabet', () => {
    fc.assert(
      fc.property(fc.nat({ max: 300 }), (n) => {
        const s = randomBase62(n);
        expect(s).toHaveLength(n);
        expect(s).toMatch(/^[0-9A-Za-z]*$/);
      }),
      { numRuns: 50 },
    );
    expect(new Set(randomBase62(5000))).toEqual(new Set(BASE62_ALPHABET));
  });
});
