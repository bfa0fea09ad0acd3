import { ENVIRONMENTS, type Environment, parseSource } from '../rules/index.ts';
import { CONFIGMAP_KEY_RE, type InjectorConfig, QUANTITY_RE, type ResourceRequirements } from './config.ts';

// The pod annotations that ask for a validator sidecar and configure it, in the style of Vault's agent
// injector (`vault.hashicorp.com/agent-inject: "true"`). Every problem is reported at once, each naming
// the annotation, the value and what would be accepted.

export const PREFIX = 'keywarden.dev/';

export const ANNOTATIONS = {
  /** "true" asks for the sidecar. */
  inject: 'keywarden.dev/inject',
  /** Written by the injector: "injected". A pod carrying it is never injected again. */
  status: 'keywarden.dev/status',
  /** Required: production | staging | development, the one environment this validator serves. */
  environment: 'keywarden.dev/environment',
  /** Required: the app's port (number or container port name); allowed requests go to 127.0.0.1:PORT. */
  upstreamPort: 'keywarden.dev/upstream-port',
  /** Required: the ConfigMap (in the pod's namespace) holding the routes. */
  routesConfigMap: 'keywarden.dev/routes-configmap',
  /** The key in that ConfigMap (default: routes.yaml). */
  routesKey: 'keywarden.dev/routes-key',
  /** The validator's port, which the Service should target (default 8180). */
  port: 'keywarden.dev/port',
  /** The /healthz, /readyz and /metrics port (default 9180). */
  adminPort: 'keywarden.dev/admin-port',
  /** Comma-separated namespaces whose keys are accepted (default: the pod's namespace). */
  keyNamespaces: 'keywarden.dev/key-namespaces',
  /** Comma-separated addresses/CIDRs whose X-Forwarded-For is believed. */
  trustedProxies: 'keywarden.dev/trusted-proxies',
  /** deny | allow: requests that no route matches. */
  unmappedRoutes: 'keywarden.dev/unmapped-routes',
  /** Audience of the signed identity JWT: the namespace, or one the injector's jwtAudiences allows for it. */
  jwtAudience: 'keywarden.dev/jwt-audience',
  /** Another keywarden image for this pod. */
  image: 'keywarden.dev/image',
  cpuRequest: 'keywarden.dev/cpu-request',
  memoryRequest: 'keywarden.dev/memory-request',
  cpuLimit: 'keywarden.dev/cpu-limit',
  memoryLimit: 'keywarden.dev/memory-limit',
} as const;

/** The label the injector puts on injected pods (for `kubectl get pods -l` and the PodMonitor). */
export const INJECTED_LABEL = 'keywarden.dev/sidecar';
export const INJECTED_LABEL_VALUE = 'validator';
export const STATUS_INJECTED = 'injected';

const KNOWN = new Set<string>(Object.values(ANNOTATIONS));

/** What the annotations ask for, after checking and defaulting. */
export interface InjectionSettings {
  environment: Environment;
  upstreamPort: number;
  routesConfigMap: string;
  routesKey: string;
  port: number;
  adminPort: number;
  keyNamespaces: string[];
  trustedProxies: string[];
  unmappedRoutes: 'deny' | 'allow';
  jwtAudience?: string;
  image: string;
  resources: ResourceRequirements;
}

export type InjectRequest =
  | { inject: false }
  | { inject: true; settings: InjectionSettings }
  | { inject: true; problems: string[] };

/** A container port the app declares: for conflicts and for `upstream-port: http`. */
export interface DeclaredPort {
  container: string;
  name?: string;
  containerPort: number;
}

const DNS_LABEL_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const PORT_NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const IMAGE_RE = /^[^\s]+$/;

