// Token bucket arithmetic, pure: the caller keeps the state and passes the clock in.
//
// `requests` per `periodMs` is the sustained rate: the bucket refills at requests/periodMs.
// `burst` is the instantaneous ceiling: how many tokens the bucket holds, i.e. how many requests can
// arrive at once after a quiet spell. Without it the bucket holds `requests`.
//
// The level is kept as an integer in units of 1/periodMs token, so that refill (elapsed ms × requests)
// is exact and "wait retryAfter seconds, then try again" always succeeds: no floating-point drift.

export interface RateLimitConfig {
  requests: number;
  periodMs: number;
  burst?: number;
}

export interface BucketState {
  /** Tokens × scale (an integer). */
  level: number;
  /** The periodMs the level was computed with; a state from another config is rescaled. */
  scale: number;
  /** Time of the last refill. Never moves backwards. */
  updatedMs: number;
}

export interface TakeResult {
  allowed: boolean;
  state: BucketState;
  /** Bucket capacity. */
  limit: number;
  /** Whole tokens left after this request. */
  remaining: number;
  /** 0 when allowed; otherwise whole seconds (at least 1) after which the same request will succeed. */
  retryAfterSeconds: number;
  /** Whole seconds until the bucket is full again. */
  resetSeconds: number;
}

function checkConfig(config: RateLimitConfig): void {
  const { requests, periodMs, burst } = config;
  if (!Number.isSafeInteger(requests) || requests < 1)
    throw new RangeError('requests must be a positive integer');
  if (!Number.isSafeInteger(periodMs) || periodMs < 1)
    throw new RangeError('periodMs must be a positive integer');
  if (burst !== undefined && (!Number.isSafeInteger(burst) || burst < 1)) {
    throw new RangeError('burst must be a positive integer');
  }
  if (!Number.isSafeInteger((burst ?? requests) * periodMs))
    throw new RangeError('capacity × periodMs is too large');
}

export function bucketCapacity(config: RateLimitConfig): number {
  return config.burst ?? config.requests;
}

/** A full bucket. */
export function initialBucket(config: RateLimitConfig, nowMs: number): BucketState {
  checkConfig(config);
  return {
    level: bucketCapacity(config) * config.periodMs,
    scale: config.periodMs,
    updatedMs: Math.floor(nowMs),
  };
}

/**
 * Takes `cost` tokens if the bucket (refilled up to `nowMs`) holds them. Never mutates `state`.
 * A clock that goes backwards refills nothing, and the refill restarts from the latest time seen.
 */
export function takeToken(state: BucketState, config: RateLimitConfig, nowMs: number, cost = 1): TakeResult {
  return takeTokenInPlace({ ...state }, config, nowMs, cost);
}

/**
 * takeToken that moves `state` itself (a bucket its caller owns and keeps) to the new level, and returns
 * it as the result's state: one object fewer per request on the validator's hot path.
 */
export function takeTokenInPlace(
  state: BucketState,
  config: RateLimitConfig,
  nowMs: number,
  cost = 1,
): TakeResult {
  checkConfig(config);
  const capacity = bucketCapacity(config);
  if (!Number.isSafeInteger(cost) || cost < 1 || cost > capacity) {
    throw new RangeError(`cost must be a whole number from 1 to the capacity (${capacity})`);
  }
  const { requests, periodMs } = config;
  const full = capacity * periodMs;
  const now = Math.floor(nowMs);
  let level = state.scale === periodMs ? state.level : Math.floor((state.level / state.scale) * periodMs);
  level = Math.min(full, Math.max(0, level));
  const updatedMs = Math.max(state.updatedMs, now);
  const elapsed = updatedMs - state.updatedMs;
  // Only as many milliseconds as it takes to fill up, so elapsed × requests cannot leave the safe range.
  const useful = Math.min(elapsed, Math.ceil((full - level) / requests));
  level = Math.min(full, level + useful * requests);
  const need = cost * periodMs;
  const allowed = level >= need;
  if (allowed) level -= need;
  const retryMs = allowed ? 0 : Math.ceil((need - level) / requests);
  state.level = level;
  state.scale = periodMs;
  state.updatedMs = updatedMs;
  return {
    allowed,
    state,
    limit: capacity,
    remaining: Math.floor(level / periodMs),
    retryAfterSeconds: allowed ? 0 : Math.max(1, Math.ceil(retryMs / 1000)),
    resetSeconds: Math.ceil(Math.ceil((full - level) / requests) / 1000),
  };
}

/** `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (seconds), and `Retry-After` when refused. */
export function rateLimitHeaders(result: TakeResult): Record<string, string> {
  const headers: Record<string, string> = {
    'RateLimit-Limit': String(result.limit),
    'RateLimit-Remaining': String(result.remaining),
    'RateLimit-Reset': String(result.resetSeconds),
  };
  if (!result.allowed) headers['Retry-After'] = String(result.retryAfterSeconds);
  return headers;
}
