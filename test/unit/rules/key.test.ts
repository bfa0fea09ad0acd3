import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  digestMatches,
  ENVIRONMENTS,
  generateKey,
  generateKeyId,
  hashesEqual,
  hashKey,
  KEY_PATTERN,
  KEY_TYPES,
  keyDigest,
  keyDigestInto,
  keyEnvironment,
  keyHint,
  keyMatchesHash,
  keyPrefix,
  parseKey,
  wellFormedKeyId,
} from '../../../src/rules/index.ts';
import { ALPHABET, applyMutation, arbKey, KEY_CHARSET, substrings } from '../../support/fuzz/arbitraries.ts';

const SHAPE = /^kw(pk|sk)_(prod|stg|dev)_([0-9A-Za-z]{12})_([0-9A-Za-z]{33})([0-9A-Za-z]{6})$/;

describe('generateKey', () => {
  it('produces 100,000 unique keys that all parse back, with unbiased characters', () => {
    const keys = new Set<string>();
    const ids = new Set<string>();
    const counts = new Uint32Array(128);
    for (let i = 0; i < 100_000; i++) {
      const type = KEY_TYPES[i % 2] ?? 'public';
      const environment = ENVIRONMENTS[i % 3] ?? 'production';
      const key = generateKey({ type, environment });
      const m = SHAPE.exec(key);
      if (m === null) throw new Error(`key ${i} has the wrong shape`);
      const parsed = parseKey(key);
      if (!parsed.ok || parsed.key.type !== type || parsed.key.environment !== environment) {
        throw new Error(`key ${i} does not parse back`);
      }
      if (parsed.key.keyId !== m[3]) throw new Error(`key ${i} parses to another keyId`);
      keys.add(key);
      ids.add(parsed.key.keyId);
      const secret = m[4] ?? '';
      for (let j = 0; j < secret.length; j++)
        counts[secret.charCodeAt(j)] = (counts[secret.charCodeAt(j)] ?? 0) + 1;
    }
    expect(keys.size).toBe(100_000);
    expect(ids.size).toBe(100_000);
    // 3.3M secret characters, ~53,226 each. A plain `byte % 62` would give 0-7 about 25% more.
    const expected = (100_000 * 33) / 62;
    for (const c of ALPHABET)
      expect(Math.abs((counts[c.charCodeAt(0)] ?? 0) - expected) / expected).toBeLessThan(0.03);
  });

  it('keeps a given keyId and changes the secret (regeneration)', () => {
    const keyId = generateKeyId();
    const a = generateKey({ type: 'private', environment: 'staging', keyId });
    const b = generateKey({ type: 'private', environment: 'staging', keyId });
    expect(a).not.toBe(b);
    expect(a.startsWith(`kwsk_stg_${keyId}_`)).toBe(true);
    expect(parseKey(b)).toMatchObject({ ok: true, key: { keyId } });
  });

  it('refuses a malformed keyId, unknown types and environments', () => {
    expect(() => generateKey({ type: 'public', environment: 'production', keyId: 'short' })).toThrow(
      TypeError,
    );
    expect(() => generateKey({ type: 'admin' as 'public', environment: 'production' })).toThrow(/key type/);
    expect(() => generateKey({ type: 'public', environment: 'prod' as 'production' })).toThrow(/environment/);
  });

  it('has a secret of at least 190 bits', () => {
    expect(33 * Math.log2(62)).toBeGreaterThanOrEqual(190);
  });
});

