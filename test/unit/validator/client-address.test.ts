import { describe, expect, it } from 'vitest';
import { ClientAddressResolver } from '../../../src/validator/client-address.ts';

describe('client address and X-Forwarded-For', () => {
  const r = new ClientAddressResolver(['10.0.0.0/8', '2001:db8:1::/48']);

  it('ignores X-Forwarded-For from an untrusted peer (a client cannot spoof its address)', () => {
    expect(r.resolve('203.0.113.9', '10.1.1.1')).toBe('203.0.113.9');
    expect(r.resolve('::ffff:203.0.113.9', '10.1.1.1')).toBe('203.0.113.9');
  });

  it('takes the rightmost untrusted hop from a trusted proxy', () => {
    expect(r.resolve('10.0.0.2', '198.51.100.1, 203.0.113.5')).toBe('203.0.113.5');
    expect(r.resolve('10.0.0.2', '198.51.100.1, 203.0.113.5, 10.9.9.9')).toBe('203.0.113.5');
    expect(r.resolve('10.0.0.2', ['198.51.100.1', '203.0.113.5,10.3.3.3'])).toBe('203.0.113.5');
    expect(r.resolve('2001:db8:1::7', '2001:db8:2::1')).toBe('2001:db8:2::1');
  });

  it('reads ports and brackets in hops, and normalises IPv4-mapped addresses', () => {
    expect(r.resolve('10.0.0.2', '203.0.113.5:4711')).toBe('203.0.113.5');
    expect(r.resolve('10.0.0.2', '[2001:db8:9::1]:443')).toBe('2001:db8:9::1');
    expect(r.resolve('10.0.0.2', '::ffff:203.0.113.5')).toBe('203.0.113.5');
  });

  it('falls back to the leftmost hop when all are trusted, and to the peer without a header', () => {
    expect(r.resolve('10.0.0.2', '10.5.5.5, 10.6.6.6')).toBe('10.5.5.5');
    expect(r.resolve('10.0.0.2', undefined)).toBe('10.0.0.2');
  });

  it('gives no address when the chain holds garbage (no allowlist then matches)', () => {
    expect(r.resolve('10.0.0.2', 'unknown, 203.0.113.5')).toBe('203.0.113.5');
    expect(r.resolve('10.0.0.2', '203.0.113.5, garbage')).toBeUndefined();
    expect(r.resolve('10.0.0.2', '')).toBeUndefined();
    expect(r.resolve(undefined, '1.2.3.4')).toBeUndefined();
  });

  it('trusts no one when no proxies are configured', () => {
    const none = new ClientAddressResolver([]);
    expect(none.resolve('10.0.0.2', '203.0.113.5')).toBe('10.0.0.2');
    expect(none.isTrusted('10.0.0.2')).toBe(false);
  });

  it('builds the X-Forwarded-For to send upstream', () => {
    expect(r.forwardedFor('203.0.113.9', '1.1.1.1')).toBe('203.0.113.9');
    expect(r.forwardedFor('10.0.0.2', '1.1.1.1')).toBe('1.1.1.1, 10.0.0.2');
    expect(r.forwardedFor('10.0.0.2', undefined)).toBe('10.0.0.2');
  });
});
