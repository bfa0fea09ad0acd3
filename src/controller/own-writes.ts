// What this controller wrote and its informers have not shown yet. An informer cache lags the writes
// made through it by a watch round trip; a reconcile right after a write (the write itself wakes one)
// would otherwise plan from the older copy and write again. An entry hides the versions it replaced
// and stands in for them; once the cache shows anything else (the write, or a newer one by someone
// else) the cache is believed again.

interface Versioned {
  metadata: { uid?: string; resourceVersion?: string };
}

interface Entry<T> {
  /** What we wrote; undefined: we deleted it. */
  obj: T | undefined;
  /** resourceVersions our writes replaced: a cache still showing one of these is behind. */
  replaced: Set<string>;
  at: number;
}

export class OwnWrites<T extends Versioned> {
  readonly #entries = new Map<string, Entry<T>>();
  readonly #maxAgeMs: number;

  /** An entry older than `maxAgeMs` is dropped: by then the watch has delivered, or is broken anyway. */
  constructor(maxAgeMs = 60_000) {
    this.#maxAgeMs = maxAgeMs;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** We replaced `before` (undefined: created) with `after` (undefined: deleted). */
  wrote(key: string, before: T | undefined, after: T | undefined): void {
    const old = this.#entries.get(key);
    const replaced = new Set(old?.replaced);
    for (const rv of [before?.metadata.resourceVersion, old?.obj?.metadata.resourceVersion])
      if (rv) replaced.add(rv);
    this.#entries.set(key, { obj: after, replaced, at: Date.now() });
  }

  /** The freshest copy we know of: the cache's, unless it still shows what we replaced (or lacks what we made). */
  view(key: string, cached: T | undefined): T | undefined {
    const e = this.#entries.get(key);
    if (!e) return cached;
    if (Date.now() - e.at > this.#maxAgeMs) {
      this.#entries.delete(key);
      return cached;
    }
    const rv = cached?.metadata.resourceVersion;
    if (cached === undefined || (rv !== undefined && e.replaced.has(rv))) return e.obj;
    this.#entries.delete(key); // the cache shows our write, or something newer
    return cached;
  }

  /** An informer event: the cache is now at least as new as this object (or saw it deleted). */
  seen(key: string, obj: T, deleted: boolean): void {
    const e = this.#entries.get(key);
    if (!e) return;
    const rv = obj.metadata.resourceVersion;
    if (deleted ? e.obj === undefined || e.obj.metadata.uid === obj.metadata.uid : !e.replaced.has(rv ?? ''))
      this.#entries.delete(key);
  }

  forget(key: string): void {
    this.#entries.delete(key);
  }
}
