import { HASH_SECRET_SELECTOR } from '../../api/metadata.ts';
import { type AuditSettings, checkAuditSettings } from '../../audit/options.ts';
import {
  type FieldPath,
  type Place,
  type Problem,
  parseDuration,
  parseRequiredPermission,
  parseSource,
} from '../../rules/index.ts';
import { patternProblem, routeCollisions } from '../routes.ts';
import type { RouteConfig, SigningKeySource, ValidatorConfig } from './types.ts';
import { routeWarnings, trustedProxyWarning, UNSIGNED_RECORDS_WARNING } from './warnings.ts';

// One checker per section of the configuration file. They run even when the schema failed, so one run
// reports every problem; each looks only at values of the right type (a wrong type is the schema's).

export const DEFAULT_SIGNING_KEY_FIELD = 'signing-key.pem';

/** The file as written, before defaults (its shape is the schema's, and not yet checked). */
export interface RawConfig {
  environment: ValidatorConfig['environment'];
  server?: {
    host?: string;
    port?: number;
    adminPort?: number;
    internalPort?: number;
    internalHost?: string;
    shutdownTimeout?: string;
  };
  keyStore?: Partial<ValidatorConfig['keyStore']>;
  trustedProxies?: string[];
  routes?: { path: string; methods?: string[]; permission: string }[];
  unmappedRoutes?: 'deny' | 'allow';
  upstream?: { url: string; timeout?: string };
  forwardAuth?: { enabled?: boolean };
  verifyApi?: { enabled?: boolean };
  identity?: {
    jwt?: {
      issuer?: string;
      audience?: string;
      ttl?: string;
      algorithm?: 'EdDSA' | 'ES256';
      signingKey: { secret?: { namespace: string; name: string; key?: string }; file?: string };
    };
  };
  lastUsed?: { enabled?: boolean; interval?: string };
  metrics?: { perKey?: { enabled?: boolean; maxKeys?: number } };
  audit?: AuditSettings;
}

/** Where a checker reports: a problem makes the file invalid; a warning is valid but risky (warnings.ts). */
export interface Report {
  problem(path: FieldPath, message: string): void;
  /** Problems a shared checker already placed (audit settings). */
  add(...problems: Problem[]): void;
  warn(path: FieldPath, message: string): void;
  place: Place;
}

/** The checked values of the sections that need more than a default. */
export interface Sections {
  routes: RouteConfig[];
  upstream: ValidatorConfig['upstream'];
  jwt: ValidatorConfig['identity']['jwt'];
  shutdownTimeoutMs: number;
  lastUsedMs: number;
}

const list = <T>(v: T[] | undefined): T[] => (Array.isArray(v) ? v : []);

export function checkSections(c: RawConfig, report: Report): Sections {
  checkTrustedProxies(c, report);
  const sections: Sections = {
    routes: checkRoutes(c, report),
    upstream: checkUpstream(c, report),
    jwt: checkJwt(c, report),
    shutdownTimeoutMs: durationAt(report, ['server', 'shutdownTimeout'], c.server?.shutdownTimeout, {
      fallback: 20_000,
      min: 0,
      max: 600_000,
    }),
    lastUsedMs: durationAt(report, ['lastUsed', 'interval'], c.lastUsed?.interval, {
      fallback: 60_000,
      min: 1000,
      max: 86_400_000,
    }),
  };
  if (c.audit) {
    const audit = checkAuditSettings(c.audit, 'config-check', (path, message, key) =>
      report.place(['audit', ...path], message, key),
    );
    if (!audit.ok) report.add(...audit.problems);
  }
  return sections;
}

function durationAt(
  report: Report,
  path: FieldPath,
  value: string | undefined,
  range: { fallback: number; min: number; max: number },
): number {
  if (typeof value !== 'string') return range.fallback;
  const d = parseDuration(value);
  if (!d.ok) {
    report.problem(path, d.message);
    return range.fallback;
  }
  if (d.ms < range.min || d.ms > range.max)
    report.problem(path, `must be between ${range.min / 1000}s and ${range.max / 1000}s`);
  return d.ms;
}

function checkTrustedProxies(c: RawConfig, report: Report): void {
  for (const [i, s] of list(c.trustedProxies).entries()) {
    if (typeof s !== 'string') continue;
    const r = parseSource(s);
    if (!r.ok) report.problem(['trustedProxies', i], r.message);
    else {
      const w = trustedProxyWarning(s, r.source);
      if (w) report.warn(['trustedProxies', i], w);
    }
  }
}

