import type { Environment, Result } from '../rules/index.ts';
import type { ResourceRequirements } from './config.ts';

// What the pod annotations (src/api/metadata.ts POD_ANNOTATIONS, in the style of Vault's agent injector,
// `vault.hashicorp.com/agent-inject: "true"`) ask for; read-annotations.ts checks them.

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
