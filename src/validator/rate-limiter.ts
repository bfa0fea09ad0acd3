import {
  type BucketState,
  bucketCapacity,
  initialBucket,
  type TakeResult,
  takeTokenInPlace,
} from '../rules/index.ts';
import type { StoredKey } from './stored-key.ts';

// One token bucket per key id, in this replica's memory (limits are per replica: N replicas behind a
// load balancer allow up to N × the rate). The arithmetic is the shared rules'; this only keeps state.
// A full bucket carries no information, so idle keys are swept to keep the map small.

export class RateLimiter {
  readonly #buckets = new Map<string, BucketState>();

  /** undefined when the key has no rate limit. */
  take(key: StoredKey, nowMs: number): TakeResult | undefined {
    const config = key.rateLimit;
    if (!config) return undefined;
    let bucket = this.#buckets.get(key.keyId);
    if (bucket === undefined) {
      bucket = initialBucket(config, nowMs);
      this.#buckets.set(key.keyId, bucket);
    }
    // The bucket is this map's own: moved in place rather than replaced (no new state per request).
    return takeTokenInPlace(bucket, config, nowMs);
  }

  forget(keyId: string): void {
    this.#buckets.delete(keyId);
  }

  get size(): number {
    return this.#buckets.size;
  }

  /** Drops buckets that have refilled completely by `nowMs` (or whose key is gone). */
  sweep(nowMs: number, lookup: (keyId: string) => StoredKey | undefined): void {
    for (const [keyId, state] of this.#buckets) {
      const config = lookup(keyId)?.rateLimit;
      if (!config) {
        this.#buckets.delete(keyId);
        continue;
      }
      const msToFull = Math.ceil((bucketCapacity(config) * config.periodMs) / config.requests);
      if (nowMs - state.updatedMs >= msToFull) this.#buckets.delete(keyId);
    }
  }
}
