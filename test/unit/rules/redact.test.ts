import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkExpiry,
  checkPermissions,
  compileSources,
  describeValue,
  generateKey,
  keyPrefix,
  normalizeSources,
  parseClientAddress,
  parseDuration,
  parseKey,
  parsePermission,
  parseSource,
} from '../../../src/rules/index.ts';
import { arbKey, arbMutatedKey, substrings } from '../../support/fuzz/arbitraries.ts';

/** Every message any rule gives for `input` (mis-pasted into any field). */
function messagesFor(input: string): string[] {
  const out: string[] = [];
  const add = (r: { ok: boolean; message?: string }) => {
    if (!r.ok && r.message !== undefined) out.push(r.message);
  };
  const thrown = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      out.push((e as Error).message);
    }
  };
  add(parseKey(input));
  add(parseDuration(input));
  add(parsePermission(input));
  add(parseSource(input));
  add(parseClientAddress(input));
  add(checkExpiry(input, new Date('2026-01-01T00:00:00Z')));
  out.push(...checkPermissions([input, 'devices:read'], 'public', { permissions: [], strict: true }));
  const sources = normalizeSources(['10.0.0.0/8', input]);
  if (!sources.ok) out.push(...sources.errors);
  thrown(() => compileSources([input]));
  thrown(() => generateKey({ type: 'public', environment: 'production', keyId: input }));
  thrown(() => keyPrefix(input as 'public', 'production'));
  return out;
}

describe('error messages never leak a key', () => {
  it('contain no 8-character piece of a mistyped or mis-pasted key, from any rule', () => {
    fc.assert(
      fc.property(arbMutatedKey, ({ original, input }) => {
        const messages = messagesFor(input);
        expect(messages.length).toBeGreaterThanOrEqual(10);
        const pieces = new Set([...substrings(input, 8), ...substrings(original, 8)]);
        for (const message of messages) {
          for (const piece of pieces) {
            if (message.includes(piece))
              throw new Error(`a message contains ${JSON.stringify(piece)}: ${message}`);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('holds for valid keys in the wrong field too', () => {
    fc.assert(
      fc.property(arbKey, ({ key, keyId, secret }) => {
        for (const message of messagesFor(key)) {
          expect(message).not.toContain(secret.slice(0, 8));
          expect(message).not.toContain(keyId.slice(0, 8));
        }
      }),
      { numRuns: 100 },
    );
  });
});

describe('describeValue', () => {
  it('shows ordinary values quoted, so messages name what was wrong', () => {
    for (const v of [
      'devices:Read',
      '1d',
      '10.0.0.0/33',
      '2001:DB8::/129',
      '2027-02-30T00:00:00Z',
      'tickets.create',
    ]) {
      expect(describeValue(v)).toBe(JSON.stringify(v));
    }
  });

  it('hides long, key-prefixed or random-looking values, naming only their length', () => {
    expect(describeValue('x'.repeat(49))).toBe('(a 49-character value, not shown)');
    expect(describeValue('kwsk_prod')).toBe('(a 9-character value, not shown)');
    expect(describeValue('aB3dE5gH9kLm')).toBe('(a 12-character value, not shown)');
    expect(describeValue(42)).toBe('(a value of type number)');
  });
});
