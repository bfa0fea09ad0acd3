import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject } from 'ajv';
import { isMap, isNode, LineCounter, type Node, parseDocument } from 'yaml';
import { type AuditSettings, parseAuditSettings } from '../../audit/options.ts';
import { PERMISSION_PATTERN, parseDuration, parseSource } from '../../rules/index.ts';
import { patternProblem, routeCollisions } from '../routes.ts';
import { CONFIG_SCHEMA } from './schema.ts';
import type { ConfigProblem, RouteConfig, SigningKeySource, ValidatorConfig } from './types.ts';
import { routeWarnings, trustedProxyWarning, UNSIGNED_RECORDS_WARNING } from './warnings.ts';

// Reads the YAML file with the `yaml` document API so every problem can name its line and field:
// syntax errors come from the parser, shape errors from the JSON schema (ajv), and the rest (CIDRs,
// durations, permissions, path patterns, URLs) from the checks below. All problems are reported at
// once, in file order.

/** `warnings`: valid, but re-opens a hole (see warnings.ts); `--check` lists them and exits 1. */
export type ConfigResult =
  | { ok: true; config: ValidatorConfig; warnings: ConfigProblem[] }
  | { ok: false; problems: ConfigProblem[] };

type Path = (string | number)[];

const validate = new Ajv({ allErrors: true, strict: true, verbose: true }).compile(CONFIG_SCHEMA);
const PERMISSION_RE = new RegExp(PERMISSION_PATTERN);
export const DEFAULT_LABEL_SELECTOR = 'keywarden.dev/component=key-hash';
export const DEFAULT_SIGNING_KEY_FIELD = 'signing-key.pem';

/** `routes[2].permission` */
export function fieldName(path: Path): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

export function formatProblem(file: string, p: ConfigProblem): string {
  const where = p.line > 0 ? `${file}:${p.line}:${p.column}` : file;
  return `${where}: ${p.field ? `${p.field}: ` : ''}${p.message}`;
}

export function loadConfigFile(file: string): ConfigResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return {
      ok: false,
      problems: [
        { line: 0, column: 0, field: '', message: `cannot read the file: ${(err as Error).message}` },
      ],
    };
  }
  return parseConfig(text);
}

