import * as crypto from 'node:crypto';
import fc from 'fast-check';
import { beforeEach, describe, expect, it, vi } from 'vitest';

// Constant-time comparison, shown behaviourally (no timing statistics): every comparison of two
// equal-length digests goes through crypto.timingSafeEqual over the whole digest, whether they match,
// differ in the first byte or differ in the last; the validator's decision compares that way too.

vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:crypto')>();
  return { ...real, timingSafeEqual: vi.fn(real.timingSafeEqual) };
});

const { hashesEqual, hashKey, keyMatchesHash, generateKey, problemsLine } = await import(
  '../../../src/rules/index.ts'
);
const { decide } = await import('../../../src/validator/decision.ts');
const { compileRecord } = await import('../../../src/validator/stored-key.ts');
const { makeKey } = await import('../../support/validator/keys.ts');

const spy = vi.mocked(crypto.timingSafeEqual);

beforeEach(() => {
  spy.mockClear();
});

function flip(hex: string, at: number): string {
  const c = hex[at] === '0' ? '1' : '0';
  return hex.slice(0, at) + c + hex.slice(at + 1);
}

describe('constant-time hash comparison', () => {
  it('every equal-length comparison is one timingSafeEqual over the full 32 bytes', () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.nat({ max: 63 }),
        fc.constantFrom('equal', 'first', 'last', 'at'),
        (s, at, how) => {
          const a = hashKey(s);
          const b = how === 'equal' ? a : flip(a, how === 'first' ? 0 : how === 'last' ? 63 : at);
          spy.mockClear();
          expect(hashesEqual(a, b)).toBe(how === 'equal');
          expect(spy).toHaveBeenCalledTimes(1);
          const [x, y] = spy.mock.calls[0] as [Buffer, Buffer];
          expect(x.length).toBe(32);
          expect(y.length).toBe(32);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('upper- and lower-case hex of the same digest are compared as bytes, not strings', () => {
    const a = hashKey('x');
    expect(hashesEqual(a, a.toUpperCase())).toBe(true);
    expect(spy).toHaveBeenCalledTimes(1);
  });

  it('malformed or unequal-length input is refused without a comparison (lengths are not secret)', () => {
    for (const [a, b] of [
      [hashKey('x'), hashKey('x').slice(0, 62)],
      [hashKey('x'), `${hashKey('x').slice(0, 62)}zz`],
      ['', ''],
      [hashKey('x'), ''],
    ] as const) {
      expect(hashesEqual(a, b)).toBe(false);
    }
    expect(spy).not.toHaveBeenCalled();
  });

  it('keyMatchesHash compares the presented key’s digest in constant time', () => {
    const key = generateKey({ type: 'private', environment: 'production' });
    expect(keyMatchesHash(key, hashKey(key))).toBe(true);
    // A different last character (a random key ends in 'x' one time in 62).
    const other = `${key.slice(0, -1)}${key.endsWith('x') ? 'y' : 'x'}`;
    expect(keyMatchesHash(other, hashKey(key))).toBe(false);
    expect(spy).toHaveBeenCalledTimes(2);
  });

  it('the validator’s decision goes through timingSafeEqual for a right and a wrong secret alike', () => {
    const good = makeKey({ permissions: ['devices:read'] });
    const compiled = compileRecord(good.record, 'team-a/x', '1');
    if (!compiled.ok) throw new Error(problemsLine(compiled.problems));
    const ctx = {
      environment: 'production' as const,
      lookup: () => compiled.value,
      unmappedRoutes: 'deny' as const,
      takeToken: () => undefined,
    };
    // A forged key with the right id and a valid checksum but another secret.
    const forged = generateKey({ type: 'private', environment: 'production', keyId: good.keyId });
    for (const key of [good.key, forged]) {
      spy.mockClear();
      const d = decide(
        { key, clientIp: '127.0.0.1', nowMs: Date.now(), requirement: { anyValidKey: true } },
        ctx,
      );
      expect(d.allowed).toBe(key === good.key);
      expect(spy).toHaveBeenCalledTimes(1);
    }
  });
});
