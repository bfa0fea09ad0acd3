import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { parseSource } from '../rules/index.ts';

// The injector's own settings: cluster-wide defaults for every injected validator. The Helm chart
// renders them into a ConfigMap (`injection.*` values) that the webhook reads with
// `--injector-config`; pod annotations override some of them per pod (see annotations.ts).

export type PullPolicy = 'Always' | 'IfNotPresent' | 'Never';
export type UnmappedRoutes = 'deny' | 'allow';

export interface ResourceRequirements {
  requests?: { cpu?: string; memory?: string };
  limits?: { cpu?: string; memory?: string };
}

export interface InjectorConfig {
  /** The keywarden image (the same one the controller and webhook run). */
  image: string;
  imagePullPolicy: PullPolicy;
  /** Command of the init container that writes the validator's configuration file. */
  composeCommand: string[];
  /** Validator ports inside the pod: the proxy/forward-auth port and the /healthz, /readyz, /metrics port. */
  port: number;
  adminPort: number;
  /** Loopback port for forward auth and the verify API (the sidecar is a reverse proxy); undefined: off. */
  internalPort?: number;
  /** Key in the routes ConfigMap holding the routes (overridable per pod). */
  routesKey: string;
  resources: ResourceRequirements;
  trustedProxies: string[];
  unmappedRoutes: UnmappedRoutes;
  /** Further validator settings merged into every generated configuration (e.g. identity.jwt, lastUsed). */
  validatorSettings: Record<string, unknown>;
  /** Whether `keywarden.dev/image` may replace the image for one pod. */
  allowImageOverride: boolean;
  logLevel: string;
  /**
   * The ConfigMap with the controller's record signing public keys (the chart: keywarden-record-keys in
   * the release namespace). Injected validators then believe only hash records the controller signed.
   */
  recordKeys?: { namespace: string; name: string };
  /**
   * The sidecar's own API credentials: a Secret of this name in the pod's namespace (the chart makes a
   * kubernetes.io/service-account-token Secret of the keywarden-validator ServiceAccount), mounted into
   * the sidecar only. The pod's own ServiceAccount, which the app container shares, gets nothing.
   */
  credentialsSecret: string;
  /** Identity JWTs (when validatorSettings.identity.jwt is set): the per-namespace signing key Secret. */
  jwtSigningKeySecret: { name: string; key: string };
  /** Audiences `keywarden.dev/jwt-audience` may name, per namespace; without it the audience is the namespace. */
  jwtAudiences: Record<string, string[]>;
  /** Namespaces whose pods may be injected (where the credentials exist); empty: every namespace. */
  namespaces: string[];
}

export const INJECTOR_DEFAULTS: Omit<InjectorConfig, 'image'> = {
  imagePullPolicy: 'IfNotPresent',
  composeCommand: ['node', '/app/src/injector/compose-main.ts'],
  port: 8180,
  adminPort: 9180,
  routesKey: 'routes.yaml',
  resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } },
  trustedProxies: [],
  unmappedRoutes: 'deny',
  validatorSettings: {},
  allowImageOverride: true,
  logLevel: 'info',
  credentialsSecret: 'keywarden-validator-token',
  jwtSigningKeySecret: { name: 'keywarden-validator-jwt', key: 'signing-key.pem' },
  jwtAudiences: {},
  namespaces: [],
};

/**
 * Fields of validatorSettings.identity.jwt the injector sets itself: the key is a file from a Secret in
 * the pod's namespace (no API access to any signing key), the audience is bound to the namespace.
 */
export const RESERVED_JWT_SETTINGS = {
  signingKey:
    "is set by the injector: the Secret injection.jwt.signingKeySecret in the pod's namespace, mounted into the sidecar only",
  audience:
    "is set by the injector: the pod's namespace, or keywarden.dev/jwt-audience when injection.jwt.audiences allows it",
} as const;

/** Settings the injector writes itself; `validatorSettings` may not set them. */
export const RESERVED_VALIDATOR_SETTINGS = [
  'environment',
  'server',
  'keyStore',
  'upstream',
  'routes',
  'unmappedRoutes',
  'trustedProxies',
] as const;

/** A Kubernetes resource quantity, e.g. 100m, 64Mi, 1.5, 2e3. */
export const QUANTITY_RE = /^[+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+|[numkMGTPE]|[KMGTPE]i)?$/;
/** A ConfigMap key: letters, digits, `-`, `_`, `.`. */
export const CONFIGMAP_KEY_RE = /^[-._a-zA-Z0-9]{1,253}$/;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export type InjectorConfigResult = { ok: true; config: InjectorConfig } | { ok: false; problems: string[] };

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const DNS_SUBDOMAIN_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const isSecretName = (v: unknown): v is string =>
  typeof v === 'string' && v.length <= 253 && DNS_SUBDOMAIN_RE.test(v);
