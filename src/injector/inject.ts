import { stringify } from 'yaml';
import { INJECTION_STATUS, LABELS, POD_ANNOTATIONS, SIDECAR_LABEL_VALUE } from '../api/metadata.ts';
import { pointer } from '../kube/admission/json-patch.ts';
import type { JsonPatchOp } from '../kube/admission/review.ts';
import { formatProblem } from '../rules/index.ts';
import type { DeclaredPort, InjectionSettings } from './annotations.ts';
import type { InjectorConfig } from './config.ts';
import { readAnnotations } from './read-annotations.ts';

// The pure core of sidecar injection: a Pod (as the API server sends it in an AdmissionReview) and the
// injector's settings in, a JSON Patch out. No I/O, no clock: the same pod always gets the same patch.
//
// What an injected pod gets:
//   - init container `keywarden-config`: merges the routes ConfigMap with the settings below into the
//     validator's configuration file (checked there, with line numbers, before the app starts);
//   - container `keywarden-validator`: `keywarden validator --config ...`, port `keywarden` (point the
//     Service's targetPort at it) and port `keywarden-admin` (/healthz, /readyz, /metrics);
//   - volumes: the generated configuration (memory emptyDir), the routes ConfigMap, the sidecar's own
//     API credentials (a token of the keywarden-validator ServiceAccount, from a Secret in the pod's
//     namespace) and, with identity JWTs, the namespace's signing key, both mounted into the sidecar
//     ONLY: the app container (assume it compromised) shares the pod's ServiceAccount, which keywarden
//     grants nothing; and a small scratch emptyDir;
//   - annotation keywarden.dev/status=injected and label keywarden.dev/sidecar=validator.

export const SIDECAR_NAME = 'keywarden-validator';
export const INIT_NAME = 'keywarden-config';
const PORT_NAME = 'keywarden';
export const ADMIN_PORT_NAME = 'keywarden-admin';
export const VOLUMES = {
  config: 'keywarden-config',
  routes: 'keywarden-routes',
  apiAccess: 'keywarden-api-credentials',
  data: 'keywarden-data',
  jwtKey: 'keywarden-jwt-signing-key',
} as const;
const CONFIG_DIR = '/run/keywarden';
const CONFIG_FILE = `${CONFIG_DIR}/validator.yaml`;
const ROUTES_DIR = '/etc/keywarden/routes';
const DATA_DIR = '/var/lib/keywarden';
const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
const JWT_KEY_DIR = '/etc/keywarden/jwt';
export const JWT_KEY_FILE = `${JWT_KEY_DIR}/signing-key.pem`;
/** Environment variable carrying the generated settings to the init container. */
export const SETTINGS_ENV = 'KEYWARDEN_VALIDATOR_SETTINGS';
/** The image's unprivileged user. */
const SIDECAR_UID = 1000;

export type InjectionOutcome =
  | { action: 'skip'; reason: 'not-requested' | 'already-injected' }
  | { action: 'inject'; patch: JsonPatchOp[]; settings: InjectionSettings; warnings: string[] }
  | { action: 'refuse'; message: string; problems: string[] };

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const nameOf = (v: unknown): string | undefined =>
  isObject(v) && typeof v.name === 'string' ? v.name : undefined;

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isObject(v)) return out;
  for (const [k, val] of Object.entries(v)) if (typeof val === 'string') out[k] = val;
  return out;
}

function declaredPorts(containers: unknown[]): DeclaredPort[] {
  const out: DeclaredPort[] = [];
  for (const c of containers) {
    if (!isObject(c)) continue;
    for (const p of asArray(c.ports)) {
      if (!isObject(p) || typeof p.containerPort !== 'number') continue;
      out.push({
        container: nameOf(c) ?? '?',
        ...(typeof p.name === 'string' ? { name: p.name } : {}),
        containerPort: p.containerPort,
      });
    }
  }
  return out;
}

/** The validator settings the injector decides; the init container adds the routes to them. */
export function validatorSettings(s: InjectionSettings, config: InjectorConfig): Json {
  const extra = structuredClone(config.validatorSettings);
  if (isObject(extra.identity) && isObject(extra.identity.jwt)) {
    if (s.jwtAudience) extra.identity.jwt.audience = s.jwtAudience;
    extra.identity.jwt.signingKey = { file: JWT_KEY_FILE };
  }
  return {
    environment: s.environment,
    server: {
      host: '0.0.0.0',
      port: s.port,
      adminPort: s.adminPort,
      // Forward auth and verify stay off the public port; on loopback only when the cluster asks.
      ...(config.internalPort !== undefined
        ? { internalPort: config.internalPort, internalHost: '127.0.0.1' }
        : {}),
    },
    keyStore: {
      namespaces: s.keyNamespaces,
      ...(config.recordKeys ? { recordKeys: { configMap: config.recordKeys } } : {}),
    },
    trustedProxies: s.trustedProxies,
    upstream: { url: `http://127.0.0.1:${s.upstreamPort}` },
    unmappedRoutes: s.unmappedRoutes,
    ...extra,
  };
}

