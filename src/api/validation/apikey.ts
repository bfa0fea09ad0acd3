import { isDeepStrictEqual } from 'node:util';
import {
  checkExpiry,
  checkPermissions,
  consumerNamespaceProblem,
  DAY_MS,
  formatRfc3339,
  isExpired,
  isExpiringSoon,
  latestAllowedExpiry,
  type Problem,
  parseDuration,
  problem,
} from '../../rules/index.ts';
import type { ApiKey, ApiKeySpec } from '../index.ts';
import type { EffectivePolicy } from '../policy.ts';

// The ApiKey rules that depend on the clock and the policy, beside the types (as cert-manager keeps
// validation/ beside its API); the CRD's CEL rules have already run (schema, immutability). The
// admission webhook (webhook/validate.ts) answers with them. On UPDATE a rule runs only when a field it
// reads changed (like Kubernetes' validation ratcheting): a policy made stricter later does not block
// metadata writes such as the controller's finalizer, nor edits to unrelated fields of keys created
// under the old policy. Each problem's message is a whole sentence naming its field: the API server
// shows it to the user as it is.

export interface ApiKeyCheckContext {
  policy: EffectivePolicy;
  now: Date;
  /** keywarden's own namespace: never a place for consumer Secrets. */
  operatorNamespace: string;
  /** The ApiKey's namespace when its metadata has none (the request's namespace). */
  namespace?: string;
}

export interface ApiKeyCheck {
  /** Empty: the ApiKey is allowed. */
  problems: Problem[];
  /** Allowed, but worth telling the user (kubectl prints them); absent when nothing needed checking. */
  warnings?: string[];
  /** The spec is not the shape the CRD says (only a hand-made review gets here): a bad request. */
  malformed: boolean;
}

type ApiKeyObject = ApiKey & { metadata?: { namespace?: string; deletionTimestamp?: string } };

const unchecked: ApiKeyCheck = { problems: [], malformed: false };

/** Checks `key` (and, on an update, what changed since `old`) against the policy at `now`. */
export function checkApiKey(
  key: ApiKeyObject,
  old: ApiKey | undefined,
  ctx: ApiKeyCheckContext,
): ApiKeyCheck {
  if (key.metadata?.deletionTimestamp) return unchecked;
  const spec = key.spec;
  if (typeof spec !== 'object' || spec === null)
    return { problems: [problem('spec', 'spec is missing')], malformed: true };
  const shape = shapeProblem(spec);
  if (shape) return { problems: [shape], malformed: true };
  if (old && isDeepStrictEqual(old.spec, spec)) return unchecked;

  const changed = (...fields: (keyof ApiKeySpec)[]) =>
    !old || fields.some((f) => !isDeepStrictEqual(old.spec?.[f], spec[f]));
  const { policy } = ctx;
  const problems: Problem[] = [];
  const type = spec.type ?? 'private';

  problems.push(...expiryProblems(spec, old, ctx));
  if (changed('permissions', 'type')) {
    const catalogue = { permissions: policy.permissions, strict: policy.strictCatalogue };
    for (const message of checkPermissions(spec.permissions ?? [], type, catalogue))
      problems.push(problem('spec.permissions', message));
  }
  if (changed('allowedSources', 'environment', 'type')) problems.push(...sourcesRequired(spec, type, policy));
  const oldGeneration = old?.spec?.rotation?.generation ?? 0;
  const generation = spec.rotation?.generation ?? 0;
  if (old && generation < oldGeneration) {
    problems.push(
      problem(
        'spec.rotation.generation',
        `spec.rotation.generation ${generation} is lower than ${oldGeneration}; it may only go up (raise it to regenerate the key)`,
      ),
    );
  }
  if (spec.rotation?.gracePeriod !== undefined && changed('rotation')) {
    problems.push(...gracePeriodProblems(spec.rotation.gracePeriod, policy));
  }
  problems.push(...deliveryProblems(key, old, ctx));
  return { problems, warnings: expiryWarnings(spec, ctx), malformed: false };
}

/**
 * The API server has checked the schema before a validating webhook runs; this only guards the rules
 * below against a hand-made review with fields of the wrong type (answered 400, not a 500).
 */
function shapeProblem(spec: ApiKeySpec): Problem | undefined {
  const strings = (v: unknown) =>
    v === undefined || (Array.isArray(v) && v.every((s) => typeof s === 'string'));
  if (spec.expiresAt !== undefined && typeof spec.expiresAt !== 'string')
    return problem('spec.expiresAt', 'spec.expiresAt must be a string');
  if (!strings(spec.permissions))
    return problem('spec.permissions', 'spec.permissions must be a list of strings');
  if (!strings(spec.allowedSources))
    return problem('spec.allowedSources', 'spec.allowedSources must be a list of strings');
  if (spec.rotation !== undefined && (typeof spec.rotation !== 'object' || spec.rotation === null))
    return problem('spec.rotation', 'spec.rotation must be an object');
  return undefined;
}

