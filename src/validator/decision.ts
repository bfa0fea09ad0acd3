import {
  digestMatches,
  type Environment,
  hasPermission,
  isExpiredAt,
  keyDigestInto,
  keyEnvironment,
  parseKey,
  type TakeResult,
  wellFormedKeyId,
} from '../rules/index.ts';
import type { StoredKey } from './stored-key.ts';

// The one decision behind every front door. Pure given its inputs: the key store lookup, the clock and
// the rate limiter are passed in. The order is the contract (see docs/validator.md): each check runs
// only when all before it passed, so a malformed key costs no lookup, and nothing about a key (its
// environment, state or permissions) is revealed before its secret has been proven.

export type DenyCode =
  | 'key_malformed'
  | 'key_unknown'
  | 'wrong_environment'
  | 'key_disabled'
  | 'key_expired'
  | 'source_not_allowed'
  | 'route_not_mapped'
  | 'permission_denied'
  | 'rate_limited';

/** What the request needs: one permission, nothing beyond a valid key, or a route the config does not map. */
export type Requirement = { permission: string } | { anyValidKey: true } | { unmapped: true };

export interface DecisionInput {
  /** The presented key, as sent (undefined when none was sent). */
  key: string | undefined;
  /** The client's address; undefined when unknown, which no allowlist matches. */
  clientIp: string | undefined;
  requirement: Requirement;
  nowMs: number;
}

export interface DecisionContext {
  environment: Environment;
  lookup: (keyId: string) => StoredKey | undefined;
  unmappedRoutes: 'deny' | 'allow';
  /** Takes a token; undefined when the key has no limit. Called only once every other check passed. */
  takeToken: (key: StoredKey, nowMs: number) => TakeResult | undefined;
}

export type Decision =
  | { allowed: true; status: 200; key: StoredKey; rate: TakeResult | undefined; environment: Environment }
  | {
      allowed: false;
      status: 401 | 403 | 429;
      code: DenyCode;
      message: string;
      /** Set once the key's secret was proven (the caller may then name the key in logs and metrics). */
      key: StoredKey | undefined;
      rate: TakeResult | undefined;
      /** The id and environment the key string names, when it parsed (not secret; not yet proven). */
      keyId: string | undefined;
      environment: Environment | undefined;
    };

/** A refusal; `key` only once the secret was proven, `keyId` and `environment` once the key parsed. */
function deny(
  status: 401 | 403 | 429,
  code: DenyCode,
  message: string,
  key?: StoredKey,
  keyId?: string,
  environment?: Environment,
  rate?: TakeResult,
): Decision {
  return { allowed: false, status, code, message, key, rate, keyId, environment };
}

const UNKNOWN = 'the key is not known to this validator (never issued, revoked, or replaced by a newer one)';

/** What is kept of a presented key after parsing: never the plaintext, only its id and hash. */
export interface PresentedKey {
  keyId: string;
  environment: Environment;
  /** SHA-256 digest (bytes) of the key as sent. */
  digest: Buffer;
}

/**
 * The presented key's digest, reused by every decide: a Buffer per call cost more than the hash. Safe
 * to share: it is written and last read within one synchronous step (before takeToken, the only
 * callback after it), and it holds a digest, never the key.
 */
const DIGEST = Buffer.alloc(32);

export function decide(input: DecisionInput, ctx: DecisionContext): Decision {
  const key = input.key;
  // The same checks as parseKey, without building its result: only why a key is refused needs that.
  const keyId = key === undefined ? undefined : wellFormedKeyId(key);
  if (key === undefined || keyId === undefined) return deny(401, 'key_malformed', malformedMessage(key));
  const environment = keyEnvironment(key);
  // A malformed key costs no lookup; an unknown id costs no hash.
  const stored = ctx.lookup(keyId);
  if (!stored) return deny(401, 'key_unknown', UNKNOWN, undefined, keyId, environment);
  return decideStored(keyId, environment, keyDigestInto(key, DIGEST), input, ctx, stored);
}

function malformedMessage(key: string | undefined): string {
  if (key === undefined) return 'no API key: send it as Authorization: Bearer <key> or X-API-Key: <key>';
  const parsed = parseKey(key);
  return parsed.ok ? 'the key is malformed' : parsed.message; // parsed.ok never: wellFormedKeyId refused it
}

/**
 * The decision from step 2 on, for a key already parsed and hashed: also how an open websocket tunnel
 * is checked again when its key changes or its time runs out (with a `takeToken` that takes none).
 */
export function decidePresented(
  presented: PresentedKey,
  input: Omit<DecisionInput, 'key'>,
  ctx: DecisionContext,
): Decision {
  const { keyId, environment, digest } = presented;
  const stored = ctx.lookup(keyId);
  if (!stored) return deny(401, 'key_unknown', UNKNOWN, undefined, keyId, environment);
  return decideStored(keyId, environment, digest, input, ctx, stored);
}

/** From the secret's proof on. Arguments one by one: the allowed path builds no object but its answer. */
function decideStored(
  keyId: string,
  environment: Environment,
  digest: Buffer,
  input: Omit<DecisionInput, 'key'>,
  ctx: DecisionContext,
  stored: StoredKey,
): Decision {
  // Compare in constant time with the current hash and, inside a grace period, the previous one.
  const current = digestMatches(digest, stored.hashBytes);
  const previous =
    !current &&
    stored.previousHashBytes !== undefined &&
    stored.previousValidUntilMs !== undefined &&
    input.nowMs < stored.previousValidUntilMs &&
    digestMatches(digest, stored.previousHashBytes);
  if (!current && !previous) return deny(401, 'key_unknown', UNKNOWN, undefined, keyId, environment);
  if (environment !== ctx.environment || stored.record.environment !== ctx.environment) {
    const message = `this validator serves ${ctx.environment} keys; this is a ${environment} key`;
    return deny(401, 'wrong_environment', message, stored, keyId, environment);
  }
  if (stored.record.disabled)
    return deny(401, 'key_disabled', 'the key is disabled', stored, keyId, environment);
  if (isExpiredAt(stored.expiresAtMs, input.nowMs)) {
    const message = `the key expired at ${stored.record.expiresAt}`;
    return deny(401, 'key_expired', message, stored, keyId, environment);
  }
  if (
    stored.record.allowedSources.length > 0 &&
    (input.clientIp === undefined || !stored.sources.allows(input.clientIp))
  ) {
    const message = 'the key may not be used from this address';
    return deny(403, 'source_not_allowed', message, stored, keyId, environment);
  }
  const req = input.requirement;
  if ('unmapped' in req && ctx.unmappedRoutes === 'deny') {
    const message = 'no route in the validator configuration matches this method and path';
    return deny(403, 'route_not_mapped', message, stored, keyId, environment);
  }
  if ('permission' in req && !hasPermission(stored.record.permissions, req.permission)) {
    const message = `the key lacks the permission ${req.permission}`;
    return deny(403, 'permission_denied', message, stored, keyId, environment);
  }
  const rate = ctx.takeToken(stored, input.nowMs);
  if (rate && !rate.allowed) {
    const message = `rate limit exceeded: retry after ${rate.retryAfterSeconds} s`;
    return deny(429, 'rate_limited', message, stored, keyId, environment, rate);
  }
  return { allowed: true, status: 200, key: stored, rate, environment };
}
