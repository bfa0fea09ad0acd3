import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { findKeys, REDACTED_KEY, redactKeys } from '../../../src/audit/redact.ts';
import { generateKey } from '../../../src/rules/index.ts';
import { arbEnvironment, arbType } from '../../support/fuzz/arbitraries.ts';
import { runs, timeout } from '../../support/fuzz/runs.ts';

// The audit trail's second line of defence: whatever shape a pasted key arrives in, it is replaced.
// (Finding 7 of issue 12: keys glued to a word character or with %5F for `_` passed through.)

const key = () => generateKey({ type: 'private', environment: 'production' });
const secretOf = (k: string) => k.slice(-39);
const pct = (c: string, upper: boolean) => {
  const hex = c.charCodeAt(0).toString(16).padStart(2, '0');
  return `%${upper ? hex.toUpperCase() : hex}`;
};

describe('redactKeys', () => {
  it('replaces a key next to word characters on either side', () => {
    const k = key();
    expect(redactKeys(`token${k}`)).toBe(`token${REDACTED_KEY}`);
    expect(redactKeys(`${k}xyz`)).toBe(REDACTED_KEY);
    expect(redactKeys(`/v1/a${k}b/c`)).toBe(`/v1/a${REDACTED_KEY}/c`);
    expect(redactKeys(`_${k}_`)).toBe(`_${REDACTED_KEY}_`);
  });

  it('replaces a key whose underscores (or any character) are percent-encoded, once or twice', () => {
    const k = key();
    const lower = k.replaceAll('_', '%5f');
    const upper = k.replaceAll('_', '%5F');
    const twice = k.replaceAll('_', '%255F');
    const all = [...k].map((c) => pct(c, true)).join('');
    for (const form of [lower, upper, twice, all]) {
      const out = redactKeys(`/v1/keys/${form}?x=1`);
      expect(out).toBe(`/v1/keys/${REDACTED_KEY}?x=1`);
      expect(out).not.toContain(secretOf(k));
    }
  });

  it('replaces an upper-cased key and keeps the text around it byte for byte', () => {
    const k = key();
    expect(redactKeys(`a %zz ${k.toUpperCase()} é`)).toBe(`a %zz ${REDACTED_KEY} é`);
  });

  it('leaves text without a key unchanged, percent-encoding included', () => {
    for (const s of [
      '/v1/devices/42',
      '/v1/a%20b/%5F%5f/c',
      'kwsk_prod_short',
      `kwsk_prod_${'a'.repeat(12)}_${'b'.repeat(20)}`,
    ])
      expect(redactKeys(s)).toBe(s);
  });

  it('findKeys names the decoded key for the scan', () => {
    const k = key();
    expect(findKeys(`x${k.replaceAll('_', '%5F')}`)).toEqual([k]);
    expect(findKeys('/v1/devices/42')).toEqual([]);
  });

  it(
    'property: any key, any characters percent-encoded in any case, any text around it, is redacted',
    () => {
      const arbKey = fc.record({ type: arbType, environment: arbEnvironment }).map((o) => generateKey(o));
      const arbText = fc.string({ unit: fc.constantFrom(...'ab09_-/%?=.Zk'), maxLength: 12 });
      fc.assert(
        fc.property(
          arbKey,
          arbText,
          arbText,
          fc.array(fc.constantFrom('raw', 'lower', 'upper', 'double'), { minLength: 64, maxLength: 64 }),
          (k, before, after, encodings) => {
            const encoded = [...k]
              .map((c, i) => {
                const e = encodings[i % encodings.length];
                if (e === 'lower') return pct(c, false);
                if (e === 'upper') return pct(c, true);
                if (e === 'double') return `%25${pct(c, true).slice(1)}`;
                return c;
              })
              .join('');
            const out = redactKeys(`${before}${encoded}${after}`);
            expect(out).toContain(REDACTED_KEY);
            expect(decodeURIComponentSafe(decodeURIComponentSafe(out))).not.toContain(secretOf(k));
          },
        ),
        { numRuns: runs(300) },
      );
    },
    timeout(),
  );
});

function decodeURIComponentSafe(s: string): string {
  return s.replace(/%[0-9a-f]{2}/gi, (m) => String.fromCharCode(Number.parseInt(m.slice(1), 16)));
}
