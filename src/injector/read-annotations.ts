import { POD_ANNOTATION_PREFIX, POD_ANNOTATIONS } from '../api/metadata.ts';
import {
  ENVIRONMENTS,
  type Environment,
  failed,
  ok,
  own,
  type Problem,
  parseSource,
  problem,
} from '../rules/index.ts';
import type { DeclaredPort, InjectionSettings, InjectRequest } from './annotations.ts';
import { CONFIGMAP_KEY_RE, type InjectorConfig, QUANTITY_RE, type ResourceRequirements } from './config.ts';

// Checks the keywarden.dev/* annotations of a pod, one checker per setting. Every problem is reported at
// once, each naming the annotation (its field), the value and what would be accepted.

const KNOWN = new Set<string>(Object.values(POD_ANNOTATIONS));
const DNS_LABEL_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const PORT_NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const IMAGE_RE = /^[^\s]+$/;

const show = (v: string) => JSON.stringify(v);

/** What every checker reads from: the trimmed annotation (own keys only) and where problems go. */
interface Reading {
  get(annotation: string): string | undefined;
  problem(annotation: string, message: string): void;
}

/**
 * Reads the keywarden.dev/* annotations of a pod. `inject: false` when the pod does not ask for the
 * sidecar (no annotation, or "false"); otherwise either the settings or every problem found.
 */
export function readAnnotations(
  annotations: Record<string, string>,
  namespace: string,
  ports: DeclaredPort[],
  config: InjectorConfig,
): InjectRequest {
  const raw = own(annotations, POD_ANNOTATIONS.inject);
  if (raw === undefined) return { inject: false };
  const flag = raw.trim().toLowerCase();
  if (flag === 'false') return { inject: false };
  if (flag !== 'true')
    return {
      inject: true,
      ...failed([problem(POD_ANNOTATIONS.inject, `must be "true" or "false", got ${show(raw)}`)]),
    };

  const problems: Problem[] = [];
  const r: Reading = {
    get: (k) => own(annotations, k)?.trim(),
    problem: (k, message) => problems.push(problem(k, message)),
  };
  unknownAnnotations(Object.keys(annotations), r);
  // In annotation order, so problems read top to bottom as the user wrote them.
  const environment = checkEnvironment(r);
  const { port, adminPort } = validatorPorts(r, ports, config);
  const upstreamPort = checkUpstreamPort(r, ports, [port, adminPort]);
  const routesConfigMap = checkRoutesConfigMap(r);
  const routesKey = checkRoutesKey(r, config);
  const keyNamespaces = checkKeyNamespaces(r, namespace);
  const trustedProxies = checkTrustedProxies(r, config);
  const unmappedRoutes = checkUnmappedRoutes(r, config);
  const jwtAudience = checkJwtAudience(r, namespace, config);
  const rest = {
    routesKey,
    port,
    adminPort,
    keyNamespaces,
    trustedProxies,
    unmappedRoutes,
    ...(jwtAudience ? { jwtAudience } : {}),
    image: checkImage(r, config),
    resources: checkResources(r, config),
  };
  if (problems.length > 0 || environment === undefined || upstreamPort === undefined || !routesConfigMap)
    return { inject: true, ...failed(problems) };
  const settings: InjectionSettings = { environment, upstreamPort, routesConfigMap, ...rest };
  return { inject: true, ...ok(settings) };
}