export function parseConfig(text: string): ConfigResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const problems: ConfigProblem[] = [];
  const at = (offset: number | undefined, field: string, message: string) => {
    const pos = offset === undefined ? { line: 0, col: 0 } : lineCounter.linePos(offset);
    problems.push({ line: pos.line, column: pos.col, field, message });
  };
  /** The node at `path`, or the nearest existing parent, for its position. */
  const offsetOf = (path: Path, key = false): number | undefined => {
    for (let n = path.length; n >= 0; n--) {
      const parent = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
      if (key && n === path.length && n > 0) {
        const map = doc.getIn(path.slice(0, -1), true);
        const last = path[path.length - 1];
        if (isMap(map)) {
          const pair = map.items.find((p) => isNode(p.key) && (p.key as { value?: unknown }).value === last);
          if (pair && isNode(pair.key)) return (pair.key as Node).range?.[0];
        }
      }
      if (isNode(parent)) return (parent as Node).range?.[0];
    }
    return undefined;
  };

  for (const e of [...doc.errors, ...doc.warnings]) at(e.pos[0], '', e.message.split('\n')[0] ?? e.message);
  if (doc.errors.length > 0) return { ok: false, problems };
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // An unresolved alias or an alias bomb: a problem to report, never a crash.
    return {
      ok: false,
      problems: [
        {
          line: 0,
          column: 0,
          field: '',
          message: `the YAML document cannot be read: ${(err as Error).message.split('\n')[0] ?? 'unreadable YAML'}`,
        },
      ],
    };
  }
  if (raw === null || raw === undefined) {
    return {
      ok: false,
      problems: [
        { line: 0, column: 0, field: '', message: 'the file is empty; at least `environment` is required' },
      ],
    };
  }

  if (!validate(raw)) {
    for (const e of validate.errors ?? []) {
      const path = pointerToPath(e.instancePath);
      const { path: p, message, key } = describeSchemaError(e, path);
      at(offsetOf(p, key), fieldName(p), message);
    }
  }

  // The checks below also run when the schema failed, so one run reports every problem; each one
  // looks only at values of the right type (a wrong type was reported above).
  const c = raw as unknown as RawConfig;
  const list = <T>(v: T[] | undefined): T[] => (Array.isArray(v) ? v : []);
  const durationAt = (
    path: Path,
    value: string | undefined,
    fallbackMs: number,
    minMs: number,
    maxMs: number,
  ): number => {
    if (typeof value !== 'string') return fallbackMs;
    const d = parseDuration(value);
    if (!d.ok) {
      at(offsetOf(path), fieldName(path), d.message);
      return fallbackMs;
    }
    if (d.ms < minMs || d.ms > maxMs)
      at(offsetOf(path), fieldName(path), `must be between ${minMs / 1000}s and ${maxMs / 1000}s`);
    return d.ms;
  };

  const warnings: ConfigProblem[] = [];
  const warn = (path: Path, message: string) => {
    const offset = offsetOf(path);
    const pos = offset === undefined ? { line: 0, col: 0 } : lineCounter.linePos(offset);
    warnings.push({ line: pos.line, column: pos.col, field: fieldName(path), message });
  };
  for (const [i, s] of list(c.trustedProxies).entries()) {
    if (typeof s !== 'string') continue;
    const r = parseSource(s);
    if (!r.ok) at(offsetOf(['trustedProxies', i]), fieldName(['trustedProxies', i]), r.message);
    else {
      const w = trustedProxyWarning(s, r.source);
      if (w) warn(['trustedProxies', i], w);
    }
  }
  const routes: RouteConfig[] = [];
  /** routes[k] is routes[routeAt[k]] of the file. */
  const routeAt: number[] = [];
  for (const [i, r] of list(c.routes).entries()) {
    if (typeof r !== 'object' || r === null) continue;
    routeAt.push(i);
    const why = typeof r.path === 'string' ? patternProblem(r.path) : undefined;
    if (why)
      at(
        offsetOf(['routes', i, 'path']),
        fieldName(['routes', i, 'path']),
        `pattern ${JSON.stringify(r.path)} ${why}`,
      );
    if (
      typeof r.permission === 'string' &&
      (!PERMISSION_RE.test(r.permission) || r.permission.includes('*'))
    ) {
      at(
        offsetOf(['routes', i, 'permission']),
        fieldName(['routes', i, 'permission']),
        `${JSON.stringify(r.permission)} is not a permission: write one resource:action in lower case, e.g. devices:read (no wildcard: a route needs one concrete permission)`,
      );
    }
    routes.push({
      path: r.path,
      methods: list(r.methods).map((m) => String(m).toUpperCase()),
      permission: r.permission,
    });
  }
  for (const [a, b] of routeCollisions(routes)) {
    const [i, j] = [routeAt[a] as number, routeAt[b] as number];
    at(
      offsetOf(['routes', j, 'path']),
      fieldName(['routes', j, 'path']),
      `differs from routes[${i}] only in letter case or a trailing slash but needs another permission; upstreams that ignore those (Express) run one handler for both, so every request to either would be refused`,
    );
  }
  let upstream: ValidatorConfig['upstream'];
  if (c.upstream && typeof c.upstream.url === 'string') {
    const url = URL.canParse(c.upstream.url) ? new URL(c.upstream.url) : undefined;
    if (!url || !['http:', 'https:'].includes(url.protocol) || url.search || url.hash || url.username) {
      at(
        offsetOf(['upstream', 'url']),
        'upstream.url',
        'must be an http(s) URL without query, fragment or credentials, e.g. http://127.0.0.1:3000',
      );
    }
    upstream = {
      url: c.upstream.url,
      timeoutMs: durationAt(['upstream', 'timeout'], c.upstream.timeout, 60_000, 1000, 3_600_000),
    };
  }
  let jwt: ValidatorConfig['identity']['jwt'];
  const j = c.identity?.jwt;
  if (j && typeof j === 'object') {
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
    jwt = {
      issuer: j.issuer ?? 'keywarden-validator',
      audience: j.audience,
      ttlMs: durationAt(['identity', 'jwt', 'ttl'], j.ttl, 60_000, 1000, 3_600_000),
      algorithm: j.algorithm,
      signingKey,
    };
  }
  const shutdownTimeoutMs = durationAt(
    ['server', 'shutdownTimeout'],
    c.server?.shutdownTimeout,
    20_000,
    0,
    600_000,
  );
  const lastUsedMs = durationAt(['lastUsed', 'interval'], c.lastUsed?.interval, 60_000, 1000, 86_400_000);
  if (c.audit) {
    try {
      parseAuditSettings(c.audit, 'config-check');
    } catch (err) {
      at(offsetOf(['audit']), 'audit', (err as Error).message);
    }
  }
  if (problems.length > 0) return { ok: false, problems: sortProblems(problems) };
  for (const w of routeWarnings(routes, c.unmappedRoutes ?? 'deny')) warn(['routes', w.index], w.message);
  if (!c.keyStore?.recordKeys) warn(c.keyStore ? ['keyStore'] : [], UNSIGNED_RECORDS_WARNING);
  if (upstream && c.server?.internalPort === undefined) {
    for (const door of ['forwardAuth', 'verifyApi'] as const) {
      if (c[door]?.enabled === true)
        warn(
          [door, 'enabled'],
          'with upstream set, this door is served only on server.internalPort (never on the public port), and server.internalPort is not set: it is served nowhere',
        );
    }
  }
  const config: ValidatorConfig = {
    environment: c.environment,
    server: {
      host: c.server?.host ?? '0.0.0.0',
      port: c.server?.port ?? 8080,
      adminPort: c.server?.adminPort ?? 9090,
      ...(c.server?.internalPort !== undefined ? { internalPort: c.server.internalPort } : {}),
      internalHost: c.server?.internalHost ?? '127.0.0.1',
      shutdownTimeoutMs,
    },
    keyStore: {
      namespaces: c.keyStore?.namespaces ?? [],
      labelSelector: c.keyStore?.labelSelector ?? DEFAULT_LABEL_SELECTOR,
      ...(c.keyStore?.recordKeys ? { recordKeys: c.keyStore.recordKeys } : {}),
    },
    trustedProxies: c.trustedProxies ?? [],
    routes,
    unmappedRoutes: c.unmappedRoutes ?? 'deny',
    upstream,
    forwardAuth: { enabled: c.forwardAuth?.enabled ?? true },
    verifyApi: { enabled: c.verifyApi?.enabled ?? true },
    identity: { jwt },
    lastUsed: {
      enabled: c.lastUsed?.enabled ?? true,
      intervalMs: lastUsedMs,
    },
    metrics: {
      perKey: { enabled: c.metrics?.perKey?.enabled ?? false, maxKeys: c.metrics?.perKey?.maxKeys ?? 100 },
    },
    ...(c.audit ? { audit: c.audit } : {}),
  };
  return { ok: true, config, warnings: sortProblems(warnings) };
}

