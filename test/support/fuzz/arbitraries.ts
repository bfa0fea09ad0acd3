// Shared fast-check arbitraries and independent reference helpers for the rules tests.
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import type { Environment, KeyType } from '../../../src/rules/index.ts';

export const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** Every character a key can contain. */
export const KEY_CHARSET = `${ALPHABET}_`;

export const arbType = fc.constantFrom<KeyType>('public', 'private');
export const arbEnvironment = fc.constantFrom<Environment>('production', 'staging', 'development');
export const arbBase62 = (length: number) =>
  fc.string({ unit: fc.constantFrom(...ALPHABET), minLength: length, maxLength: length });

/** Independent base62: written here, not imported, so the tests check the format rather than echo it. */
export function referenceBase62(n: number, width: number): string {
  let out = '';
  let v = n;
  while (v > 0) {
    out = ALPHABET.charAt(v % 62) + out;
    v = Math.floor(v / 62);
  }
  return out.padStart(width, '0');
}

const TYPE = { public: 'pk', private: 'sk' } as const;
const ENV = { production: 'prod', staging: 'stg', development: 'dev' } as const;

export interface KeyParts {
  type: KeyType;
  environment: Environment;
  keyId: string;
  secret: string;
  key: string;
}

/** Valid keys assembled from the documented format alone. */
export const arbKey: fc.Arbitrary<KeyParts> = fc
  .record({ type: arbType, environment: arbEnvironment, keyId: arbBase62(12), secret: arbBase62(33) })
  .map((p) => {
    const body = `kw${TYPE[p.type]}_${ENV[p.environment]}_${p.keyId}_${p.secret}`;
    return { ...p, key: body + referenceBase62(crc32(body), 6) };
  });

export type Mutation =
  | { kind: 'substitute'; at: number; char: string }
  | { kind: 'delete'; at: number }
  | { kind: 'insert'; at: number; char: string }
  | { kind: 'swapcase'; at: number };

const arbMutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant('substitute' as const),
    at: fc.nat(),
    char: fc.constantFrom(...KEY_CHARSET),
  }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    char: fc.constantFrom(...KEY_CHARSET, ' ', '-'),
  }),
  fc.record({ kind: fc.constant('swapcase' as const), at: fc.nat() }),
);

export function applyMutation(s: string, m: Mutation): string {
  const at = m.at % (s.length + (m.kind === 'insert' ? 1 : 0));
  switch (m.kind) {
    case 'substitute':
      return s.slice(0, at) + m.char + s.slice(at + 1);
    case 'delete':
      return s.slice(0, at) + s.slice(at + 1);
    case 'insert':
      return s.slice(0, at) + m.char + s.slice(at);
    case 'swapcase': {
      const c = s.charAt(at);
      const swapped = c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase();
      return s.slice(0, at) + swapped + s.slice(at + 1);
    }
  }
}

/** A key as someone might mistype or mis-paste it: edits, then sometimes a wrapper around it. */
export const arbMutatedKey = fc
  .tuple(
    arbKey,
    fc.array(arbMutation, { minLength: 1, maxLength: 6 }),
    fc.constantFrom('', 'Bearer ', ' ', '"', 'X-API-Key: '),
    fc.constantFrom('', '\n', ' ', '"', '/32', ':read'),
  )
  .map(([k, ms, before, after]) => ({
    original: k.key,
    input: before + ms.reduce(applyMutation, k.key) + after,
  }));

/** Every substring of `s` of the given length. */
export function substrings(s: string, length: number): string[] {
  const out: string[] = [];
  for (let i = 0; i + length <= s.length; i++) out.push(s.slice(i, i + length));
  return out;
}
