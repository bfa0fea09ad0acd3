export interface ControllerOptions {
  /** Namespace of the operator: delivery Secrets and the leader Lease live here. */
  operatorNamespace: string;
  /** Watch only these namespaces; all when empty. */
  namespaces: string[];
  /** How long an unrevealed one-time delivery is kept. */
  deliveryTtlMs: number;
  /** Workers reconciling in parallel (one key is never reconciled twice at once). */
  concurrency: number;
  /** Every ApiKey is reconciled again this often, even with no change. */
  resyncMs: number;
  leaderElection: boolean;
  leaseName: string;
  identity: string;
  /** Folder for the Parquet audit trail of lifecycle events; none when absent. */
  auditDirectory?: string;
}

export const DEFAULT_OPTIONS: Omit<ControllerOptions, 'identity'> = {
  operatorNamespace: 'keywarden-system',
  namespaces: [],
  deliveryTtlMs: 24 * 3600_000,
  concurrency: 4,
  resyncMs: 10 * 60_000,
  leaderElection: true,
  leaseName: 'keywarden-controller',
};

/** The controller's /healthz, /readyz and /metrics port unless --admin-port says otherwise. */
export const DEFAULT_ADMIN_PORT = 8081;

export const FIELD_MANAGER = 'keywarden-controller';