/** Levenshtein distance, for "did you mean" on misspelt annotation names. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j] as number;
      row[j] = Math.min(cur + 1, (row[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length] as number;
}

function suggest(name: string): string {
  let best: string | undefined;
  let bestD = Number.POSITIVE_INFINITY;
  for (const k of KNOWN) {
    const d = distance(name, k);
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best && bestD <= 4 ? `; did you mean ${best}?` : '';
}

function unknownAnnotations(names: string[], r: Reading): void {
  for (const name of names) {
    if (name.startsWith(POD_ANNOTATION_PREFIX) && !KNOWN.has(name))
      r.problem(name, `unknown keywarden annotation${suggest(name)}`);
  }
}

function required(r: Reading, k: string, what: string): string | undefined {
  const v = r.get(k);
  if (v === undefined || v === '') {
    r.problem(k, `is required: ${what}`);
    return undefined;
  }
  return v;
}

function parsePort(v: string): number | undefined {
  if (!/^[0-9]{1,5}$/.test(v.trim())) return undefined;
  const n = Number(v.trim());
  return n >= 1 && n <= 65535 ? n : undefined;
}

const splitList = (v: string) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);

function checkEnvironment(r: Reading): Environment | undefined {
  const env = required(r, POD_ANNOTATIONS.environment, `one of ${ENVIRONMENTS.join(', ')}`);
  if (env === undefined) return undefined;
  if ((ENVIRONMENTS as readonly string[]).includes(env)) return env as Environment;
  r.problem(POD_ANNOTATIONS.environment, `must be one of ${ENVIRONMENTS.join(', ')}, got ${show(env)}`);
  return undefined;
}

function validatorPorts(
  r: Reading,
  ports: DeclaredPort[],
  config: InjectorConfig,
): { port: number; adminPort: number } {
  const portAt = (k: string, fallback: number): number => {
    const v = r.get(k);
    if (v === undefined) return fallback;
    const p = parsePort(v);
    if (p === undefined) r.problem(k, `must be a port number from 1 to 65535, got ${show(v)}`);
    return p ?? fallback;
  };
  const port = portAt(POD_ANNOTATIONS.port, config.port);
  const adminPort = portAt(POD_ANNOTATIONS.adminPort, config.adminPort);
  if (port === adminPort)
    r.problem(
      POD_ANNOTATIONS.adminPort,
      `must differ from the validator port ${port} (${POD_ANNOTATIONS.port})`,
    );
  for (const [p, k] of [
    [port, POD_ANNOTATIONS.port],
    [adminPort, POD_ANNOTATIONS.adminPort],
  ] as const) {
    const clash = ports.find((d) => d.containerPort === p);
    if (clash)
      r.problem(
        k,
        `the validator would listen on ${p}, which container ${show(clash.container)} already declares; set ${k} to a free port`,
      );
  }
  return { port, adminPort };
}

function checkUpstreamPort(r: Reading, ports: DeclaredPort[], own: readonly number[]): number | undefined {
  const k = POD_ANNOTATIONS.upstreamPort;
  const up = required(r, k, "the app's port (a number, or a container port name)");
  if (up === undefined) return undefined;
  let upstreamPort = parsePort(up);
  if (upstreamPort === undefined && PORT_NAME_RE.test(up) && /[a-z]/.test(up)) {
    const named = ports.filter((d) => d.name === up);
    if (named.length === 1) upstreamPort = named[0]?.containerPort;
    else if (named.length === 0) r.problem(k, `no container of the pod declares a port named ${show(up)}`);
    else r.problem(k, `several containers declare a port named ${show(up)}`);
  } else if (upstreamPort === undefined) {
    r.problem(k, `must be a port number from 1 to 65535 or a container port name, got ${show(up)}`);
  }
  if (upstreamPort !== undefined && own.includes(upstreamPort))
    r.problem(k, `${upstreamPort} is the validator's own port; the upstream is the app's port`);
  return upstreamPort;
}

function checkRoutesConfigMap(r: Reading): string | undefined {
  const k = POD_ANNOTATIONS.routesConfigMap;
  const cm = required(r, k, 'the name of a ConfigMap in the pod namespace holding the routes');
  if (cm === undefined) return undefined;
  if (cm.length <= 253 && DNS_SUBDOMAIN_RE.test(cm)) return cm;
  r.problem(k, `${show(cm)} is not a valid ConfigMap name`);
  return undefined;
}

function checkRoutesKey(r: Reading, config: InjectorConfig): string {
  const rk = r.get(POD_ANNOTATIONS.routesKey);
  if (rk === undefined) return config.routesKey;
  if (CONFIGMAP_KEY_RE.test(rk)) return rk;
  r.problem(POD_ANNOTATIONS.routesKey, `${show(rk)} is not a ConfigMap key (letters, digits, -, _ and .)`);
  return config.routesKey;
}

function checkKeyNamespaces(r: Reading, namespace: string): string[] {
  const kn = r.get(POD_ANNOTATIONS.keyNamespaces);
  if (kn === undefined) return [namespace];
  const list = splitList(kn);
  if (list.length === 0) r.problem(POD_ANNOTATIONS.keyNamespaces, 'lists no namespace');
  for (const ns of list) {
    if (ns.length > 63 || !DNS_LABEL_RE.test(ns))
      r.problem(POD_ANNOTATIONS.keyNamespaces, `${show(ns)} is not a namespace name`);
  }
  return [...new Set(list)];
}

function checkTrustedProxies(r: Reading, config: InjectorConfig): string[] {
  const tp = r.get(POD_ANNOTATIONS.trustedProxies);
  if (tp === undefined) return config.trustedProxies;
  const list = splitList(tp);
  for (const s of list) {
    const p = parseSource(s);
    if (!p.ok) r.problem(POD_ANNOTATIONS.trustedProxies, p.message);
  }
  return list;
}

function checkUnmappedRoutes(r: Reading, config: InjectorConfig): 'deny' | 'allow' {
  const ur = r.get(POD_ANNOTATIONS.unmappedRoutes);
  if (ur === undefined) return config.unmappedRoutes;
  if (ur === 'deny' || ur === 'allow') return ur;
  r.problem(POD_ANNOTATIONS.unmappedRoutes, `must be "deny" or "allow", got ${show(ur)}`);
  return config.unmappedRoutes;
}

/**
 * The audience is bound to the namespace: a pod may name another one only from the cluster's
 * allow-list for its namespace, so no pod mints tokens another service would accept as its own.
 */
