import type { Registry } from 'prom-client';

// What every long-running part of keywarden is to the runner (controller-runtime's Runnable plus the
// checks its Manager asks of it): the validator, the webhook, the controller and the console.
//
// Reporting: a component reports through what its constructor is given (a Logger, and a callback in
// its options when its owner must act, e.g. the controller's lost Lease). No `onX` property set after
// construction; EventEmitters only for streams of data several listeners follow (informer changes,
// certificate changes).

/** The answer to /healthz or /readyz: ok, or why not (shown after "not ok: "). */
export interface Check {
  ok: boolean;
  reason?: string;
}

export const OK: Check = { ok: true };

export interface Component {
  /** Names the component in the runner's logs and in an aggregated reason. */
  readonly name: string;
  /** Served on /metrics by the runner; none for a component with no metrics of its own. */
  readonly registry?: Registry;
  /** Resolves once the component is serving (or working); rejects if it cannot start. */
  start(): Promise<void>;
  /** Drains in-flight work, then releases everything start took. Safe to call twice. */
  stop(): Promise<void>;
  /** Alive and able to make progress; a failing check gets the process restarted. */
  health(): Check;
  /** Ready to serve; a failing check takes the process out of its Service. */
  ready(): Check;
}

/**
 * A component that only has something to release when the process stops, placed before the parts
 * that use it so that it is released after them (e.g. the audit trail, closed once the validator has
 * drained into it).
 */
export function releasing(name: string, release: () => Promise<void>): Component {
  return { name, start: async () => {}, stop: release, health: () => OK, ready: () => OK };
}