describe('parseKey', () => {
  it('accepts keys built from the documented format (CRC32 as 6 base62 digits)', () => {
    fc.assert(
      fc.property(arbKey, (k) => {
        const r = parseKey(k.key);
        expect(r).toEqual({
          ok: true,
          key: {
            type: k.type,
            environment: k.environment,
            keyId: k.keyId,
            prefix: keyPrefix(k.type, k.environment),
            hint: keyHint(k.key),
          },
        });
      }),
    );
  });

  it('refuses every single-character substitution, deletion and insertion (exhaustive per key)', () => {
    fc.assert(
      fc.property(arbKey, ({ key }) => {
        let tried = 0;
        for (let i = 0; i <= key.length; i++) {
          const variants = [];
          if (i < key.length) {
            variants.push(key.slice(0, i) + key.slice(i + 1));
            for (const c of KEY_CHARSET)
              if (c !== key[i]) variants.push(key.slice(0, i) + c + key.slice(i + 1));
          }
          for (const c of KEY_CHARSET) variants.push(key.slice(0, i) + c + key.slice(i));
          for (const v of variants) {
            // Inserting a copy of a neighbour gives the same string as inserting it on the other side.
            if (v === key) continue;
            tried++;
            if (parseKey(v).ok) throw new Error(`edit at ${i} was accepted`);
          }
        }
        expect(tried).toBeGreaterThan(key.length * 120);
      }),
      { numRuns: 25 },
    );
  });

  it('refuses adjacent transpositions and random multi-character edits', () => {
    fc.assert(
      fc.property(arbKey, fc.nat(), ({ key }, n) => {
        const i = n % (key.length - 1);
        fc.pre(key[i] !== key[i + 1]);
        const swapped = key.slice(0, i) + key[i + 1] + key[i] + key.slice(i + 2);
        expect(parseKey(swapped).ok).toBe(false);
      }),
    );
    fc.assert(
      fc.property(
        arbKey,
        fc.array(fc.record({ at: fc.nat(), char: fc.constantFrom(...ALPHABET) }), {
          minLength: 2,
          maxLength: 5,
        }),
        ({ key }, edits) => {
          // Only the random part, so the shape stays valid and the checksum alone must catch it.
          const mutated = edits.reduce(
            (s, e) =>
              applyMutation(s, { kind: 'substitute', at: key.length - 1 - (e.at % 39), char: e.char }),
            key,
          );
          fc.pre(mutated !== key);
          const r = parseKey(mutated);
          expect(r.ok).toBe(false);
          if (!r.ok) expect(r.message).toMatch(/checksum/);
        },
      ),
    );
  });

  it('gives a specific, fixed message for each way of being malformed', () => {
    const key = generateKey({ type: 'private', environment: 'production' });
    const cases: [unknown, RegExp][] = [
      ['', /no key/],
      [undefined, /no key/],
      [`${key} `, /characters other than/],
      [key.replace('kwsk', 'kwxk'), /prefix/],
      [key.replace('_prod_', '_live_'), /environment/],
      [key.slice(0, -1), /shape/],
      [`${key.slice(0, -6)}000000`, /checksum does not match/],
    ];
    for (const [input, message] of cases) {
      const r = parseKey(input);
      expect(r).toMatchObject({ ok: false, code: 'key_malformed' });
      if (!r.ok) expect(r.message).toMatch(message);
    }
  });

  it('refuses input over 128 characters on length alone', () => {
    const key = generateKey({ type: 'public', environment: 'development' });
    for (const long of [key + '_'.repeat(129 - key.length), `${key}${'a'.repeat(5_000_000)}`]) {
      expect(parseKey(long)).toEqual({
        ok: false,
        code: 'key_malformed',
        message: expect.stringMatching(/longer than 128/),
      });
    }
  });
});

describe('hashes', () => {
  it('hashKey is SHA-256 hex of the full string', () => {
    fc.assert(
      fc.property(arbKey, ({ key }) => {
        expect(hashKey(key)).toBe(createHash('sha256').update(key).digest('hex'));
        expect(hashKey(key)).toMatch(/^[0-9a-f]{64}$/);
      }),
      { numRuns: 50 },
    );
  });

  it('hashesEqual is true exactly for equal digests', () => {
    fc.assert(
      fc.property(arbKey, arbKey, ({ key: a }, { key: b }) => {
        const ha = hashKey(a);
        expect(hashesEqual(ha, hashKey(a))).toBe(true);
        expect(hashesEqual(ha, ha.toUpperCase())).toBe(true);
        expect(hashesEqual(ha, hashKey(b))).toBe(a === b);
        expect(keyMatchesHash(a, ha)).toBe(true);
        expect(keyMatchesHash(`${a}x`, ha)).toBe(false);
      }),
      { numRuns: 50 },
    );
  });

  it('hashesEqual is false, without throwing, on length mismatch or non-hex input', () => {
    const h = hashKey('kwsk_prod_x');
    const cases: [string, string][] = [
      [h, h.slice(0, 62)],
      [h, `${h}00`],
      [h, h.slice(0, 63)],
      [h, `${h.slice(0, 63)}g`],
      [h, ''],
      ['', ''],
      [h, h.replace(/./, 'z')],
      [null as unknown as string, h],
    ];
    for (const [a, b] of cases) {
      expect(hashesEqual(a, b)).toBe(false);
      expect(hashesEqual(b, a)).toBe(false);
    }
  });
});

describe('digestMatches (digest bytes against a stored digest decoded once)', () => {
  it('agrees with hashesEqual on every pair, and is false on a digest of the wrong length', () => {
    fc.assert(
      fc.property(arbKey, arbKey, ({ key: a }, { key: b }) => {
        const stored = Buffer.from(hashKey(a), 'hex');
        expect(keyDigest(a).equals(stored)).toBe(true);
        expect(digestMatches(keyDigest(a), stored)).toBe(true);
        expect(digestMatches(keyDigest(b), stored)).toBe(hashesEqual(hashKey(b), hashKey(a)));
      }),
      { numRuns: 50 },
    );
    const d = keyDigest('kwsk_prod_x');
    expect(d.equals(createHash('sha256').update('kwsk_prod_x').digest())).toBe(true);
    for (const bad of [d.subarray(0, 31), Buffer.concat([d, Buffer.alloc(1)]), Buffer.alloc(0)]) {
      expect(digestMatches(bad, d)).toBe(false);
      expect(digestMatches(d, bad)).toBe(false);
    }
  });
});