const restricted = {
  runAsNonRoot: true,
  runAsUser: SIDECAR_UID,
  runAsGroup: SIDECAR_UID,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

function containers(s: InjectionSettings, config: InjectorConfig): { init: Json; sidecar: Json } {
  const settingsYaml = stringify(validatorSettings(s, config), { lineWidth: 0 });
  const init: Json = {
    name: INIT_NAME,
    image: s.image,
    imagePullPolicy: config.imagePullPolicy,
    command: config.composeCommand,
    args: [
      '--routes',
      `${ROUTES_DIR}/${s.routesKey}`,
      '--routes-source',
      `ConfigMap ${s.routesConfigMap}, key ${s.routesKey}`,
      '--out',
      CONFIG_FILE,
    ],
    env: [{ name: SETTINGS_ENV, value: settingsYaml }],
    resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '128Mi' } },
    securityContext: restricted,
    volumeMounts: [
      { name: VOLUMES.config, mountPath: CONFIG_DIR },
      { name: VOLUMES.routes, mountPath: ROUTES_DIR, readOnly: true },
    ],
  };
  const sidecar: Json = {
    name: SIDECAR_NAME,
    image: s.image,
    imagePullPolicy: config.imagePullPolicy,
    args: ['validator', '--config', CONFIG_FILE],
    ports: [
      { name: PORT_NAME, containerPort: s.port, protocol: 'TCP' },
      { name: ADMIN_PORT_NAME, containerPort: s.adminPort, protocol: 'TCP' },
    ],
    env: [
      { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
      {
        name: 'POD_NAMESPACE',
        valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } },
      },
      { name: 'KEYWARDEN_LOG_LEVEL', value: config.logLevel },
    ],
    resources: s.resources,
    readinessProbe: {
      httpGet: { path: '/readyz', port: ADMIN_PORT_NAME },
      periodSeconds: 5,
      timeoutSeconds: 2,
      failureThreshold: 3,
    },
    livenessProbe: {
      httpGet: { path: '/healthz', port: ADMIN_PORT_NAME },
      initialDelaySeconds: 10,
      periodSeconds: 10,
      timeoutSeconds: 2,
      failureThreshold: 3,
    },
    // A few seconds for endpoints to drop the pod before the validator stops listening.
    lifecycle: { preStop: { exec: { command: ['sleep', '5'] } } },
    securityContext: restricted,
    volumeMounts: [
      { name: VOLUMES.config, mountPath: CONFIG_DIR, readOnly: true },
      { name: VOLUMES.apiAccess, mountPath: SERVICE_ACCOUNT_DIR, readOnly: true },
      { name: VOLUMES.data, mountPath: DATA_DIR },
      ...(signsJwts(config) ? [{ name: VOLUMES.jwtKey, mountPath: JWT_KEY_DIR, readOnly: true }] : []),
    ],
  };
  return { init, sidecar };
}

const signsJwts = (config: InjectorConfig): boolean =>
  isObject(config.validatorSettings.identity) && isObject(config.validatorSettings.identity.jwt);

function volumes(s: InjectionSettings, config: InjectorConfig): Json[] {
  return [
    { name: VOLUMES.config, emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } },
    { name: VOLUMES.routes, configMap: { name: s.routesConfigMap } },
    // A kubernetes.io/service-account-token Secret holds token, ca.crt and namespace: the layout of
    // the in-cluster service-account folder, so the validator's client finds it where it always looks.
    { name: VOLUMES.apiAccess, secret: { secretName: config.credentialsSecret, defaultMode: 0o444 } },
    { name: VOLUMES.data, emptyDir: { sizeLimit: '256Mi' } },
    ...(signsJwts(config)
      ? [
          {
            name: VOLUMES.jwtKey,
            secret: {
              secretName: config.jwtSigningKeySecret.name,
              items: [{ key: config.jwtSigningKeySecret.key, path: 'signing-key.pem' }],
              defaultMode: 0o444,
            },
          },
        ]
      : []),
  ];
}

/** Names of the Secrets a pod volume reads (secret volumes and projected secret sources). */
function secretsOf(volume: unknown): string[] {
  if (!isObject(volume)) return [];
  const out: string[] = [];
  if (isObject(volume.secret) && typeof volume.secret.secretName === 'string')
    out.push(volume.secret.secretName);
  if (isObject(volume.projected)) {
    for (const src of asArray(volume.projected.sources)) {
      if (isObject(src) && isObject(src.secret) && typeof src.secret.name === 'string')
        out.push(src.secret.name);
    }
  }
  return out;
}

