// Every name keywarden writes on or reads from Kubernetes objects: labels, annotations, Secret types,
// component values, the finalizer. One constant each, so a rename is one edit and `grep` finds every use.

/** The `app.kubernetes.io/managed-by` value on everything keywarden writes. */
export const MANAGED_BY = 'keywarden';

/** The recommended `app.kubernetes.io/*` labels on objects keywarden itself creates outside a chart. */
export const APP_LABELS = {
  name: 'app.kubernetes.io/name',
  component: 'app.kubernetes.io/component',
} as const;

/** The `app.kubernetes.io/name` value (the chart sets the same). */
export const APP_NAME = 'keywarden';

/** Labels keywarden sets so users (and its own informers) can filter with label selectors. */
export const LABELS = {
  environment: 'keywarden.dev/environment',
  type: 'keywarden.dev/type',
  state: 'keywarden.dev/state',
  apiKeyName: 'keywarden.dev/apikey',
  managedBy: 'app.kubernetes.io/managed-by',
  /** Which of keywarden's Secrets or ConfigMaps an object is: one of COMPONENTS. */
  component: 'keywarden.dev/component',
  /** On pods the injector gave a validator sidecar (for `kubectl get pods -l` and the PodMonitor). */
  sidecar: 'keywarden.dev/sidecar',
} as const;

/** Values of LABELS.component. */
export const COMPONENTS = {
  hash: 'key-hash',
  delivery: 'delivery',
  deliveryKey: 'delivery-key',
  recordSigningKey: 'record-signing-key',
  recordKeys: 'record-keys',
} as const;

/** The selector that finds hash Secrets (the validator's default key store selector). */
export const HASH_SECRET_SELECTOR = `${LABELS.component}=${COMPONENTS.hash}`;

/** LABELS.sidecar's value on an injected pod. */
export const SIDECAR_LABEL_VALUE = 'validator';

/** Secret types: a validator believes only a hash Secret, never the delivery or its data key. */
export const SECRET_TYPES = {
  hash: 'keywarden.dev/key-hash',
  delivery: 'keywarden.dev/delivery',
  deliveryKey: 'keywarden.dev/delivery-key',
} as const;

/** On delivery and consumer Secrets: which ApiKey (and which of its keys) a Secret belongs to. */
export const SECRET_ANNOTATIONS = {
  apiKeyNamespace: 'keywarden.dev/apikey-namespace',
  apiKeyName: 'keywarden.dev/apikey-name',
  apiKeyUid: 'keywarden.dev/apikey-uid',
  generation: 'keywarden.dev/rotation-generation',
  hash: 'keywarden.dev/key-hash',
  keyId: 'keywarden.dev/key-id',
  hint: 'keywarden.dev/key-hint',
  expiresAt: 'keywarden.dev/delivery-expires-at',
} as const;

/** On an ApiKey: the reveal request (see reveal.ts). */
export const REVEAL_ANNOTATIONS = {
  /** JSON {keyId, generation, jwk}: the public key the one copy is to be sealed to. */
  request: 'keywarden.dev/reveal-request',
  /** The user who wrote the request, stamped by the admission webhook from the request's userInfo. */
  requestedBy: 'keywarden.dev/reveal-requested-by',
} as const;

/** The prefix of every pod annotation the injector reads (an unknown one under it is refused). */
export const POD_ANNOTATION_PREFIX = 'keywarden.dev/';

/**
 * The pod annotations that ask for a validator sidecar and configure it, in the style of Vault's agent
 * injector. docs/install.md has the table users read; a unit test keeps the two the same.
 */
export const POD_ANNOTATIONS = {
  /** "true" asks for the sidecar. */
  inject: 'keywarden.dev/inject',
  /** Written by the injector: INJECTION_STATUS. A pod carrying it is never injected again. */
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

/** POD_ANNOTATIONS.status's value once the sidecar is in. */
export const INJECTION_STATUS = 'injected';

/** The controller's finalizer on every ApiKey: what owner references cannot remove goes first. */
export const FINALIZER = 'keywarden.dev/cleanup';

/** reportingController of the controller's Events. */
export const CONTROLLER_NAME = 'keywarden.dev/controller';
