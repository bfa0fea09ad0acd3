// A rate-limited work queue in the manner of client-go's: keys (namespace/name) are deduplicated, a key
// being processed is never handed to a second worker (a re-add while it runs is kept as "dirty" and
// processed once it finishes), failures back off exponentially per key, and delayed adds wake a key up
// at a given time (expiry, grace cut-off, TTL) without polling.

export interface WorkQueueOptions {
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  /** Told the seconds a key waited in the queue before a worker took it. */
  onQueueLatency?: (seconds: number) => void;
}

export class WorkQueue {
  readonly #queue: string[] = [];
  readonly #queued = new Set<string>();
  readonly #processing = new Set<string>();
  readonly #dirty = new Set<string>();
  readonly #failures = new Map<string, number>();
  readonly #delayed = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  readonly #addedAt = new Map<string, number>();
  readonly #waiters: (() => void)[] = [];
  readonly #base: number;
  readonly #max: number;
  #shutdown = false;
  adds = 0;
  retries = 0;
  readonly #onQueueLatency: (seconds: number) => void;

  constructor(opts: WorkQueueOptions = {}) {
    this.#base = opts.baseBackoffMs ?? 50;
    this.#max = opts.maxBackoffMs ?? 60_000;
    this.#onQueueLatency = opts.onQueueLatency ?? (() => {});
  }

  get depth(): number {
    return this.#queue.length;
  }

  /** Keys being worked on right now (taken with get, not yet done). */
  get inFlight(): number {
    return this.#processing.size;
  }

  add(key: string): void {
    if (this.#shutdown) return;
    this.adds++;
    if (this.#processing.has(key)) {
      this.#dirty.add(key);
      return;
    }
    if (this.#queued.has(key)) return;
    this.#queued.add(key);
    this.#queue.push(key);
    this.#addedAt.set(key, Date.now());
    this.#waiters.shift()?.();
  }

  /** Adds the key after `delayMs`; an earlier pending delayed add for the same key wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.#shutdown) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const at = Date.now() + delayMs;
    const existing = this.#delayed.get(key);
    if (existing && existing.at <= at) return;
    if (existing) clearTimeout(existing.timer);
    // setTimeout caps at ~24.8 days; re-arm for anything longer.
    const wait = Math.min(delayMs, 2_000_000_000);
    const timer = setTimeout(() => {
      this.#delayed.delete(key);
      if (wait < delayMs) this.addAfter(key, at - Date.now());
      else this.add(key);
    }, wait);
    timer.unref();
    this.#delayed.set(key, { at, timer });
  }

  /** Re-adds after a per-key exponential backoff. */
  addRateLimited(key: string): void {
    const n = (this.#failures.get(key) ?? 0) + 1;
    this.#failures.set(key, n);
    this.retries++;
    this.addAfter(key, Math.min(this.#max, this.#base * 2 ** (n - 1)));
  }

  /** Clears the key's failure count after a success. */
  forget(key: string): void {
    this.#failures.delete(key);
  }

  failures(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  /** Waits for the next key; undefined once shut down. */
  async get(): Promise<string | undefined> {
    while (this.#queue.length === 0) {
      if (this.#shutdown) return undefined;
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    const key = this.#queue.shift() as string;
    this.#queued.delete(key);
    this.#processing.add(key);
    const addedAt = this.#addedAt.get(key);
    this.#addedAt.delete(key);
    if (addedAt !== undefined) this.#onQueueLatency((Date.now() - addedAt) / 1000);
    return key;
  }

  /** Marks the key finished; if it was re-added meanwhile it goes back in the queue. */
  done(key: string): void {
    this.#processing.delete(key);
    if (this.#dirty.delete(key)) this.add(key);
  }

  shutDown(): void {
    this.#shutdown = true;
    for (const { timer } of this.#delayed.values()) clearTimeout(timer);
    this.#delayed.clear();
    for (const w of this.#waiters.splice(0)) w();
  }
}
