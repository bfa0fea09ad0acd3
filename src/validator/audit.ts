import type { Door } from './metrics.ts';

// Where each decision goes for the audit trail. The Parquet writer plugs in here; the validator only
// promises to call record() for every decision and flush() on shutdown. Events never carry the key,
// only its id, and paths never carry the query string (it may hold secrets of other kinds).

export interface DecisionEvent {
  timeMs: number;
  door: Door;
  /** The id from the presented key string, when it parsed (an id is not a secret). */
  keyId: string | undefined;
  environment: string | undefined;
  method: string;
  path: string;
  status: number;
  /** `ok` or the error code. */
  reason: string;
  clientIp: string | undefined;
  latencyMs: number;
  /**
   * The ApiKey the key belongs to, set only once the key's secret was proven (so an event with a
   * keyId and no ApiKey is an attempt that failed the secret check: `keywarden audit usage` counts those apart).
   */
  apiKeyNamespace?: string | undefined;
  apiKeyName?: string | undefined;
  requestId?: string | undefined;
}

export interface AuditSink {
  record(event: DecisionEvent): void;
  flush(): Promise<void>;
}

export const NO_AUDIT: AuditSink = {
  record() {},
  async flush() {},
};
