import { requestPathProblem } from '../rules/index.ts';
import type { RouteConfig } from './config/types.ts';

// Route table: path patterns → the permission a request needs. First match wins, in file order.
// Pattern segments: a literal, `*` (exactly one non-empty segment) or a final `**` (the rest, possibly
// nothing). A request path must first be canonical (src/rules/request-path.ts); then it is matched as
// it arrived, and also as an upstream that ignores letter case and/or a trailing slash reads it
// (Express 5 ignores both, Spring a trailing slash, ASP.NET case, Go's ServeMux neither). When those
// readings need different permissions the request is refused: which one the upstream takes decides
// which handler runs, and we cannot know it.

export interface CompiledRoute {
  readonly path: string;
  readonly methods: ReadonlySet<string>;
  readonly permission: string;
  readonly re: RegExp;
  /** The same pattern read the other ways an upstream may: [case-insensitive, slash-insensitive, both]. */
  readonly readings: readonly [RegExp, RegExp, RegExp];
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
  // A literal no canonical request could spell would never match: the same rules as request paths.
  const problem = requestPathProblem(pattern);
  return problem ? `is not a canonical path: ${problem.replace(/^the path /, '')}` : undefined;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function patternSource(pattern: string): string {
  const segments = pattern.split('/').slice(1);
  let re = '';
  for (const s of segments) {
    if (s === '**') re += '(?:/.*)?';
    else if (s === '*') re += '/[^/]+';
    else re += `/${escapeRegExp(s)}`;
  }
  // `/` alone splits into one empty segment: it matches exactly `/`.
  return re === '/' ? '/' : re;
}

function compilePattern(pattern: string): RegExp {
  return new RegExp(`^${patternSource(pattern)}$`);
}

/** The pattern with and without one trailing slash (a `**` pattern covers both already). */
function slashInsensitiveSource(pattern: string): string {
  const src = patternSource(pattern);
  if (src === '/' || src.endsWith('(?:/.*)?')) return src;
  return `${src.endsWith('/') ? src.slice(0, -1) : src}/?`;
}

export function compileRoutes(routes: readonly RouteConfig[]): CompiledRoute[] {
  return routes.map((r) => {
    const loose = slashInsensitiveSource(r.path);
    return {
      path: r.path,
      methods: new Set(r.methods.map((m) => m.toUpperCase())),
      permission: r.permission,
      re: compilePattern(r.path),
      readings: [
        new RegExp(`^${patternSource(r.path)}$`, 'i'),
        new RegExp(`^${loose}$`),
        new RegExp(`^${loose}$`, 'i'),
      ],
    };
  });
}

const methodMatches = (methods: ReadonlySet<string>, method: string) =>
  methods.size === 0 || methods.has('*') || methods.has(method) || (method === 'HEAD' && methods.has('GET'));

/** -1: the pattern as written; 0-2: route.readings[i]. An index, not a callback: this runs per request. */
type Reading = -1 | 0 | 1 | 2;

function firstMatch(
  routes: readonly CompiledRoute[],
  method: string,
  path: string,
  reading: Reading,
): CompiledRoute | undefined {
  for (let i = 0; i < routes.length; i++) {
    const route = routes[i] as CompiledRoute;
    if (!methodMatches(route.methods, method)) continue;
    if ((reading < 0 ? route.re : route.readings[reading as 0 | 1 | 2]).test(path)) return route;
  }
  return undefined;
}

/** The match of each route, made once (routes are compiled once; a match is only read). */
const matches = new WeakMap<CompiledRoute, RouteMatch>();
const UNMATCHED: RouteMatch = Object.freeze({ matched: false });
function matchOf(route: CompiledRoute | undefined): RouteMatch {
  if (!route) return UNMATCHED;
  let m = matches.get(route);
  if (!m) {
    m = Object.freeze({ matched: true, permission: route.permission, route });
    matches.set(route, m);
  }
  return m;
}

/** `path` without its query string, matched exactly as it is written. */
export function matchRoute(routes: readonly CompiledRoute[], method: string, path: string): RouteMatch {
  return matchOf(firstMatch(routes, method.toUpperCase(), path, -1));
}

/**
 * The route for a canonical path, or a problem when an upstream that ignores letter case or a
 * trailing slash would need another permission for it (or none, or one where we need none).
 */
export function resolveRoute(
  routes: readonly CompiledRoute[],
  method: string,
  path: string,
): RouteMatch | { problem: string } {
  const m = method.toUpperCase();
  const exact = matchRoute(routes, m, path);
  const need = exact.matched ? exact.permission : undefined;
  for (let n = 0; n < READINGS.length; n++) {
    const i = READINGS[n] as (typeof READINGS)[number];
    const other = firstMatch(routes, m, path, i);
    if (other?.permission !== need) {
      return {
        problem: `the path needs another permission when ${READING_NAMES[i]} is ignored, as some upstreams (Express) do: send it exactly as the route ${JSON.stringify((other ?? (exact.matched ? exact.route : undefined))?.path)} is written`,
      };
    }
  }
  return exact;
}

/**
 * Pairs of routes [earlier, later], written differently, that are one pattern when letter case and a
 * trailing slash are ignored but need different permissions: every request to either would be refused.
 */
export function routeCollisions(routes: readonly RouteConfig[]): [number, number][] {
  const key = (p: string) => (p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p).toLowerCase();
  const out: [number, number][] = [];
  routes.forEach((a, i) => {
    for (let j = i + 1; j < routes.length; j++) {
      const b = routes[j] as RouteConfig;
      if (typeof a.path !== 'string' || typeof b.path !== 'string') continue;
      const overlap =
        a.methods.length === 0 ||
        b.methods.length === 0 ||
        a.methods.some((m) => m === '*' || b.methods.includes(m) || b.methods.includes('*'));
      const differ = a.path !== b.path && key(a.path) === key(b.path);
      if (differ && a.permission !== b.permission && overlap) out.push([i, j]);
    }
  });
  return out;
}

const READINGS = [0, 1, 2] as const;
const READING_NAMES = ['letter case', 'a trailing slash', 'letter case or a trailing slash'] as const;

/** Splits a request target into path and query. */
export function splitTarget(target: string): { path: string; query: string } {
  const q = target.indexOf('?');
  return q < 0 ? { path: target, query: '' } : { path: target.slice(0, q), query: target.slice(q + 1) };
}