/** The cap on create, on a change of expiresAt, and on enabling a disabled key again. */
function expiryProblems(
  spec: ApiKeySpec,
  old: ApiKey | undefined,
  { policy, now }: ApiKeyCheckContext,
): Problem[] {
  const field = 'spec.expiresAt';
  const latest = formatRfc3339(latestAllowedExpiry(now, policy.maxLifetimeDays));
  if (spec.expiresAt === undefined) {
    return [
      problem(
        field,
        `spec.expiresAt is required, at most one year ahead (the latest allowed now is ${latest}); the mutating webhook sets it when it is installed`,
      ),
    ];
  }
  const expiryChanged = !old || old.spec?.expiresAt !== spec.expiresAt;
  const reenabled = !!old?.spec?.disabled && !spec.disabled;
  if (!expiryChanged && !reenabled) return [];
  if (!expiryChanged) {
    const expired = old?.status?.state === 'Expired' || isExpired(spec.expiresAt, now);
    if (expired) {
      return [
        problem(
          field,
          `spec.expiresAt ${spec.expiresAt} has passed: enabling an expired key again needs a new spec.expiresAt, at most one year ahead (the latest allowed now is ${latest})`,
        ),
      ];
    }
  }
  const r = checkExpiry(spec.expiresAt, now, { maxLifetimeDays: policy.maxLifetimeDays });
  return r.ok ? [] : [problem(field, r.message)];
}

function expiryWarnings(spec: ApiKeySpec, { policy, now }: ApiKeyCheckContext): string[] {
  if (
    !spec.expiresAt ||
    spec.disabled ||
    !isExpiringSoon(spec.expiresAt, now, policy.expiringSoonDays * DAY_MS)
  )
    return [];
  return [
    `spec.expiresAt ${spec.expiresAt} is within ${policy.expiringSoonDays} days: the key will stop working then (set a later spec.expiresAt, at most ${formatRfc3339(latestAllowedExpiry(now, policy.maxLifetimeDays))})`,
  ];
}

function sourcesRequired(spec: ApiKeySpec, type: string, policy: EffectivePolicy): Problem[] {
  const required = policy.requireAllowedSources.some(
    (r) => r.environment === spec.environment && r.type === type,
  );
  if (!required || (spec.allowedSources ?? []).length > 0) return [];
  return [
    problem(
      'spec.allowedSources',
      `spec.allowedSources is empty, but the ApiKeyPolicy requires allowed sources for ${spec.environment} ${type} keys (requireAllowedSources): list the addresses or CIDRs the key may be used from, e.g. 10.0.0.0/8`,
    ),
  ];
}

function gracePeriodProblems(gracePeriod: string, policy: EffectivePolicy): Problem[] {
  const grace = parseDuration(gracePeriod);
  const max = parseDuration(policy.maxGracePeriod);
  // An unreadable gracePeriod is the CRD's to refuse (its CEL rule has the message).
  if (!grace.ok || !max.ok || grace.ms <= max.ms) return [];
  return [
    problem(
      'spec.rotation.gracePeriod',
      `spec.rotation.gracePeriod ${gracePeriod} is longer than the ApiKeyPolicy's maxGracePeriod ${policy.maxGracePeriod}`,
    ),
  ];
}

/**
 * Where the plaintext goes is fixed at creation (the CRD's CEL rule says so too; this is the backstop
 * for an API server that skipped it), so the webhook's access check runs exactly once, on create.
 */
function deliveryProblems(key: ApiKeyObject, old: ApiKey | undefined, ctx: ApiKeyCheckContext): Problem[] {
  const spec = key.spec;
  if (old && !isDeepStrictEqual(old.spec?.delivery, spec.delivery)) {
    return [
      problem(
        'spec.delivery',
        'spec.delivery is immutable: where the plaintext goes is fixed at creation (delete and re-create the ApiKey to change it)',
      ),
    ];
  }
  const secretRef = spec.delivery?.secretRef;
  if (!secretRef || old) return [];
  const own = key.metadata?.namespace ?? ctx.namespace ?? '';
  const message = consumerNamespaceProblem(secretRef.namespace ?? own, {
    apiKeyNamespace: own,
    operatorNamespace: ctx.operatorNamespace,
    allowList: ctx.policy.consumerSecretNamespaces,
  });
  return message ? [problem('spec.delivery.secretRef.namespace', message)] : [];
}
