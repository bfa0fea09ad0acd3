import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generateKey, hashesEqual, hashKey, keyHint, parseKey } from '../../../src/rules/index.ts';
import { arbEnvironment, arbType } from '../../support/fuzz/arbitraries.ts';
import { KEY_EXAMPLES, SEEDS } from '../../support/fuzz/regressions.ts';
import { runs, timeout } from '../../support/fuzz/runs.ts';

// Hostile key strings: parseKey never throws, answers ok or key_malformed, and never quotes its input
// (a mistyped real key must not land in a log line through an error message).

const KEYISH = 'kwpsk_prodstgdev0123456789ABCXYZabcxyz_';

/** Strings near the key format (mutated real keys, key alphabet soup) and plain junk. */
const arbKeyString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.string({ unit: fc.constantFrom(...KEYISH), minLength: 40, maxLength: 80 }),
  fc
    .record({
      type: arbType,
      environment: arbEnvironment,
      at: fc.nat(),
      insert: fc.string({ unit: 'binary', maxLength: 3 }),
      drop: fc.nat({ max: 3 }),
    })
    .map(({ type, environment, at, insert, drop }) => {
      const k = generateKey({ type, environment });
      const i = at % (k.length + 1);
      return k.slice(0, i) + insert + k.slice(i + drop);
    }),
);

function checkParse(s: string): void {
  const r = parseKey(s);
  if (r.ok) {
    // Only a well-formed key parses, and its hint never carries the secret.
    expect(s).toMatch(/^kw[ps]k_(prod|stg|dev)_[0-9A-Za-z]{12}_[0-9A-Za-z]{39}$/);
    expect(r.key.hint).not.toContain(s.slice(23, 56));
    return;
  }
  expect(r.code).toBe('key_malformed');
  expect(typeof r.message).toBe('string');
  expect(r.message.length).toBeGreaterThan(0);
  // Never echoes the input: no 8+ character run of it shows up in the message.
  if (s.length >= 8) {
    for (let i = 0; i + 8 <= s.length; i += 4) {
      const piece = s.slice(i, i + 8);
      if (/[0-9A-Za-z]{8}/.test(piece) && !/^(kw[ps]k|prod|stg|dev)/.test(piece))
        expect(r.message).not.toContain(piece);
    }
  }
  expect(keyHint(s)).toBe('…');
}

describe('fuzz: key strings', () => {
  it('parseKey never throws and never echoes its input', { timeout: timeout() }, () => {
    for (const s of KEY_EXAMPLES) checkParse(s);
    fc.assert(
      fc.property(arbKeyString, (s) => checkParse(s)),
      { numRuns: runs(3000) },
    );
  });

  it('parseKey refuses non-strings without throwing', () => {
    fc.assert(
      fc.property(fc.anything(), (v) => {
        const r = parseKey(v);
        if (typeof v !== 'string') expect(r.ok).toBe(false);
      }),
      { numRuns: runs(500) },
    );
  });

  it('a single-character change to a real key is refused (checksum)', { timeout: timeout() }, () => {
    fc.assert(
      fc.property(arbType, arbEnvironment, fc.nat(), fc.nat({ max: 61 }), (type, environment, at, d) => {
        const k = generateKey({ type, environment });
        const A = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
        // Mutate a character of the id, secret or checksum to another base62 character.
        const i = 10 + (at % (k.length - 10));
        if (k[i] === '_') return;
        const c = A[(A.indexOf(k[i] ?? '0') + 1 + d) % 62] ?? '0';
        if (c === k[i]) return;
        const m = k.slice(0, i) + c + k.slice(i + 1);
        const r = parseKey(m);
        // CRC32 catches every single-symbol change within its width, so these never pass.
        expect(r.ok).toBe(false);
      }),
      { numRuns: runs(1000) },
    );
  });

  it('hashesEqual never throws and is true only for equal digests', () => {
    const hex = fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEFg '), maxLength: 70 });
    fc.assert(
      fc.property(fc.oneof(hex, fc.string()), fc.oneof(hex, fc.string()), (a, b) => {
        const eq = hashesEqual(a, b);
        if (eq) expect(a.toLowerCase()).toBe(b.toLowerCase());
      }),
      { numRuns: runs(2000) },
    );
    fc.assert(
      fc.property(fc.string(), (s) => {
        expect(hashesEqual(hashKey(s), hashKey(s))).toBe(true);
      }),
      { numRuns: runs(500) },
    );
  });

  for (const replay of SEEDS.parseKey ?? [])
    it(`regression seed ${replay.seed}`, () => {
      fc.assert(
        fc.property(arbKeyString, (s) => checkParse(s)),
        { seed: replay.seed, path: replay.path, endOnFailure: true },
      );
    });
});
