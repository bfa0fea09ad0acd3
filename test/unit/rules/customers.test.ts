import { describe, expect, it } from 'vitest';
import { isCustomer } from '../../../src/rules/index.ts';

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
