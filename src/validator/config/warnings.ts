import type { ParsedSource } from '../../rules/index.ts';
import type { RouteConfig, UnmappedRoutes } from './types.ts';

// Configurations that are valid but re-open a hole: `keywarden validator --check` lists them (exit 1)
// and the validator logs them at start. Pure: the caller attaches lines and fields.

/** The narrowest ranges still believed to be "our proxies" rather than "the pod network". */
const PROXY_RANGE_LIMIT = { ipv4: 24, ipv6: 64 } as const;

/** Why trusting `source` as a proxy is risky, or undefined. */
export function trustedProxyWarning(text: string, source: ParsedSource): string | undefined {
  const limit = PROXY_RANGE_LIMIT[source.kind];
  if (source.prefix >= limit) return undefined;
  const bits = (source.kind === 'ipv4' ? 32 : 128) - source.prefix;
  const count = bits <= 32 ? (2 ** bits).toLocaleString('en') : `2^${bits}`;
  return (
    `${text} trusts ${count} addresses as proxies: any of them can claim any client address in ` +
    `X-Forwarded-For (and so pass a key's allowedSources); list only your proxies' own addresses, ` +
    `at most a /${PROXY_RANGE_LIMIT.ipv4} (IPv4) or /${PROXY_RANGE_LIMIT.ipv6} (IPv6)`
  );
}

/** Without the controller's record keys a validator believes any hash Secret in its namespaces. */
export const UNSIGNED_RECORDS_WARNING =
  'keyStore.recordKeys is not set: hash records are believed without a signature, so anyone who can write a Secret in a watched namespace can forge a key or block one (set it to the ConfigMap keywarden-record-keys in the operator namespace)';

export interface RouteWarning {
  index: number;
  message: string;
}

const segments = (pattern: string) => pattern.split('/').slice(1);
const anyMethod = (methods: readonly string[]) => methods.length === 0 || methods.includes('*');

/** True when every path pattern `b` matches is matched by pattern `a` (segments: literal, `*`, final `**`). */
export function patternCovers(a: readonly string[], b: readonly string[]): boolean {
  const [x, ...restA] = a;
  const [y, ...restB] = b;
  if (x === undefined) return y === undefined;
  if (x === '**') return true;
  if (y === undefined || y === '**') return false;
  if (x === '*') return y !== '' && patternCovers(restA, restB);
  return x === y && patternCovers(restA, restB);
}

/**
 * Routes that an earlier route always matches first (first match wins), and, with
 * `unmappedRoutes: allow`, routes whose other methods or deeper paths fall to "any valid key".
 */
export function routeWarnings(routes: readonly RouteConfig[], unmapped: UnmappedRoutes): RouteWarning[] {
  const out: RouteWarning[] = [];
  routes.forEach((route, j) => {
    const mine = segments(route.path);
    for (let i = 0; i < j; i++) {
      const earlier = routes[i] as RouteConfig;
      if (!patternCovers(segments(earlier.path), mine)) continue;
      const shadowed = anyMethod(earlier.methods)
        ? undefined
        : anyMethod(route.methods)
          ? earlier.methods
          : route.methods.filter((m) => earlier.methods.includes(m));
      if (shadowed?.length === 0) continue;
      const which =
        shadowed === undefined || shadowed.length === route.methods.length ? '' : `${shadowed.join(', ')} `;
      out.push({
        index: j,
        message: `${which}requests never reach this route: routes[${i}] (${earlier.path}) matches them first (first match wins); put the narrower route first`,
      });
      break;
    }
    if (unmapped !== 'allow') return;
    if (!anyMethod(route.methods))
      out.push({
        index: j,
        message: `with unmappedRoutes: allow, methods other than ${route.methods.join(', ')} on ${route.path} match no route and pass with any valid key; add routes for them or use unmappedRoutes: deny`,
      });
    if (mine.at(-1) !== '**')
      out.push({
        index: j,
        message: `with unmappedRoutes: allow, paths below ${route.path} match no route and pass with any valid key; end the pattern in /** to cover them, or use unmappedRoutes: deny`,
      });
  });
  return out.sort((a, b) => a.index - b.index);
}
