import { describe, expect, it } from 'vitest';
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
