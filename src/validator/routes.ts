import type { RouteConfig } from './config/types.ts';

// Route table: path patterns → the permission a request needs. First match wins, in file order.
// Pattern segments: a literal, `*` (exactly one non-empty segment) or a final `**` (the rest, possibly
// nothing). Paths are compared as they arrive, so a path the upstream could read differently than we do
// (dot segments, encoded slashes, dots or backslashes) is refused before matching: see isCanonicalPath.

export interface CompiledRoute {
  readonly path: string;
  readonly methods: ReadonlySet<string>;
  readonly permission: string;
  readonly re: RegExp;
}

export type RouteMatch = { matched: true; permission: string; route: CompiledRoute } | { matched: false };

/** Why a pattern is unusable, or undefined when it is fine. */
export function patternProblem(pattern: string): string | undefined {
  if (!pattern.startsWith('/')) return 'must start with /';
  if (/[?#]/.test(pattern)) return 'must not contain ? or # (query strings are not matched)';
  const segments = pattern.split('/').slice(1);
  for (const [i, s] of segments.entries()) {
    if (s === '**' && i !== segments.length - 1) return '** is allowed only as the last segment';
    if (s !== '*' && s !== '**' && s.includes('*')) return '* must be a whole segment (e.g. /v1/devices/*)';
    if (s === '.' || s === '..') return 'must not contain . or .. segments';
  }
  return undefined;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export function compilePattern(pattern: string): RegExp {
  const segments = pattern.split('/').slice(1);
  let re = '';
  for (const s of segments) {
    if (s === '**') re += '(?:/.*)?';
    else if (s === '*') re += '/[^/]+';
    else re += `/${escapeRegExp(s)}`;
  }
  // `/` alone splits into one empty segment: it matches exactly `/`.
  return new RegExp(`^${re === '/' ? '/' : re}$`);
}

export function compileRoutes(routes: readonly RouteConfig[]): CompiledRoute[] {
  return routes.map((r) => ({
    path: r.path,
    methods: new Set(r.methods.map((m) => m.toUpperCase())),
    permission: r.permission,
    re: compilePattern(r.path),
  }));
}

const methodMatches = (methods: ReadonlySet<string>, method: string) =>
  methods.size === 0 || methods.has('*') || methods.has(method) || (method === 'HEAD' && methods.has('GET'));

/** `path` without its query string. */
export function matchRoute(routes: readonly CompiledRoute[], method: string, path: string): RouteMatch {
  const m = method.toUpperCase();
  for (const route of routes) {
    if (methodMatches(route.methods, m) && route.re.test(path))
      return { matched: true, permission: route.permission, route };
  }
  return { matched: false };
}

/**
 * False for paths that servers normalise in different ways: `.`/`..` segments, encoded `/`, `.` or
 * `\`, raw backslashes, and control characters. Matching such a path could let `/public/../admin`
 * pass as `/public/**` and reach `/admin` upstream.
 */
export function isCanonicalPath(path: string): boolean {
  if (!path.startsWith('/')) return false;
  if (/%(?:2e|2f|5c)|\\/i.test(path) || hasControlCharacter(path)) return false;
  return !/(?:^|\/)\.{1,2}(?:\/|$)/.test(path);
}

function hasControlCharacter(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** Splits a request target into path and query. */
export function splitTarget(target: string): { path: string; query: string } {
  const q = target.indexOf('?');
  return q < 0 ? { path: target, query: '' } : { path: target.slice(0, q), query: target.slice(q + 1) };
}
