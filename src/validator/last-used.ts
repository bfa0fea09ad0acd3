import { APIKEY_RESOURCE } from '../api/index.ts';
import { isConflict, isNotFound, type KubeRest, resourcePath } from '../kube/rest.ts';
import { formatRfc3339 } from '../rules/index.ts';
import type { StoredKey } from './stored-key.ts';

// status.lastUsedAt, reported at most once per interval (default a minute) per key by this replica,
// and never backwards: several replicas race, so each write reads the current value first and sends
// it back as a merge patch carrying the resourceVersion it read. A newer value already there wins;
// a concurrent write makes ours fail with 409 and we read again. Needs get+patch on apikeys/status only.

interface Entry {
  namespace: string;
  name: string;
  uid: string;
  usedMs: number;
  dirty: boolean;
  /** When we last wrote (or found a newer value); 0 = never, so a first use is reported at once. */
  reportedAtMs: number;
}

export type LastUsedOutcome = 'written' | 'newer_exists' | 'gone' | 'error';

interface StatusObject {
  metadata: { uid?: string; resourceVersion?: string };
  status?: { lastUsedAt?: string };
}

export class LastUsedReporter {
  readonly #rest: KubeRest;
  readonly #intervalMs: number;
  readonly #entries = new Map<string, Entry>();
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  /** Told how each write went (the validator counts them and logs errors). */
  readonly #onOutcome: (outcome: LastUsedOutcome | 'conflict', err?: unknown) => void;

  constructor(
    rest: KubeRest,
    intervalMs: number,
    onOutcome: (outcome: LastUsedOutcome | 'conflict', err?: unknown) => void = () => {},
  ) {
    this.#rest = rest;
    this.#intervalMs = intervalMs;
    this.#onOutcome = onOutcome;
  }

  /** Hot path: remember the use; the write happens later, off the request. */
  seen(key: StoredKey, nowMs: number): void {
    const id = `${key.record.apiKey.namespace}/${key.record.apiKey.name}`;
    const e = this.#entries.get(id);
    if (e && e.uid === key.record.apiKey.uid) {
      if (nowMs > e.usedMs) e.usedMs = nowMs;
      e.dirty = true;
      return;
    }
    const { namespace, name, uid } = key.record.apiKey;
    this.#entries.set(id, { namespace, name, uid, usedMs: nowMs, dirty: true, reportedAtMs: 0 });
  }

  start(tickMs = Math.min(5_000, this.#intervalMs)): void {
    this.#timer = setInterval(() => void this.flush(false), tickMs);
    this.#timer.unref();
  }

  /** Stops the timer and writes everything still pending, due or not (used at shutdown). */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    await this.#flushing;
    await this.flush(true);
  }

  /** Reports the keys that are due (or all pending ones with `all`), four at a time. */
  flush(all: boolean, nowMs = Date.now()): Promise<void> {
    if (this.#flushing) return this.#flushing;
    const due = [...this.#entries.values()].filter(
      (e) => e.dirty && (all || nowMs - e.reportedAtMs >= this.#intervalMs),
    );
    this.#flushing = (async () => {
      const queue = [...due];
      const worker = async () => {
        for (let e = queue.shift(); e; e = queue.shift()) {
          e.dirty = false;
          const { outcome, err } = await this.#report(e);
          this.#onOutcome(outcome, err);
          if (outcome === 'gone') this.#entries.delete(`${e.namespace}/${e.name}`);
          else if (outcome === 'error') e.dirty = true;
          else e.reportedAtMs = Date.now();
        }
      };
      await Promise.all([worker(), worker(), worker(), worker()]);
    })().finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  async #report(e: Entry): Promise<{ outcome: LastUsedOutcome; err?: unknown }> {
    const path = resourcePath(APIKEY_RESOURCE, e.namespace, e.name, 'status');
    const usedAt = formatRfc3339(new Date(e.usedMs));
    for (let attempt = 0; attempt < 4; attempt++) {
      try {
        const current = await this.#rest.get<StatusObject>(path);
        // Another ApiKey of the same name (deleted and re-created) is not ours to touch.
        if (current.metadata.uid !== e.uid) return { outcome: 'gone' };
        const previous = current.status?.lastUsedAt ? Date.parse(current.status.lastUsedAt) : Number.NaN;
        if (!Number.isNaN(previous) && previous >= Date.parse(usedAt)) return { outcome: 'newer_exists' };
        await this.#rest.patch(
          path,
          {
            metadata: { uid: e.uid, resourceVersion: current.metadata.resourceVersion },
            status: { lastUsedAt: usedAt },
          },
          'merge',
        );
        return { outcome: 'written' };
      } catch (err) {
        if (isNotFound(err)) return { outcome: 'gone' };
        if (isConflict(err)) {
          this.#onOutcome('conflict', err);
          continue;
        }
        return { outcome: 'error', err };
      }
    }
    return { outcome: 'error', err: new Error('status kept changing under us (4 conflicts in a row)') };
  }
}
