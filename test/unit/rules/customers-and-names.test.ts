import { describe, expect, it } from 'vitest';
import { isCustomer, isObjectName } from '../../../src/rules/index.ts';

describe('isCustomer', () => {
  it('accepts what the CRD accepts', () => {
    for (const c of ['acme', 'a', '0', 'acme-eu.1_x', 'a'.repeat(63)]) expect(isCustomer(c), c).toBe(true);
  });
  it('refuses line breaks, control characters and whatever else the CRD refuses', () => {
    for (const c of [
      '',
      'a\r\nX-Injected: 1',
      'a\nb',
      'a\u0000b',
      'a\tb',
      'Acme',
      '-a',
      'a.',
      'a,b',
      'a'.repeat(64),
      1,
    ])
      expect(isCustomer(c), JSON.stringify(c)).toBe(false);
  });
});

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
