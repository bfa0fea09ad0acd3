import type { Environment, Result } from '../rules/index.ts';
import type { ResourceRequirements } from './config.ts';

// The pod annotations that ask for a validator sidecar and configure it, in the style of Vault's agent
// injector (`vault.hashicorp.com/agent-inject: "true"`). read-annotations.ts checks them.

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

/** Not asked for, or asked for: then the settings, or every problem (each naming its annotation). */
export type InjectRequest = { inject: false } | ({ inject: true } & Result<InjectionSettings>);

/** A container port the app declares: for conflicts and for `upstream-port: http`. */
export interface DeclaredPort {
  container: string;
  name?: string;
  containerPort: number;
}
