import type { KeyType } from './key.ts';
import { describeValue } from './redact.ts';

// Permissions are `resource:action`. `*` is allowed as the action only: `devices:*` grants every devices
// action; there is no resource wildcard, so no single string grants everything.

const NAME = '[a-z][a-z0-9_.-]{0,62}';

/** Regex source shared with the CRD's CEL rule. */
export const PERMISSION_PATTERN = `^${NAME}:(${NAME}|\\*)$`;

const PERMISSION_RE = new RegExp(PERMISSION_PATTERN);
const NAME_RE = new RegExp(`^${NAME}$`);

export interface Permission {
  resource: string;
  /** An action name, or `*` for every action of the resource. */
  action: string;
}

export type PermissionResult = { ok: true; permission: Permission } | { ok: false; message: string };

export function parsePermission(s: unknown): PermissionResult {
  if (typeof s === 'string' && PERMISSION_RE.test(s)) {
    const i = s.indexOf(':');
    return { ok: true, permission: { resource: s.slice(0, i), action: s.slice(i + 1) } };
  }
  return { ok: false, message: `${describeValue(s)} is not a valid permission: ${permissionProblem(s)}` };
}

/**
 * The permission a route requires: one concrete `resource:action`. A wildcard is refused: `devices:*`
 * as a requirement would pass only keys holding that exact wildcard, never one holding `devices:read`,
 * which is not what anyone writing it means.
 */
export function parseRequiredPermission(s: unknown): PermissionResult {
  const p = parsePermission(s);
  if (p.ok && p.permission.action !== '*') return p;
  return {
    ok: false,
    message: `${describeValue(s)} is not a permission: write one resource:action in lower case, e.g. devices:read (no wildcard: a route needs one concrete permission)`,
  };
}

function permissionProblem(s: unknown): string {
  const rule = 'a lowercase letter, then up to 62 of a-z, 0-9, _ . -';
  if (typeof s !== 'string') return 'expected a string such as devices:read';
  const parts = s.split(':');
  if (parts.length !== 2) return 'expected exactly one colon, as in resource:action (e.g. devices:read)';
  const [resource = ''] = parts;
  if (resource === '*') return 'the resource cannot be a wildcard; only the action can (e.g. devices:*)';
  if (!NAME_RE.test(resource)) return `the resource must be ${rule}`;
  return `the action must be * or ${rule}`;
}

// Permissions come from a small set (the routes' and the keys' own), checked on every request: each
// string is parsed once. The memo is emptied when it grows large, so hostile input cannot fill it.
const parsed = new Map<string, PermissionResult>();
function parsedPermission(s: string): PermissionResult {
  let r = parsed.get(s);
  if (r === undefined) {
    if (parsed.size >= 10_000) parsed.clear();
    r = parsePermission(s);
    parsed.set(s, r);
  }
  return r;
}

/** Whether holding `granted` allows `required`: the same string, or `resource:*` for any action of it. */
export function permissionGrants(granted: string, required: string): boolean {
  const g = parsedPermission(granted);
  const r = parsedPermission(required);
  if (!g.ok || !r.ok) return false;
  if (g.permission.resource !== r.permission.resource) return false;
  return g.permission.action === '*' || g.permission.action === r.permission.action;
}

export function hasPermission(granted: readonly string[], required: string): boolean {
  return granted.some((g) => permissionGrants(g, required));
}

/** Duplicates removed, sorted by code unit (locale-independent). */
export function normalizePermissions(list: readonly string[]): string[] {
  return [...new Set(list)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The ApiKeyPolicy permission catalogue. */
export interface PermissionCatalogue {
  permissions: { name: string; publicSafe?: boolean; description?: string }[];
  /** Refuse permissions the catalogue does not list. */
  strict?: boolean;
}

/**
 * Policy violations of `perms` for a key of `keyType`, one message per offending entry, naming its
 * index and value. Rules:
 * - every entry must be a valid permission;
 * - with a strict catalogue, every entry must be listed (a wildcard also counts as listed when the
 *   catalogue lists some action of its resource);
 * - on a public key, every entry must be granted by a catalogue entry marked publicSafe. A wildcard is
 *   therefore public-safe only if that exact wildcard is marked publicSafe: otherwise it would also grant
 *   actions added to the catalogue later, public-safe or not.
 * Without a catalogue nothing is public-safe and nothing is unknown.
 */
export function checkPermissions(
  perms: readonly string[],
  keyType: KeyType,
  catalogue: PermissionCatalogue | undefined,
  field = 'spec.permissions',
): string[] {
  const entries = catalogue?.permissions ?? [];
  const listed = new Set(entries.map((e) => e.name));
  const listedResources = new Set(
    entries.flatMap((e) => {
      const p = parsePermission(e.name);
      return p.ok ? [p.permission.resource] : [];
    }),
  );
  const publicSafe = entries.filter((e) => e.publicSafe === true).map((e) => e.name);
  const violations: string[] = [];
  perms.forEach((perm, i) => {
    const at = `${field}[${i}]`;
    const parsed = parsePermission(perm);
    if (!parsed.ok) {
      violations.push(`${at} ${parsed.message}`);
      return;
    }
    const { resource, action } = parsed.permission;
    if (
      catalogue?.strict === true &&
      !listed.has(perm) &&
      !(action === '*' && listedResources.has(resource))
    ) {
      violations.push(`${at} ${describeValue(perm)} is not in the ApiKeyPolicy catalogue`);
      return;
    }
    if (keyType === 'public' && !hasPermission(publicSafe, perm)) {
      violations.push(
        `${at} ${describeValue(perm)} is not public-safe: a public key may only hold permissions the ApiKeyPolicy marks publicSafe`,
      );
    }
  });
  return violations;
}
