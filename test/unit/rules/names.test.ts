import { describe, expect, it } from 'vitest';
import { isObjectName } from '../../../src/rules/index.ts';

describe('isObjectName', () => {
  it('accepts RFC 1123 subdomains up to 253 characters', () => {
    for (const n of [
      'team-a',
      'k',
      'a.b-c',
      `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`,
    ])
      expect(isObjectName(n), n).toBe(true);
  });
  it('refuses anything else, line breaks included', () => {
    for (const n of ['', 'Team', 'a_b', '-a', 'a-', 'a..b', 'a\r\nX-Injected: 1', 'a'.repeat(254), null])
      expect(isObjectName(n), JSON.stringify(n)).toBe(false);
  });
});
