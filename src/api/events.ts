// The decision event: what the validator tells the audit trail (and its own metrics) about every
// request it decided. Shared by src/validator (which emits it) and src/audit (which stores it), so
// neither imports the other. Events never carry the key, only its id, and paths never carry the query
// string (it may hold secrets of other kinds).

/** The validator's front door a request came through. */
export type Door = 'authz' | 'proxy' | 'verify';

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
  /** The request's id (e.g. X-Request-Id from the ingress), to join with access logs. */
  requestId?: string | undefined;
}

/** Where decisions go: the validator calls record() for every decision and flush() on shutdown. */
export interface AuditSink {
  /** The sink may keep the event as is: the caller builds it for this call and never touches it again. */
  record(event: DecisionEvent): void;
  flush(): Promise<void>;
}

export const NO_AUDIT: AuditSink = {
  record() {},
  async flush() {},
};
