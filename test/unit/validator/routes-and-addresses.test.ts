import { describe, expect, it } from 'vitest';
import { ClientAddressResolver } from '../../../src/validator/client-address.ts';
import {
  compileRoutes,
  matchRoute,
  patternProblem,
  resolveRoute,
  routeCollisions,
} from '../../../src/validator/routes.ts';

describe('routes', () => {
  const routes = compileRoutes([
    { path: '/v1/devices/*', methods: ['GET'], permission: 'devices:read' },
    { path: '/v1/devices/**', methods: ['POST', 'DELETE'], permission: 'devices:write' },
    { path: '/v1/tickets', methods: [], permission: 'tickets:create' },
    { path: '/', methods: ['GET'], permission: 'home:read' },
  ]);
  const perm = (method: string, path: string) => {
    const m = matchRoute(routes, method, path);
    return m.matched ? m.permission : undefined;
  };

  it('matches one segment with *, the rest with a final **, first match wins, methods filter', () => {
    expect(perm('GET', '/v1/devices/42')).toBe('devices:read');
    expect(perm('HEAD', '/v1/devices/42')).toBe('devices:read');
    expect(perm('GET', '/v1/devices/42/logs')).toBeUndefined();
    expect(perm('GET', '/v1/devices/')).toBeUndefined();
    expect(perm('DELETE', '/v1/devices/42/logs')).toBe('devices:write');
    expect(perm('POST', '/v1/devices')).toBe('devices:write');
    expect(perm('PATCH', '/v1/tickets')).toBe('tickets:create');
    expect(perm('GET', '/v1/ticketsX')).toBeUndefined();
    expect(perm('GET', '/')).toBe('home:read');
    expect(perm('GET', '/v1')).toBeUndefined();
  });

  it('treats pattern characters literally', () => {
    const r = compileRoutes([{ path: '/a.b/(c)', methods: [], permission: 'a:b' }]);
    expect(matchRoute(r, 'GET', '/a.b/(c)').matched).toBe(true);
    expect(matchRoute(r, 'GET', '/aXb/(c)').matched).toBe(false);
  });

  it('explains bad patterns', () => {
    expect(patternProblem('v1')).toMatch(/start with/);
    expect(patternProblem('/a/**/b')).toMatch(/last segment/);
    expect(patternProblem('/a/b*')).toMatch(/whole segment/);
    expect(patternProblem('/a/../b')).toMatch(/\.\./);
    expect(patternProblem('/a?x=1')).toMatch(/query/);
    expect(patternProblem('/a/*/b/**')).toBeUndefined();
  });

  it('refuses non-canonical patterns with the same rules as request paths', () => {
    expect(patternProblem('/v1/%61dmin')).toMatch(/canonical.*send a/);
    expect(patternProblem('/v1//admin')).toMatch(/empty segment/);
    expect(patternProblem('/v1/admin;x')).toMatch(/;/);
    expect(patternProblem('/v1/things:batchGet')).toBeUndefined();
  });
});

describe('one reading whatever the upstream ignores (letter case, a trailing slash)', () => {
  const routes = compileRoutes([
    { path: '/v1/admin/users', methods: [], permission: 'admin:manage' },
    { path: '/v1/files', methods: [], permission: 'files:list' },
    { path: '/v1/files/**', methods: [], permission: 'files:read' },
    { path: '/v1/devices/*', methods: [], permission: 'devices:read' },
    { path: '/v1/**', methods: [], permission: 'data:read' },
  ]);
  const resolve = (path: string) => {
    const r = resolveRoute(routes, 'GET', path);
    return 'problem' in r ? 'refused' : r.matched ? r.permission : 'unmapped';
  };

  it('serves paths written as their route is', () => {
    expect(resolve('/v1/admin/users')).toBe('admin:manage');
    expect(resolve('/v1/files')).toBe('files:list');
    expect(resolve('/v1/files/a/b')).toBe('files:read');
    expect(resolve('/v1/devices/AbC123')).toBe('devices:read'); // case inside a wildcard is data
    expect(resolve('/v1/other/')).toBe('data:read'); // same permission with or without the slash
    expect(resolve('/healthz')).toBe('unmapped');
  });

  it('refuses a path whose route changes when case or a trailing slash is ignored', () => {
    for (const p of [
      '/v1/ADMIN/users',
      '/v1/Admin/Users',
      '/V1/admin/users',
      '/v1/admin/users/',
      '/v1/files/',
      '/v1/devices/42/',
      '/V1/other',
    ])
      expect(resolve(p), p).toBe('refused');
    const r = resolveRoute(routes, 'GET', '/v1/ADMIN/users');
    expect('problem' in r && r.problem).toMatch(/letter case.*"\/v1\/admin\/users"/);
  });

  it('finds routes that collide when case and a trailing slash are ignored', () => {
    expect(
      routeCollisions([
        { path: '/v1/Admin', methods: [], permission: 'a:b' },
        { path: '/v1/admin/', methods: ['GET'], permission: 'c:d' },
        { path: '/v1/ADMIN', methods: [], permission: 'a:b' },
        { path: '/v1/admin', methods: ['POST'], permission: 'e:f' },
      ]),
    ).toEqual([
      [0, 1],
      [0, 3],
      [1, 2],
      [2, 3],
    ]);
  });
});

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
