import { readFileSync } from 'node:fs';
import {
  type FieldPath,
  failed,
  ok,
  type Place,
  type Problem,
  parseSource,
  problem,
  readYaml,
  unplaced,
} from '../rules/index.ts';
import {
  CONFIGMAP_KEY_RE,
  INJECTOR_DEFAULTS,
  type InjectorConfig,
  type InjectorConfigResult,
  LOG_LEVELS,
  QUANTITY_RE,
  RESERVED_JWT_SETTINGS,
  RESERVED_VALIDATOR_SETTINGS,
  type ResourceRequirements,
} from './config.ts';

// Reads the injector's settings file (`keywarden webhook --injector-config`), one checker per section.
// Every problem is reported at once, naming its field and line.

type Raw = Record<string, unknown>;
/** Each section checker reads `raw`, sets what is valid on `c` and reports the rest. */
type Report = (path: FieldPath, message: string, key?: boolean) => void;

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

const KNOWN_FIELDS: readonly (keyof InjectorConfig)[] = [
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
];

/**
 * Checks and defaults injector settings given as an object (e.g. parsed YAML). Reports every problem;
 * `place` gives each its line when the settings come from a file.
 */
function checkInjectorConfig(raw: unknown, place: Place = unplaced): InjectorConfigResult {
  if (!isObject(raw)) return failed([place([], 'the injector configuration must be a mapping')]);
  const problems: Problem[] = [];
  const report: Report = (path, message, key) => problems.push(place(path, message, key));
  for (const k of Object.keys(raw)) {
    if (!(KNOWN_FIELDS as readonly string[]).includes(k))
      report([k], `unknown field; known fields: ${KNOWN_FIELDS.join(', ')}`, true);
  }
  const c: InjectorConfig = { ...INJECTOR_DEFAULTS, image: '' };
  checkContainer(raw, c, report);
  checkPorts(raw, c, report);
  checkRouting(raw, c, report);
  checkValidatorSettings(raw, c, report);
  checkCredentials(raw, c, report);
  checkLogging(raw, c, report);
  return problems.length > 0 ? failed(problems) : ok(c);
}

function checkContainer(raw: Raw, c: InjectorConfig, report: Report): void {
  if (typeof raw.image !== 'string' || raw.image.trim() === '' || /\s/.test(raw.image))
    report(['image'], 'is required: the keywarden image reference, e.g. ghcr.io/keywarden/keywarden:0.1.0');
  else c.image = raw.image;
  if (raw.imagePullPolicy !== undefined) {
    const p = raw.imagePullPolicy;
    if (p === 'Always' || p === 'IfNotPresent' || p === 'Never') c.imagePullPolicy = p;
    else report(['imagePullPolicy'], 'must be one of: Always, IfNotPresent, Never');
  }
  if (raw.composeCommand !== undefined) {
    const cmd = raw.composeCommand;
    if (Array.isArray(cmd) && cmd.length > 0 && cmd.every((s) => typeof s === 'string' && s.length > 0))
      c.composeCommand = cmd as string[];
    else report(['composeCommand'], 'must be a non-empty list of strings');
  }
}

function checkPorts(raw: Raw, c: InjectorConfig, report: Report): void {
  for (const k of ['port', 'adminPort'] as const) {
    const v = raw[k];
    if (v === undefined) continue;
    if (isPort(v)) c[k] = v;
    else report([k], 'must be a port number from 1 to 65535');
  }
  if (c.port === c.adminPort) report(['adminPort'], 'must differ from port');
  const internal = raw.internalPort;
  if (internal === undefined || internal === null) return;
  if (!isPort(internal)) report(['internalPort'], 'must be a port number from 1 to 65535, or null');
  else if (internal === c.port || internal === c.adminPort)
    report(['internalPort'], 'must differ from port and adminPort');
  else c.internalPort = internal;
}

function checkRouting(raw: Raw, c: InjectorConfig, report: Report): void {
  if (raw.routesKey !== undefined) {
    if (typeof raw.routesKey === 'string' && CONFIGMAP_KEY_RE.test(raw.routesKey))
      c.routesKey = raw.routesKey;
    else report(['routesKey'], 'must be a ConfigMap key (letters, digits, -, _ and .)');
  }
  if (raw.resources !== undefined) {
    const r = checkResources(raw.resources, report);
    if (r) c.resources = r;
  }
  if (raw.trustedProxies !== undefined) {
    if (!Array.isArray(raw.trustedProxies))
      report(['trustedProxies'], 'must be a list of addresses or CIDRs');
    else {
      for (const [i, s] of raw.trustedProxies.entries()) {
        const r = parseSource(s);
        if (!r.ok) report(['trustedProxies', i], r.message);
      }
      c.trustedProxies = raw.trustedProxies.map(String);
    }
  }
  if (raw.unmappedRoutes !== undefined) {
    if (raw.unmappedRoutes === 'deny' || raw.unmappedRoutes === 'allow')
      c.unmappedRoutes = raw.unmappedRoutes;
    else report(['unmappedRoutes'], 'must be one of: deny, allow');
  }
}

