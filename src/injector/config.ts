import { POD_ANNOTATIONS } from '../api/metadata.ts';
import type { Result } from '../rules/index.ts';

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
  audience: `is set by the injector: the pod's namespace, or ${POD_ANNOTATIONS.jwtAudience} when injection.jwt.audiences allows it`,
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

export type InjectorConfigResult = Result<InjectorConfig>;