const isNamespace = (v: unknown): v is string =>
  typeof v === 'string' && v.length <= 63 && DNS_LABEL_RE.test(v);

function isPort(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535;
}

function checkResources(v: unknown, field: string, problems: string[]): ResourceRequirements | undefined {
  if (!isObject(v)) {
    problems.push(`${field}: must be an object with requests and/or limits`);
    return undefined;
  }
  const out: ResourceRequirements = {};
  for (const [k, section] of Object.entries(v)) {
    if (k !== 'requests' && k !== 'limits') {
      problems.push(`${field}.${k}: unknown field; known fields here: requests, limits`);
      continue;
    }
    if (!isObject(section)) {
      problems.push(`${field}.${k}: must be an object with cpu and/or memory`);
      continue;
    }
    const s: { cpu?: string; memory?: string } = {};
    for (const [r, q] of Object.entries(section)) {
      if (r !== 'cpu' && r !== 'memory') {
        problems.push(`${field}.${k}.${r}: unknown resource; known: cpu, memory`);
      } else if (typeof q !== 'string' || !QUANTITY_RE.test(q)) {
        problems.push(`${field}.${k}.${r}: ${JSON.stringify(q)} is not a quantity such as 100m or 64Mi`);
      } else {
        s[r] = q;
      }
    }
    out[k] = s;
  }
  return out;
}

