import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkPermissions,
  describeValue,
  hasPermission,
  normalizePermissions,
  PERMISSION_PATTERN,
  type PermissionCatalogue,
  parsePermission,
  permissionGrants,
} from '../../../src/rules/index.ts';

const arbName = fc.stringMatching(/^[a-z][a-z0-9_.-]{0,10}$/);

const catalogue: PermissionCatalogue = {
  permissions: [
    { name: 'sessions:create', publicSafe: true },
    { name: 'tickets:create', publicSafe: true },
    { name: 'devices:read' },
    { name: 'devices:write' },
    { name: 'catalog:*', publicSafe: true },
    { name: 'billing:read', publicSafe: false },
  ],
};

describe('parsePermission and PERMISSION_PATTERN', () => {
  it('accepts resource:action and resource:*', () => {
    const long = `a${'b'.repeat(62)}`;
    for (const p of [
      'devices:read',
      'devices:*',
      'a:b',
      'tickets.v2:create_all',
      'x-y:z-1',
      `${long}:${long}`,
    ]) {
      expect(parsePermission(p)).toMatchObject({ ok: true });
      expect(new RegExp(PERMISSION_PATTERN).test(p)).toBe(true);
    }
    expect(parsePermission('devices:*')).toEqual({
      ok: true,
      permission: { resource: 'devices', action: '*' },
    });
  });

  it('refuses everything else, saying what is wrong', () => {
    const cases: [string, RegExp][] = [
      ['devices', /exactly one colon/],
      ['devices.read', /exactly one colon/],
      ['a:b:c', /exactly one colon/],
      ['*:read', /resource cannot be a wildcard/],
      ['*:*', /resource cannot be a wildcard/],
      ['Devices:read', /resource must be/],
      ['1devices:read', /resource must be/],
      [`a${'b'.repeat(63)}:read`, /resource must be/],
      ['devices:Read', /action must be \* or/],
      ['devices:', /action must be/],
      ['devices:re*', /action must be/],
      ['devices:read ', /action must be/],
    ];
    for (const [p, why] of cases) {
      const r = parsePermission(p);
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.message).toMatch(why);
        expect(r.message.startsWith(`${describeValue(p)} is not a valid permission: `)).toBe(true);
      }
      expect(new RegExp(PERMISSION_PATTERN).test(p)).toBe(false);
    }
  });
});

describe('permissionGrants and hasPermission', () => {
  it('grants the same permission, and every action of a resource through its wildcard only', () => {
    fc.assert(
      fc.property(arbName, arbName, arbName, arbName, (r, s, a, b) => {
        expect(permissionGrants(`${r}:${a}`, `${r}:${a}`)).toBe(true);
        expect(permissionGrants(`${r}:*`, `${r}:${a}`)).toBe(true);
        expect(permissionGrants(`${r}:*`, `${r}:*`)).toBe(true);
        expect(permissionGrants(`${r}:${a}`, `${r}:*`)).toBe(false);
        expect(permissionGrants(`${r}:${a}`, `${r}:${b}`)).toBe(a === b);
        expect(permissionGrants(`${r}:*`, `${s}:${a}`)).toBe(r === s);
      }),
    );
  });

  it('never grants through malformed permissions', () => {
    expect(permissionGrants('*:*', 'devices:read')).toBe(false);
    expect(permissionGrants('devices:read', 'devices:read:extra')).toBe(false);
    expect(permissionGrants('Devices:*', 'Devices:read')).toBe(false);
    expect(hasPermission(['sessions:create', 'devices:*'], 'devices:delete')).toBe(true);
    expect(hasPermission(['sessions:create', 'devices:read'], 'devices:delete')).toBe(false);
    expect(hasPermission([], 'devices:read')).toBe(false);
  });
});

describe('normalizePermissions', () => {
  it('removes duplicates and sorts, keeping the same set', () => {
    expect(normalizePermissions(['b:x', 'a:y', 'b:x', 'a:*'])).toEqual(['a:*', 'a:y', 'b:x']);
    fc.assert(
      fc.property(fc.array(fc.constantFrom('a:b', 'a:*', 'B:c', 'c:d', 'a.b:c', 'a_b:c')), (list) => {
        const n = normalizePermissions(list);
        expect(new Set(n)).toEqual(new Set(list));
        expect(n.length).toBe(new Set(list).size);
        expect(normalizePermissions(n)).toEqual(n);
        for (let i = 1; i < n.length; i++) expect((n[i - 1] ?? '') < (n[i] ?? '')).toBe(true);
      }),
    );
  });
});

describe('checkPermissions', () => {
  it('lets a public key hold only public-safe permissions, naming index and value', () => {
    expect(
      checkPermissions(['sessions:create', 'tickets:create', 'devices:write'], 'public', catalogue),
    ).toEqual([
      'spec.permissions[2] "devices:write" is not public-safe: a public key may only hold permissions the ApiKeyPolicy marks publicSafe',
    ]);
    expect(checkPermissions(['billing:read'], 'public', catalogue)).toHaveLength(1);
    expect(
      checkPermissions(['sessions:create', 'devices:write', 'billing:read'], 'private', catalogue),
    ).toEqual([]);
  });

  it('counts a wildcard as public-safe only when that exact wildcard is marked publicSafe', () => {
    const c: PermissionCatalogue = {
      permissions: [
        { name: 'sessions:create', publicSafe: true },
        { name: 'sessions:read', publicSafe: true },
      ],
    };
    // Every sessions action listed today is public-safe, but sessions:* would also grant any added later.
    expect(checkPermissions(['sessions:*'], 'public', c)).toEqual([
      'spec.permissions[0] "sessions:*" is not public-safe: a public key may only hold permissions the ApiKeyPolicy marks publicSafe',
    ]);
    expect(checkPermissions(['catalog:*', 'catalog:read'], 'public', catalogue)).toEqual([]);
  });

  it('refuses permissions outside a strict catalogue', () => {
    const strict = { ...catalogue, strict: true };
    expect(checkPermissions(['devices:read', 'foo:bar'], 'private', strict)).toEqual([
      'spec.permissions[1] "foo:bar" is not in the ApiKeyPolicy catalogue',
    ]);
    // A wildcard over a resource the catalogue knows is fine; over an unknown resource it is not.
    expect(checkPermissions(['devices:*'], 'private', strict)).toEqual([]);
    expect(checkPermissions(['foo:*'], 'private', strict)).toEqual([
      'spec.permissions[0] "foo:*" is not in the ApiKeyPolicy catalogue',
    ]);
    expect(checkPermissions(['foo:bar'], 'private', catalogue)).toEqual([]);
  });

  it('without a catalogue: nothing is public-safe and nothing is unknown', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(arbName, arbName), { maxLength: 5 }), (pairs) => {
        const perms = pairs.map(([r, a]) => `${r}:${a}`);
        expect(checkPermissions(perms, 'private', undefined)).toEqual([]);
        expect(checkPermissions(perms, 'public', undefined)).toHaveLength(perms.length);
      }),
    );
  });

  it('reports malformed entries with their index', () => {
    expect(checkPermissions(['devices:read', '*:read'], 'private', undefined)).toEqual([
      'spec.permissions[1] "*:read" is not a valid permission: the resource cannot be a wildcard; only the action can (e.g. devices:*)',
    ]);
  });
});