function checkJwtAudience(r: Reading, namespace: string, config: InjectorConfig): string | undefined {
  const k = POD_ANNOTATIONS.jwtAudience;
  const aud = r.get(k);
  const jwt = (config.validatorSettings.identity as { jwt?: unknown } | undefined)?.jwt;
  if (aud === undefined) return jwt ? namespace : undefined;
  // Own keys only: a namespace called `constructor` has no allow-list from Object.prototype.
  const allowed = own(config.jwtAudiences, namespace) ?? [];
  if (aud === '') r.problem(k, 'must not be empty');
  else if (!jwt)
    r.problem(
      k,
      "identity JWTs are not configured for injected validators (the chart's injection.validatorSettings.identity.jwt)",
    );
  else if (aud !== namespace && !allowed.includes(aud))
    r.problem(
      k,
      `${show(aud)} is not an audience pods in namespace ${namespace} may use ` +
        `(${allowed.length > 0 ? `allowed: ${[namespace, ...allowed].join(', ')}` : `only ${show(namespace)}`}; the chart's injection.jwt.audiences)`,
    );
  else return aud;
  return jwt ? namespace : undefined;
}

function checkImage(r: Reading, config: InjectorConfig): string {
  const img = r.get(POD_ANNOTATIONS.image);
  if (img === undefined) return config.image;
  if (!config.allowImageOverride)
    r.problem(POD_ANNOTATIONS.image, 'image overrides are turned off in this cluster');
  else if (img === '' || !IMAGE_RE.test(img))
    r.problem(POD_ANNOTATIONS.image, `${show(img)} is not an image reference`);
  else return img;
  return config.image;
}

function checkResources(r: Reading, config: InjectorConfig): ResourceRequirements {
  const resources: ResourceRequirements = {
    ...(config.resources.requests ? { requests: { ...config.resources.requests } } : {}),
    ...(config.resources.limits ? { limits: { ...config.resources.limits } } : {}),
  };
  for (const [k, section, resource] of [
    [POD_ANNOTATIONS.cpuRequest, 'requests', 'cpu'],
    [POD_ANNOTATIONS.memoryRequest, 'requests', 'memory'],
    [POD_ANNOTATIONS.cpuLimit, 'limits', 'cpu'],
    [POD_ANNOTATIONS.memoryLimit, 'limits', 'memory'],
  ] as const) {
    const v = r.get(k);
    if (v === undefined) continue;
    if (!QUANTITY_RE.test(v)) {
      r.problem(k, `${show(v)} is not a quantity such as ${resource === 'cpu' ? '100m' : '128Mi'}`);
      continue;
    }
    resources[section] = { ...resources[section], [resource]: v };
  }
  return resources;
}