describe('keyDigestInto (the hot path: one reused buffer, no Buffer per call)', () => {
  it('writes all 32 bytes of the SHA-256 each time, whatever the buffer held before', () => {
    const out = Buffer.alloc(32, 0xa5);
    fc.assert(
      fc.property(
        fc.oneof(
          arbKey.map(({ key }) => key),
          fc.string(),
          fc.string({ unit: 'binary' }),
        ),
        (s) => {
          const expected = createHash('sha256').update(s, 'utf8').digest();
          expect(keyDigestInto(s, out)).toBe(out);
          expect(out.equals(expected)).toBe(true);
          expect(keyDigest(s).equals(expected)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses a buffer too short for the digest instead of writing part of it', () => {
    expect(() => keyDigestInto('x', Buffer.alloc(31))).toThrow(RangeError);
  });
});

describe('wellFormedKeyId (the hot path) accepts exactly what parseKey accepts', () => {
  it('on keys, near-keys and junk: the same verdict, id and environment', () => {
    const near = arbKey.chain(({ key }) =>
      fc
        .tuple(fc.nat(key.length), fc.string({ unit: 'binary', maxLength: 2 }), fc.nat(2))
        .map(([at, ins, drop]) => key.slice(0, at) + ins + key.slice(at + drop)),
    );
    fc.assert(
      fc.property(
        fc.oneof(
          arbKey.map(({ key }) => key),
          near,
          fc.string(),
          fc.anything(),
        ),
        (s) => {
          const r = parseKey(s);
          expect(wellFormedKeyId(s)).toBe(r.ok ? r.key.keyId : undefined);
          if (r.ok) expect(keyEnvironment(s as string)).toBe(r.key.environment);
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe('parseKey by index accepts exactly what the shape regex (and the checksum) accept', () => {
  const CHECKSUM = 'key checksum does not match: the key was mistyped or is not a keywarden key';
  it('on keys, keys with one character changed, added or dropped, and strings over the key alphabet', () => {
    const near = arbKey.chain(({ key }) =>
      fc
        .tuple(fc.nat(key.length), fc.constantFrom(...'_kwpsdvgtro0aZ9-\n'), fc.nat(3))
        .map(([at, c, op]) =>
          op === 0
            ? key.slice(0, at) + c + key.slice(at + 1)
            : op === 1
              ? key.slice(0, at) + c + key.slice(at)
              : op === 2
                ? key.slice(0, at) + key.slice(at + 1)
                : `${key}\n`,
        ),
    );
    const anyKey = arbKey.map(({ key }) => key);
    const letters = fc.string({ unit: fc.constantFrom(...'kwpsd_prodstgdev0aZ') });
    fc.assert(
      fc.property(fc.oneof(anyKey, near, letters), (s) => {
        const r = parseKey(s);
        const m = SHAPE.exec(s);
        if (m === null) {
          expect(r.ok).toBe(false);
          if (!r.ok) expect(r.message).not.toBe(CHECKSUM);
        } else if (r.ok) {
          expect(r.key.keyId).toBe(m[3]);
          expect(r.key.prefix).toBe(`kw${m[1]}_${m[2]}_`);
          expect(r.key.hint).toBe(`kw${m[1]}_${m[2]}_${m[3]}_…${s.slice(-4)}`);
        } else expect(r.message).toBe(CHECKSUM);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('keyHint', () => {
  it('shows prefix, id and the last 4 (checksum) characters, never any part of the secret', () => {
    fc.assert(
      fc.property(arbKey, (k) => {
        const hint = keyHint(k.key);
        expect(hint).toBe(`${keyPrefix(k.type, k.environment)}${k.keyId}_…${k.key.slice(-4)}`);
        for (const part of substrings(k.secret, 5)) expect(hint.includes(part)).toBe(false);
      }),
    );
  });

  it('gives a bare placeholder for something that is not a key', () => {
    expect(keyHint('kwsk_prod_not-a-key')).toBe('…');
  });
});

describe('keyPrefix and KEY_PATTERN', () => {
  it('names type and environment at a glance', () => {
    expect(keyPrefix('private', 'production')).toBe('kwsk_prod_');
    expect(keyPrefix('public', 'staging')).toBe('kwpk_stg_');
    expect(keyPrefix('public', 'development')).toBe('kwpk_dev_');
  });

  it('lets a scanner find keys inside text, and not inside longer tokens', () => {
    const re = new RegExp(KEY_PATTERN, 'g');
    fc.assert(
      fc.property(arbKey, arbKey, ({ key: a }, { key: b }) => {
        const text = `export TOKEN="${a}"\nAuthorization: Bearer ${b}\n`;
        expect(text.match(re)).toEqual([a, b]);
        expect(`x${a}`.match(re)).toBeNull();
        expect(`${a}9`.match(re)).toBeNull();
      }),
      { numRuns: 50 },
    );
  });
});
