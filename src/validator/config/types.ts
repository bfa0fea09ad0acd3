import type { AuditSettings } from '../../audit/options.ts';
import type { Environment } from '../../rules/index.ts';

// The validator's configuration file, after checking and defaulting. The YAML shape is documented in
// docs/validator.md and examples/validator-config.yaml; the JSON schema is in schema.ts.

export type UnmappedRoutes = 'deny' | 'allow';
export type JwtAlgorithm = 'EdDSA' | 'ES256';

export interface RouteConfig {
  /** `/v1/devices/*` (one segment), `/v1/devices/**` (the rest of the path), or an exact path. */
  path: string;
  /** Upper-case methods; empty means any method. */
  methods: string[];
  permission: string;
}

export type SigningKeySource =
  | { secret: { namespace: string; name: string; key: string } }
  | { file: string };

export interface ValidatorConfig {
  /** The one environment this validator serves; keys of another environment are 401. */
  environment: Environment;
  server: {
    host: string;
    port: number;
    adminPort: number;
    /**
     * With an upstream, forward auth and the verify API are served only here (never on the public
     * port); undefined: not at all. Without an upstream they are served on `port` too.
     */
    internalPort?: number;
    /** Listen address of the internal port (default loopback: only the pod's containers reach it). */
    internalHost: string;
    shutdownTimeoutMs: number;
  };
  /**
   * recordKeys: where the controller's record signing public keys are (the ConfigMap
   * keywarden-record-keys in the operator's namespace). Without it hash records are believed unsigned,
   * so anyone who can write a Secret in a watched namespace can forge a key (`--check` warns).
   */
  keyStore: {
    namespaces: string[];
    labelSelector: string;
    recordKeys?: { configMap: { namespace: string; name: string } } | { file: string };
  };
  /** Peers whose X-Forwarded-For is believed (CIDRs or addresses). */
  trustedProxies: string[];
  routes: RouteConfig[];
  unmappedRoutes: UnmappedRoutes;
  upstream?: { url: string; timeoutMs: number };
  forwardAuth: { enabled: boolean };
  verifyApi: { enabled: boolean };
  identity: {
    jwt?: {
      issuer: string;
      audience?: string;
      ttlMs: number;
      algorithm?: JwtAlgorithm;
      signingKey: SigningKeySource;
    };
  };
  lastUsed: { enabled: boolean; intervalMs: number };
  metrics: { perKey: { enabled: boolean; maxKeys: number } };
  /** The Parquet audit trail of every decision; none when absent. */
  audit?: AuditSettings;
}