interface RawConfig {
  environment: ValidatorConfig['environment'];
  server?: {
    host?: string;
    port?: number;
    adminPort?: number;
    internalPort?: number;
    internalHost?: string;
    shutdownTimeout?: string;
  };
  keyStore?: ValidatorConfig['keyStore'] extends infer K ? Partial<K> : never;
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

function pointerToPath(pointer: string): Path {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^(0|[1-9][0-9]*)$/.test(s) ? Number(s) : s));
}

/** Turns an ajv error into a field path and a sentence a person can act on. */
function describeSchemaError(e: ErrorObject, path: Path): { path: Path; message: string; key: boolean } {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const known = Object.keys(
        ((e.parentSchema as { properties?: object } | undefined)?.properties ?? {}) as object,
      );
      return {
        path: [...path, String(p.additionalProperty)],
        message: `unknown field${known.length ? `; known fields here: ${known.join(', ')}` : ''}`,
        key: true,
      };
    }
    case 'required':
      return { path: [...path, String(p.missingProperty)], message: 'is required', key: false };
    case 'enum':
      return { path, message: `must be one of: ${(p.allowedValues as unknown[]).join(', ')}`, key: false };
    case 'type':
      return { path, message: `must be ${article(String(p.type))}`, key: false };
    case 'minProperties':
    case 'maxProperties':
      return { path, message: 'must set exactly one of: secret, file', key: false };
    default:
      return { path, message: e.message ?? 'is invalid', key: false };
  }
}

const article = (type: string) =>
  type === 'integer' || type === 'array' || type === 'object' ? `an ${type}` : `a ${type}`;

function sortProblems(problems: ConfigProblem[]): ConfigProblem[] {
  return problems.sort((a, b) => a.line - b.line || a.column - b.column);
}
