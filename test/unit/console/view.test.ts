import { describe, expect, it } from 'vitest';
import { CONTENT_SECURITY_POLICY, isLoopback } from '../../../src/console/security.ts';
import type { ConsoleKey } from '../../../src/console/view.ts';
import {
  fieldOfRefusal,
  filtersFromParams,
  filtersToParams,
  matchesFilters,
  permissionsSummary,
} from '../../../src/console/view.ts';

const NOW = new Date('2026-06-01T00:00:00Z');
const key = (over: Partial<ConsoleKey['spec']> = {}, status: ConsoleKey['status'] = {}): ConsoleKey => ({
  metadata: { name: 'web', namespace: 'shop' },
  spec: { environment: 'staging', ...over },
  status: { state: 'Active', keyId: 'AbCdEfGhIjKl', keyHint: 'kwsk_stg_AbCdEfGhIjKl_…x8Qz', ...status },
});

describe('console filters', () => {
  it('round-trip through the URL and ignore what is not a filter', () => {
    const f = { environment: 'staging', state: 'Active', expiringWithinDays: 7, q: 'web app' };
    const params = filtersToParams(f, new URLSearchParams('key=shop/web'));
    expect(params.get('key')).toBe('shop/web');
    expect(filtersFromParams(params)).toEqual(f);
    expect(filtersFromParams(new URLSearchParams('expiring=-3&env='))).toEqual({});
  });

  it('match environment, type, state, namespace, customer, expiry window and the CLI search', () => {
    const k = key({ customers: ['acme'], allowedSources: ['10.0.0.0/8'], expiresAt: '2026-06-05T00:00:00Z' });
    expect(
      matchesFilters(k, { environment: 'staging', type: 'private', state: 'Active', namespace: 'shop' }, NOW),
    ).toBe(true);
    expect(matchesFilters(k, { environment: 'production' }, NOW)).toBe(false);
    expect(matchesFilters(k, { customer: 'acme' }, NOW)).toBe(true);
    expect(matchesFilters(k, { customer: 'globex' }, NOW)).toBe(false);
    expect(matchesFilters(k, { expiringWithinDays: 7 }, NOW)).toBe(true);
    expect(matchesFilters(k, { expiringWithinDays: 3 }, NOW)).toBe(false);
    expect(matchesFilters(k, { q: '10.0.0' }, NOW)).toBe(true);
    expect(matchesFilters(k, { q: 'abcdefghijkl' }, NOW)).toBe(true);
    expect(matchesFilters(k, { q: 'nothing' }, NOW)).toBe(false);
  });
});

describe('console display', () => {
  it('summarises permissions', () => {
    expect(permissionsSummary([])).toBe('none');
    expect(permissionsSummary(['a:b', 'c:d', 'e:f', 'g:h'])).toBe('a:b, c:d +2');
  });

  it('finds the field a webhook refusal names, so the page shows it by that field', () => {
    expect(
      fieldOfRefusal(
        'admission webhook "validate.keywarden.dev" denied the request: spec.expiresAt 2028-12-01T00:00:00Z is more than one year ahead',
      ),
    ).toBe('spec.expiresAt');
    expect(fieldOfRefusal('ApiKey "x" is invalid', [{ field: 'spec.allowedSources[0]' }])).toBe(
      'spec.allowedSources',
    );
    expect(fieldOfRefusal('apikeys is forbidden: User "u" cannot create resource')).toBeUndefined();
  });
});

describe('console front door', () => {
  it('treats only loopback as loopback', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) expect(isLoopback(h)).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.1', 'example.com', '::ffff:10.0.0.1'])
      expect(isLoopback(h)).toBe(false);
  });

  it('has a CSP without inline script or eval', () => {
    expect(CONTENT_SECURITY_POLICY).toContain("script-src 'self'");
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/unsafe-(inline|eval)/);
  });
});
