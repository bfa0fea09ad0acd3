import type { DevCluster } from './session.ts';

/** `  <what>  <url and note>` under the endpoints heading. */
export type Endpoint = [what: string, url: string];

/**
 * Where `keywarden dev` runs keywarden: as processes on this machine, or as pods on a local node. The
 * story it shows (src/cli/dev/story.ts) is the same on both.
 */
export interface DevBackend {
  /** The control plane, the CRDs, the webhook and the controller, up and ready. */
  start(): Promise<DevCluster>;
  /** The demo API behind a validator of `environment`; returns the URL this machine calls it at. */
  startDemo(cluster: DevCluster, environment: string): Promise<string>;
  /** What to print once everything is up. */
  endpoints(): Endpoint[] | Promise<Endpoint[]>;
  /** A copy of the validator's audit trail on this machine, for the console's request log. */
  readonly auditDir?: string;
  /** After a failure: the last lines of each part's log. */
  printLogs(): void | Promise<void>;
  /** Removes everything it started. */
  stop(): Promise<void>;
}