/** What would let the app container read the sidecar's credentials, or leave the sidecar without them. */
function credentialProblems(spec: Json, namespace: string, config: InjectorConfig): string[] {
  const problems: string[] = [];
  if (config.namespaces.length > 0 && !config.namespaces.includes(namespace)) {
    problems.push(
      `namespace ${namespace} has no validator credentials (the chart's validator.namespaces lists: ${config.namespaces.join(', ')})`,
    );
  }
  if (spec.shareProcessNamespace === true) {
    problems.push(
      "spec.shareProcessNamespace is true: the app's processes could read the sidecar's credentials through /proc; remove it",
    );
  }
  const guarded = new Set([
    config.credentialsSecret,
    ...(signsJwts(config) ? [config.jwtSigningKeySecret.name] : []),
  ]);
  for (const v of asArray(spec.volumes)) {
    for (const secret of secretsOf(v)) {
      if (guarded.has(secret))
        problems.push(
          `volume ${nameOf(v) ?? '?'} mounts Secret ${secret}, which is for the keywarden sidecar only; remove it from the pod`,
        );
    }
  }
  return problems;
}

/** Appends `items` to the array at `path`, creating it when the pod has none. */
function appendOps(path: string, existing: unknown, items: Json[]): JsonPatchOp[] {
  if (!Array.isArray(existing)) return [{ op: 'add', path, value: items }];
  return items.map((value) => ({ op: 'add', path: `${path}/-`, value }));
}

/**
 * Computes the JSON Patch that adds the validator sidecar to `pod`.
 * `namespace` is the AdmissionRequest's namespace (a pod made by a ReplicaSet has none of its own yet).
 */
export function computeInjection(pod: unknown, namespace: string, config: InjectorConfig): InjectionOutcome {
  const p = isObject(pod) ? pod : {};
  const metadata = isObject(p.metadata) ? p.metadata : {};
  const spec = isObject(p.spec) ? p.spec : {};
  const annotations = stringMap(metadata.annotations);
  const podContainers = asArray(spec.containers);
  const initContainers = asArray(spec.initContainers);
  const existingVolumes = asArray(spec.volumes);

  if (annotations[POD_ANNOTATIONS.inject] === undefined) return { action: 'skip', reason: 'not-requested' };
  const names = new Set([...podContainers, ...initContainers].map(nameOf));
  if (annotations[POD_ANNOTATIONS.status] === INJECTION_STATUS || names.has(SIDECAR_NAME)) {
    return { action: 'skip', reason: 'already-injected' };
  }
  const request = readAnnotations(
    annotations,
    namespace,
    declaredPorts([...podContainers, ...initContainers]),
    config,
  );
  if (!request.inject) return { action: 'skip', reason: 'not-requested' };

  const problems = request.ok ? [] : request.problems.map((p) => formatProblem('', p));
  problems.push(...credentialProblems(spec, namespace, config));
  if (names.has(INIT_NAME)) problems.push(`the pod already has a container named ${INIT_NAME}; rename it`);
  const volumeNames = new Set(existingVolumes.map(nameOf));
  for (const v of Object.values(VOLUMES)) {
    if (volumeNames.has(v)) problems.push(`the pod already has a volume named ${v}; rename it`);
  }
  if (problems.length > 0 || !request.ok) {
    const podName =
      typeof metadata.name === 'string' && metadata.name
        ? metadata.name
        : typeof metadata.generateName === 'string'
          ? `${metadata.generateName}*`
          : '(unnamed)';
    return {
      action: 'refuse',
      problems,
      message: `keywarden cannot inject the validator sidecar into pod ${namespace}/${podName}: ${problems.join('; ')}`,
    };
  }

  const s = request.value;
  const warnings: string[] = [];
  if (spec.hostNetwork === true) {
    warnings.push(
      `keywarden: pod uses hostNetwork, so the validator binds ports ${s.port} and ${s.adminPort} on the node`,
    );
  }
  const { init, sidecar } = containers(s, config);
  const ops: JsonPatchOp[] = [
    ...appendOps('/spec/initContainers', spec.initContainers, [init]),
    ...appendOps('/spec/containers', spec.containers, [sidecar]),
    ...appendOps('/spec/volumes', spec.volumes, volumes(s, config)),
    {
      op: 'add',
      path: pointer(['metadata', 'annotations', POD_ANNOTATIONS.status]),
      value: INJECTION_STATUS,
    },
    isObject(metadata.labels)
      ? { op: 'add', path: pointer(['metadata', 'labels', LABELS.sidecar]), value: SIDECAR_LABEL_VALUE }
      : { op: 'add', path: '/metadata/labels', value: { [LABELS.sidecar]: SIDECAR_LABEL_VALUE } },
  ];
  return { action: 'inject', patch: ops, settings: s, warnings };
}