/** Checks and defaults injector settings given as an object (e.g. parsed YAML). Reports every problem. */
export function checkInjectorConfig(raw: unknown): InjectorConfigResult {
  const problems: string[] = [];
  if (!isObject(raw)) return { ok: false, problems: ['the injector configuration must be a mapping'] };
  const known = new Set([
    'image',
    'imagePullPolicy',
    'composeCommand',
    'port',
    'adminPort',
    'internalPort',
    'routesKey',
    'resources',
    'trustedProxies',
    'unmappedRoutes',
    'validatorSettings',
    'allowImageOverride',
    'logLevel',
    'recordKeys',
    'credentialsSecret',
    'jwtSigningKeySecret',
    'jwtAudiences',
    'namespaces',
  ]);
  for (const k of Object.keys(raw)) {
    if (!known.has(k)) problems.push(`${k}: unknown field; known fields: ${[...known].join(', ')}`);
  }
  const c: InjectorConfig = { ...INJECTOR_DEFAULTS, image: '' };
  if (typeof raw.image !== 'string' || raw.image.trim() === '' || /\s/.test(raw.image)) {
    problems.push(
      'image: is required: the keywarden image reference, e.g. ghcr.io/keywarden/keywarden:0.1.0',
    );
  } else c.image = raw.image;
  if (raw.imagePullPolicy !== undefined) {
    if (
      raw.imagePullPolicy === 'Always' ||
      raw.imagePullPolicy === 'IfNotPresent' ||
      raw.imagePullPolicy === 'Never'
    )
      c.imagePullPolicy = raw.imagePullPolicy;
    else problems.push('imagePullPolicy: must be one of: Always, IfNotPresent, Never');
  }
  if (raw.composeCommand !== undefined) {
    if (
      Array.isArray(raw.composeCommand) &&
      raw.composeCommand.length > 0 &&
      raw.composeCommand.every((s) => typeof s === 'string' && s.length > 0)
    )
      c.composeCommand = raw.composeCommand as string[];
    else problems.push('composeCommand: must be a non-empty list of strings');
  }
  for (const k of ['port', 'adminPort'] as const) {
    if (raw[k] === undefined) continue;
    if (isPort(raw[k])) c[k] = raw[k];
    else problems.push(`${k}: must be a port number from 1 to 65535`);
  }
  if (c.port === c.adminPort) problems.push('adminPort: must differ from port');
  if (raw.internalPort !== undefined && raw.internalPort !== null) {
    if (!isPort(raw.internalPort))
      problems.push('internalPort: must be a port number from 1 to 65535, or null');
    else if (raw.internalPort === c.port || raw.internalPort === c.adminPort)
      problems.push('internalPort: must differ from port and adminPort');
    else c.internalPort = raw.internalPort;
  }
  if (raw.routesKey !== undefined) {
    if (typeof raw.routesKey === 'string' && CONFIGMAP_KEY_RE.test(raw.routesKey))
      c.routesKey = raw.routesKey;
    else problems.push('routesKey: must be a ConfigMap key (letters, digits, -, _ and .)');
  }
  if (raw.resources !== undefined) {
    const r = checkResources(raw.resources, 'resources', problems);
    if (r) c.resources = r;
  }
  if (raw.trustedProxies !== undefined) {
    if (!Array.isArray(raw.trustedProxies))
      problems.push('trustedProxies: must be a list of addresses or CIDRs');
    else {
      for (const [i, s] of raw.trustedProxies.entries()) {
        const r = parseSource(s);
        if (!r.ok) problems.push(`trustedProxies[${i}]: ${r.message}`);
      }
      c.trustedProxies = raw.trustedProxies.map(String);
    }
  }
  if (raw.unmappedRoutes !== undefined) {
    if (raw.unmappedRoutes === 'deny' || raw.unmappedRoutes === 'allow')
      c.unmappedRoutes = raw.unmappedRoutes;
    else problems.push('unmappedRoutes: must be one of: deny, allow');
  }
  if (raw.validatorSettings !== undefined && raw.validatorSettings !== null) {
    if (!isObject(raw.validatorSettings)) problems.push('validatorSettings: must be a mapping');
    else {
      for (const k of RESERVED_VALIDATOR_SETTINGS) {
        if (k in raw.validatorSettings)
          problems.push(`validatorSettings.${k}: is set by the injector from pod annotations; remove it`);
      }
      const jwt = isObject(raw.validatorSettings.identity) ? raw.validatorSettings.identity.jwt : undefined;
      if (isObject(jwt)) {
        for (const [k, why] of Object.entries(RESERVED_JWT_SETTINGS)) {
          if (k in jwt) problems.push(`validatorSettings.identity.jwt.${k}: ${why}; remove it`);
        }
      }
      c.validatorSettings = raw.validatorSettings;
    }
  }
  if (raw.recordKeys !== undefined) {
    const r = raw.recordKeys;
    if (isObject(r) && typeof r.namespace === 'string' && r.namespace && typeof r.name === 'string' && r.name)
      c.recordKeys = { namespace: r.namespace, name: r.name };
    else problems.push('recordKeys: must be {namespace, name} of the ConfigMap keywarden-record-keys');
  }
  if (raw.credentialsSecret !== undefined) {
    if (isSecretName(raw.credentialsSecret)) c.credentialsSecret = raw.credentialsSecret;
    else problems.push('credentialsSecret: must be a Secret name');
  }
  if (raw.jwtSigningKeySecret !== undefined) {
    const j = raw.jwtSigningKeySecret;
    if (
      !isObject(j) ||
      !isSecretName(j.name) ||
      (j.key !== undefined && !(typeof j.key === 'string' && CONFIGMAP_KEY_RE.test(j.key)))
    )
      problems.push(
        'jwtSigningKeySecret: must be {name: a Secret name, key: a key in it (default signing-key.pem)}',
      );
    else
      c.jwtSigningKeySecret = {
        name: j.name,
        key: typeof j.key === 'string' ? j.key : INJECTOR_DEFAULTS.jwtSigningKeySecret.key,
      };
  }
  if (raw.jwtAudiences !== undefined && raw.jwtAudiences !== null) {
    const a = raw.jwtAudiences;
    if (!isObject(a))
      problems.push('jwtAudiences: must map a namespace to the audiences its pods may ask for');
    else {
      for (const [ns, list] of Object.entries(a)) {
        if (!isNamespace(ns)) problems.push(`jwtAudiences.${ns}: not a namespace name`);
        if (
          !Array.isArray(list) ||
          !list.every((x) => typeof x === 'string' && x.trim() !== '' && x === x.trim())
        )
          problems.push(`jwtAudiences.${ns}: must be a list of audiences (non-empty strings)`);
      }
      c.jwtAudiences = a as Record<string, string[]>;
    }
  }
  if (raw.namespaces !== undefined && raw.namespaces !== null) {
    if (!Array.isArray(raw.namespaces) || !raw.namespaces.every(isNamespace))
      problems.push('namespaces: must be a list of namespace names');
    else c.namespaces = raw.namespaces as string[];
  }
  if (raw.allowImageOverride !== undefined) {
    if (typeof raw.allowImageOverride === 'boolean') c.allowImageOverride = raw.allowImageOverride;
    else problems.push('allowImageOverride: must be true or false');
  }
  if (raw.logLevel !== undefined) {
    if (typeof raw.logLevel === 'string' && (LOG_LEVELS as readonly string[]).includes(raw.logLevel))
      c.logLevel = raw.logLevel;
    else problems.push(`logLevel: must be one of: ${LOG_LEVELS.join(', ')}`);
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, config: c };
}

/** Parses the injector configuration file (YAML or JSON). */
export function parseInjectorConfig(text: string): InjectorConfigResult {
  let raw: unknown;
  try {
    raw = parse(text, { uniqueKeys: true });
  } catch (err) {
    return { ok: false, problems: [`not valid YAML: ${(err as Error).message.split('\n')[0]}`] };
  }
  return checkInjectorConfig(raw);
}

/** Reads and checks the file given to `keywarden webhook --injector-config`. */
export function loadInjectorConfigFile(file: string): InjectorConfigResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return { ok: false, problems: [`cannot read ${file}: ${(err as Error).message}`] };
  }
  const r = parseInjectorConfig(text);
  return r.ok ? r : { ok: false, problems: r.problems.map((p) => `${file}: ${p}`) };
}