function checkRoutes(c: RawConfig, report: Report): RouteConfig[] {
  const routes: RouteConfig[] = [];
  /** routes[k] is routes[routeAt[k]] of the file. */
  const routeAt: number[] = [];
  for (const [i, r] of list(c.routes).entries()) {
    if (typeof r !== 'object' || r === null) continue;
    routeAt.push(i);
    const why = typeof r.path === 'string' ? patternProblem(r.path) : undefined;
    if (why) report.problem(['routes', i, 'path'], `pattern ${JSON.stringify(r.path)} ${why}`);
    if (typeof r.permission === 'string') {
      const p = parseRequiredPermission(r.permission);
      if (!p.ok) report.problem(['routes', i, 'permission'], p.message);
    }
    routes.push({
      path: r.path,
      methods: list(r.methods).map((m) => String(m).toUpperCase()),
      permission: r.permission,
    });
  }
  for (const [a, b] of routeCollisions(routes)) {
    const [i, j] = [routeAt[a] as number, routeAt[b] as number];
    report.problem(
      ['routes', j, 'path'],
      `differs from routes[${i}] only in letter case or a trailing slash but needs another permission; upstreams that ignore those (Express) run one handler for both, so every request to either would be refused`,
    );
  }
  return routes;
}

function checkUpstream(c: RawConfig, report: Report): ValidatorConfig['upstream'] {
  if (!c.upstream || typeof c.upstream.url !== 'string') return undefined;
  const url = URL.canParse(c.upstream.url) ? new URL(c.upstream.url) : undefined;
  if (!url || !['http:', 'https:'].includes(url.protocol) || url.search || url.hash || url.username) {
    report.problem(
      ['upstream', 'url'],
      'must be an http(s) URL without query, fragment or credentials, e.g. http://127.0.0.1:3000',
    );
  }
  return {
    url: c.upstream.url,
    timeoutMs: durationAt(report, ['upstream', 'timeout'], c.upstream.timeout, {
      fallback: 60_000,
      min: 1000,
      max: 3_600_000,
    }),
  };
}

function checkJwt(c: RawConfig, report: Report): ValidatorConfig['identity']['jwt'] {
  const j = c.identity?.jwt;
  if (!j || typeof j !== 'object') return undefined;
  const sk = j.signingKey ?? {};
  const signingKey: SigningKeySource = sk.secret
    ? {
        secret: {
          namespace: sk.secret.namespace,
          name: sk.secret.name,
          key: sk.secret.key ?? DEFAULT_SIGNING_KEY_FIELD,
        },
      }
    : { file: sk.file ?? '' };
  return {
    issuer: j.issuer ?? 'keywarden-validator',
    audience: j.audience,
    ttlMs: durationAt(report, ['identity', 'jwt', 'ttl'], j.ttl, {
      fallback: 60_000,
      min: 1000,
      max: 3_600_000,
    }),
    algorithm: j.algorithm,
    signingKey,
  };
}

/** Valid settings that re-open a hole; looked at only once the file has no problem. */
export function sectionWarnings(c: RawConfig, s: Sections, report: Report): void {
  for (const w of routeWarnings(s.routes, c.unmappedRoutes ?? 'deny'))
    report.warn(['routes', w.index], w.message);
  if (!c.keyStore?.recordKeys) report.warn(c.keyStore ? ['keyStore'] : [], UNSIGNED_RECORDS_WARNING);
  if (s.upstream && c.server?.internalPort === undefined) {
    for (const door of ['forwardAuth', 'verifyApi'] as const) {
      if (c[door]?.enabled === true)
        report.warn(
          [door, 'enabled'],
          'with upstream set, this door is served only on server.internalPort (never on the public port), and server.internalPort is not set: it is served nowhere',
        );
    }
  }
}

/** The checked file with every default filled in. */
export function buildConfig(c: RawConfig, s: Sections): ValidatorConfig {
  return {
    environment: c.environment,
    server: {
      host: c.server?.host ?? '0.0.0.0',
      port: c.server?.port ?? 8080,
      adminPort: c.server?.adminPort ?? 9090,
      ...(c.server?.internalPort !== undefined ? { internalPort: c.server.internalPort } : {}),
      internalHost: c.server?.internalHost ?? '127.0.0.1',
      shutdownTimeoutMs: s.shutdownTimeoutMs,
    },
    keyStore: {
      namespaces: c.keyStore?.namespaces ?? [],
      labelSelector: c.keyStore?.labelSelector ?? HASH_SECRET_SELECTOR,
      ...(c.keyStore?.recordKeys ? { recordKeys: c.keyStore.recordKeys } : {}),
    },
    trustedProxies: c.trustedProxies ?? [],
    routes: s.routes,
    unmappedRoutes: c.unmappedRoutes ?? 'deny',
    upstream: s.upstream,
    forwardAuth: { enabled: c.forwardAuth?.enabled ?? true },
    verifyApi: { enabled: c.verifyApi?.enabled ?? true },
    identity: { jwt: s.jwt },
    lastUsed: { enabled: c.lastUsed?.enabled ?? true, intervalMs: s.lastUsedMs },
    metrics: {
      perKey: { enabled: c.metrics?.perKey?.enabled ?? false, maxKeys: c.metrics?.perKey?.maxKeys ?? 100 },
    },
    ...(c.audit ? { audit: c.audit } : {}),
  };
}
