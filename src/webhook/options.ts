import type { InjectorConfig } from '../injector/index.ts';
import type { BootstrapOptions } from './tls/bootstrap.ts';

/** How the serving certificate is obtained. */
export type TlsOptions =
  | (Omit<BootstrapOptions, 'recheckMs'> & {
      mode: 'bootstrap';
      /** Webhook configurations whose caBundle this process keeps up to date. */
      mutatingConfigurations: string[];
      validatingConfigurations: string[];
    })
  | { mode: 'files'; certFile: string; keyFile: string; reloadIntervalMs: number };

export interface WebhookOptions {
  host: string;
  port: number;
  maxBodyBytes: number;
  /** How long to wait for the ApiKeyPolicy cache before giving up at start. */
  policySyncTimeoutMs: number;
  tls: TlsOptions;
  /** keywarden's own namespace: spec.delivery.secretRef may never point into it. */
  operatorNamespace: string;
  /** Pod injection settings; without them /pods/inject is not served. */
  injector?: InjectorConfig;
}

const HOUR = 3_600_000;

export const WEBHOOK_DEFAULTS = {
  host: '0.0.0.0',
  port: 9443,
  adminPort: 8082,
  maxBodyBytes: 3 * 1024 * 1024,
  policySyncTimeoutMs: 60_000,
  namespace: 'keywarden-system',
  serviceName: 'keywarden-webhook',
  secretName: 'keywarden-webhook-tls',
  certValidityMs: 90 * 24 * HOUR,
  renewBeforeMs: 30 * 24 * HOUR,
  caValidityMs: 10 * 365 * 24 * HOUR,
  reloadIntervalMs: 10_000,
} as const;

/** The DNS names a Service gets inside the cluster, as the API server dials it. */
export function serviceDnsNames(service: string, namespace: string): string[] {
  return [`${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`];
}