const show = (v: string) => JSON.stringify(v);

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
  const raw = annotations[ANNOTATIONS.inject];
  if (raw === undefined) return { inject: false };
  const flag = raw.trim().toLowerCase();
  if (flag === 'false') return { inject: false };
  const problems: string[] = [];
  if (flag !== 'true') {
    problems.push(`${ANNOTATIONS.inject}: must be "true" or "false", got ${show(raw)}`);
    return { inject: true, problems };
  }

  for (const name of Object.keys(annotations)) {
    if (name.startsWith(PREFIX) && !KNOWN.has(name)) {
      problems.push(`${name}: unknown keywarden annotation${suggest(name)}`);
    }
  }
  const get = (k: string): string | undefined => {
    const v = annotations[k];
    return v === undefined ? undefined : v.trim();
  };
  const required = (k: string, what: string): string | undefined => {
    const v = get(k);
    if (v === undefined || v === '') {
      problems.push(`${k}: is required: ${what}`);
      return undefined;
    }
    return v;
  };

  // environment
  let environment: Environment | undefined;
  const env = required(ANNOTATIONS.environment, `one of ${ENVIRONMENTS.join(', ')}`);
  if (env !== undefined) {
    if ((ENVIRONMENTS as readonly string[]).includes(env)) environment = env as Environment;
    else
      problems.push(
        `${ANNOTATIONS.environment}: must be one of ${ENVIRONMENTS.join(', ')}, got ${show(env)}`,
      );
  }

  // validator ports
  const portAt = (k: string, fallback: number): number => {
    const v = get(k);
    if (v === undefined) return fallback;
    const p = parsePort(v);
    if (p === undefined) {
      problems.push(`${k}: must be a port number from 1 to 65535, got ${show(v)}`);
      return fallback;
    }
    return p;
  };
  const port = portAt(ANNOTATIONS.port, config.port);
  const adminPort = portAt(ANNOTATIONS.adminPort, config.adminPort);
  if (port === adminPort)
    problems.push(
      `${ANNOTATIONS.adminPort}: must differ from the validator port ${port} (${ANNOTATIONS.port})`,
    );
  for (const [p, k] of [
    [port, ANNOTATIONS.port],
    [adminPort, ANNOTATIONS.adminPort],
  ] as const) {
    const clash = ports.find((d) => d.containerPort === p);
    if (clash) {
      problems.push(
        `${k}: the validator would listen on ${p}, which container ${show(clash.container)} already declares; set ${k} to a free port`,
      );
    }
  }

  // upstream
  let upstreamPort: number | undefined;
  const up = required(ANNOTATIONS.upstreamPort, "the app's port (a number, or a container port name)");
  if (up !== undefined) {
    const n = parsePort(up);
    if (n !== undefined) upstreamPort = n;
    else if (PORT_NAME_RE.test(up) && /[a-z]/.test(up)) {
      const named = ports.filter((d) => d.name === up);
      if (named.length === 1) upstreamPort = named[0]?.containerPort;
      else if (named.length === 0)
        problems.push(
          `${ANNOTATIONS.upstreamPort}: no container of the pod declares a port named ${show(up)}`,
        );
      else problems.push(`${ANNOTATIONS.upstreamPort}: several containers declare a port named ${show(up)}`);
    } else {
      problems.push(
        `${ANNOTATIONS.upstreamPort}: must be a port number from 1 to 65535 or a container port name, got ${show(up)}`,
      );
    }
    if (upstreamPort !== undefined && (upstreamPort === port || upstreamPort === adminPort)) {
      problems.push(
        `${ANNOTATIONS.upstreamPort}: ${upstreamPort} is the validator's own port; the upstream is the app's port`,
      );
    }
  }

  // routes
  let routesConfigMap: string | undefined;
  const cm = required(
    ANNOTATIONS.routesConfigMap,
    'the name of a ConfigMap in the pod namespace holding the routes',
  );
  if (cm !== undefined) {
    if (cm.length <= 253 && DNS_SUBDOMAIN_RE.test(cm)) routesConfigMap = cm;
    else problems.push(`${ANNOTATIONS.routesConfigMap}: ${show(cm)} is not a valid ConfigMap name`);
  }
  let routesKey = config.routesKey;
  const rk = get(ANNOTATIONS.routesKey);
  if (rk !== undefined) {
    if (CONFIGMAP_KEY_RE.test(rk)) routesKey = rk;
    else
      problems.push(
        `${ANNOTATIONS.routesKey}: ${show(rk)} is not a ConfigMap key (letters, digits, -, _ and .)`,
      );
  }

  // key namespaces
  let keyNamespaces = [namespace];
  const kn = get(ANNOTATIONS.keyNamespaces);
  if (kn !== undefined) {
    const list = splitList(kn);
    if (list.length === 0) problems.push(`${ANNOTATIONS.keyNamespaces}: lists no namespace`);
    for (const ns of list) {
      if (ns.length > 63 || !DNS_LABEL_RE.test(ns))
        problems.push(`${ANNOTATIONS.keyNamespaces}: ${show(ns)} is not a namespace name`);
    }
    keyNamespaces = [...new Set(list)];
  }

  // trusted proxies
  let trustedProxies = config.trustedProxies;
  const tp = get(ANNOTATIONS.trustedProxies);
  if (tp !== undefined) {
    trustedProxies = splitList(tp);
    for (const s of trustedProxies) {
      const r = parseSource(s);
      if (!r.ok) problems.push(`${ANNOTATIONS.trustedProxies}: ${r.message}`);
    }
  }

  let unmappedRoutes = config.unmappedRoutes;
  const ur = get(ANNOTATIONS.unmappedRoutes);
  if (ur !== undefined) {
    if (ur === 'deny' || ur === 'allow') unmappedRoutes = ur;
    else problems.push(`${ANNOTATIONS.unmappedRoutes}: must be "deny" or "allow", got ${show(ur)}`);
  }

  // The audience is bound to the namespace: a pod may name another one only from the cluster's
  // allow-list for its namespace, so no pod mints tokens another service would accept as its own.
  const aud = get(ANNOTATIONS.jwtAudience);
  const jwt = (config.validatorSettings.identity as { jwt?: unknown } | undefined)?.jwt;
  let jwtAudience: string | undefined = jwt ? namespace : undefined;
  if (aud !== undefined) {
    const allowed = config.jwtAudiences[namespace] ?? [];
    if (aud === '') problems.push(`${ANNOTATIONS.jwtAudience}: must not be empty`);
    else if (!jwt)
      problems.push(
        `${ANNOTATIONS.jwtAudience}: identity JWTs are not configured for injected validators (the chart's injection.validatorSettings.identity.jwt)`,
      );
    else if (aud !== namespace && !allowed.includes(aud))
      problems.push(
        `${ANNOTATIONS.jwtAudience}: ${show(aud)} is not an audience pods in namespace ${namespace} may use ` +
          `(${allowed.length > 0 ? `allowed: ${[namespace, ...allowed].join(', ')}` : `only ${show(namespace)}`}; the chart's injection.jwt.audiences)`,
      );
    else jwtAudience = aud;
  }

  let image = config.image;
  const img = get(ANNOTATIONS.image);
  if (img !== undefined) {
    if (!config.allowImageOverride)
      problems.push(`${ANNOTATIONS.image}: image overrides are turned off in this cluster`);
    else if (img === '' || !IMAGE_RE.test(img))
      problems.push(`${ANNOTATIONS.image}: ${show(img)} is not an image reference`);
    else image = img;
  }

  const resources: ResourceRequirements = {
    ...(config.resources.requests ? { requests: { ...config.resources.requests } } : {}),
    ...(config.resources.limits ? { limits: { ...config.resources.limits } } : {}),
  };
  for (const [k, section, resource] of [
    [ANNOTATIONS.cpuRequest, 'requests', 'cpu'],
    [ANNOTATIONS.memoryRequest, 'requests', 'memory'],
    [ANNOTATIONS.cpuLimit, 'limits', 'cpu'],
    [ANNOTATIONS.memoryLimit, 'limits', 'memory'],
  ] as const) {
    const v = get(k);
    if (v === undefined) continue;
    if (!QUANTITY_RE.test(v)) {
      problems.push(`${k}: ${show(v)} is not a quantity such as ${resource === 'cpu' ? '100m' : '128Mi'}`);
      continue;
    }
    resources[section] = { ...resources[section], [resource]: v };
  }

  if (problems.length > 0 || environment === undefined || upstreamPort === undefined || !routesConfigMap)
    return { inject: true, problems };
  return {
    inject: true,
    settings: {
      environment,
      upstreamPort,
      routesConfigMap,
      routesKey,
      port,
      adminPort,
      keyNamespaces,
      trustedProxies,
      unmappedRoutes,
      ...(jwtAudience ? { jwtAudience } : {}),
      image,
      resources,
    },
  };
}