function checkResources(v: unknown, report: Report): ResourceRequirements | undefined {
  if (!isObject(v)) {
    report(['resources'], 'must be an object with requests and/or limits');
    return undefined;
  }
  const out: ResourceRequirements = {};
  for (const [k, section] of Object.entries(v)) {
    if (k !== 'requests' && k !== 'limits') {
      report(['resources', k], 'unknown field; known fields here: requests, limits', true);
      continue;
    }
    if (!isObject(section)) {
      report(['resources', k], 'must be an object with cpu and/or memory');
      continue;
    }
    const s: { cpu?: string; memory?: string } = {};
    for (const [r, q] of Object.entries(section)) {
      if (r !== 'cpu' && r !== 'memory')
        report(['resources', k, r], 'unknown resource; known: cpu, memory', true);
      else if (typeof q !== 'string' || !QUANTITY_RE.test(q))
        report(['resources', k, r], `${JSON.stringify(q)} is not a quantity such as 100m or 64Mi`);
      else s[r] = q;
    }
    out[k] = s;
  }
  return out;
}

function checkValidatorSettings(raw: Raw, c: InjectorConfig, report: Report): void {
  const v = raw.validatorSettings;
  if (v === undefined || v === null) return;
  if (!isObject(v)) {
    report(['validatorSettings'], 'must be a mapping');
    return;
  }
  for (const k of RESERVED_VALIDATOR_SETTINGS) {
    if (Object.hasOwn(v, k))
      report(['validatorSettings', k], 'is set by the injector from pod annotations; remove it', true);
  }
  const jwt = isObject(v.identity) ? v.identity.jwt : undefined;
  if (isObject(jwt)) {
    for (const [k, why] of Object.entries(RESERVED_JWT_SETTINGS)) {
      if (Object.hasOwn(jwt, k))
        report(['validatorSettings', 'identity', 'jwt', k], `${why}; remove it`, true);
    }
  }
  c.validatorSettings = v;
}

function checkCredentials(raw: Raw, c: InjectorConfig, report: Report): void {
  if (raw.recordKeys !== undefined) {
    const r = raw.recordKeys;
    if (isObject(r) && typeof r.namespace === 'string' && r.namespace && typeof r.name === 'string' && r.name)
      c.recordKeys = { namespace: r.namespace, name: r.name };
    else report(['recordKeys'], 'must be {namespace, name} of the ConfigMap keywarden-record-keys');
  }
  if (raw.credentialsSecret !== undefined) {
    if (isSecretName(raw.credentialsSecret)) c.credentialsSecret = raw.credentialsSecret;
    else report(['credentialsSecret'], 'must be a Secret name');
  }
  if (raw.jwtSigningKeySecret !== undefined) {
    const j = raw.jwtSigningKeySecret;
    if (
      !isObject(j) ||
      !isSecretName(j.name) ||
      (j.key !== undefined && !(typeof j.key === 'string' && CONFIGMAP_KEY_RE.test(j.key)))
    )
      report(
        ['jwtSigningKeySecret'],
        'must be {name: a Secret name, key: a key in it (default signing-key.pem)}',
      );
    else
      c.jwtSigningKeySecret = {
        name: j.name,
        key: typeof j.key === 'string' ? j.key : INJECTOR_DEFAULTS.jwtSigningKeySecret.key,
      };
  }
  checkAudiences(raw, c, report);
  if (raw.namespaces !== undefined && raw.namespaces !== null) {
    if (!Array.isArray(raw.namespaces) || !raw.namespaces.every(isNamespace))
      report(['namespaces'], 'must be a list of namespace names');
    else c.namespaces = raw.namespaces as string[];
  }
}

function checkAudiences(raw: Raw, c: InjectorConfig, report: Report): void {
  const a = raw.jwtAudiences;
  if (a === undefined || a === null) return;
  if (!isObject(a)) {
    report(['jwtAudiences'], 'must map a namespace to the audiences its pods may ask for');
    return;
  }
  for (const [ns, list] of Object.entries(a)) {
    if (!isNamespace(ns)) report(['jwtAudiences', ns], 'not a namespace name', true);
    if (
      !Array.isArray(list) ||
      !list.every((x) => typeof x === 'string' && x.trim() !== '' && x === x.trim())
    )
      report(['jwtAudiences', ns], 'must be a list of audiences (non-empty strings)');
  }
  c.jwtAudiences = a as Record<string, string[]>;
}

function checkLogging(raw: Raw, c: InjectorConfig, report: Report): void {
  if (raw.allowImageOverride !== undefined) {
    if (typeof raw.allowImageOverride === 'boolean') c.allowImageOverride = raw.allowImageOverride;
    else report(['allowImageOverride'], 'must be true or false');
  }
  if (raw.logLevel !== undefined) {
    if (typeof raw.logLevel === 'string' && (LOG_LEVELS as readonly string[]).includes(raw.logLevel))
      c.logLevel = raw.logLevel;
    else report(['logLevel'], `must be one of: ${LOG_LEVELS.join(', ')}`);
  }
}

/** Parses the injector configuration file (YAML or JSON); each problem names its field and line. */
export function parseInjectorConfig(text: string): InjectorConfigResult {
  const input = readYaml(text, 'the injector configuration must be a mapping');
  if (!input.ok) return input;
  const checked = checkInjectorConfig(input.value.value, input.value.at);
  const { warnings } = input.value;
  if (warnings.length === 0) return checked;
  return failed([...warnings, ...(checked.ok ? [] : checked.problems)]);
}

/** Reads and checks the file given to `keywarden webhook --injector-config`. */
export function loadInjectorConfigFile(file: string): InjectorConfigResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return failed([problem('', `cannot read the file: ${(err as Error).message}`)]);
  }
  return parseInjectorConfig(text);
}
