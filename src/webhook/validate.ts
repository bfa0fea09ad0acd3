import { isDeepStrictEqual } from 'node:util';
import type { ApiKey, ApiKeySpec } from '../api/index.ts';
import type { EffectivePolicy } from '../api/policy.ts';
import type { Decision } from '../kube/admission/envelope.ts';
import type { AdmissionRequest } from '../kube/admission/review.ts';
import {
  checkExpiry,
  checkPermissions,
  consumerNamespaceProblem,
  DAY_MS,
  formatRfc3339,
  isExpired,
  isExpiringSoon,
  latestAllowedExpiry,
  parseDuration,
} from '../rules/index.ts';
import { DEFAULT_OPERATOR_NAMESPACE, type ReviewContext } from './handler.ts';

// The clock- and policy-dependent rules; the CRD's CEL rules have already run (schema, immutability).
// On UPDATE a rule runs only when a field it reads changed (like Kubernetes' validation ratcheting):
// a policy made stricter later does not block metadata writes such as the controller's finalizer, nor
// edits to unrelated fields of keys created under the old policy.

export function validateApiKey(req: AdmissionRequest, ctx: ReviewContext): Decision {
  const key = req.object as ApiKey & { metadata?: { namespace?: string; deletionTimestamp?: string } };
  const old = req.operation === 'UPDATE' ? (req.oldObject as ApiKey) : undefined;
  if (key.metadata?.deletionTimestamp) return { allowed: true };
  const spec = key.spec;
  if (typeof spec !== 'object' || spec === null)
    return { allowed: false, code: 400, message: 'spec is missing' };
  const shape = shapeProblem(spec);
  if (shape) return { allowed: false, code: 400, message: shape };
  if (old && isDeepStrictEqual(old.spec, spec)) return { allowed: true };

  const changed = (...fields: (keyof ApiKeySpec)[]) =>
    !old || fields.some((f) => !isDeepStrictEqual(old.spec?.[f], spec[f]));
  const { policy, now } = ctx;
  const problems: string[] = [];
  const type = spec.type ?? 'private';

  problems.push(...expiryProblems(spec, old, ctx));

  if (changed('permissions', 'type')) {
    const catalogue = { permissions: policy.permissions, strict: policy.strictCatalogue };
    problems.push(...checkPermissions(spec.permissions ?? [], type, catalogue));
  }
  if (changed('allowedSources', 'environment', 'type')) problems.push(...sourcesRequired(spec, type, policy));
  const oldGeneration = old?.spec?.rotation?.generation ?? 0;
  const generation = spec.rotation?.generation ?? 0;
  if (old && generation < oldGeneration) {
    problems.push(
      `spec.rotation.generation ${generation} is lower than ${oldGeneration}; it may only go up (raise it to regenerate the key)`,
    );
  }
  if (spec.rotation?.gracePeriod !== undefined && changed('rotation')) {
    problems.push(...gracePeriodProblems(spec.rotation.gracePeriod, policy));
  }
  // Where the plaintext goes is fixed at creation (the CRD's CEL rule says so too; this is the backstop
  // for an API server that skipped it), so the access check below runs exactly once, on create.
  if (old && !isDeepStrictEqual(old.spec?.delivery, spec.delivery)) {
    problems.push(
      'spec.delivery is immutable: where the plaintext goes is fixed at creation (delete and re-create the ApiKey to change it)',
    );
  }
  const secretRef = spec.delivery?.secretRef;
  if (secretRef && !old) {
    const own = key.metadata?.namespace ?? req.namespace ?? '';
    const problem = consumerNamespaceProblem(secretRef.namespace ?? own, {
      apiKeyNamespace: own,
      operatorNamespace: ctx.operatorNamespace ?? DEFAULT_OPERATOR_NAMESPACE,
      allowList: policy.consumerSecretNamespaces,
    });
    if (problem) problems.push(problem);
  }

  const warnings: string[] = [];
  if (
    spec.expiresAt &&
    !spec.disabled &&
    isExpiringSoon(spec.expiresAt, now, policy.expiringSoonDays * DAY_MS)
  ) {
    warnings.push(
      `spec.expiresAt ${spec.expiresAt} is within ${policy.expiringSoonDays} days: the key will stop working then (set a later spec.expiresAt, at most ${formatRfc3339(latestAllowedExpiry(now, policy.maxLifetimeDays))})`,
    );
  }
  // One problem per line: several messages already contain `;`.
  if (problems.length > 0) return { allowed: false, message: problems.join('\n'), warnings };
  return { allowed: true, warnings };
}

/**
 * The API server has checked the schema before a validating webhook runs; this only guards the rules
 * below against a hand-made review with fields of the wrong type (answered 400, not a 500).
 */
function shapeProblem(spec: ApiKeySpec): string | undefined {
  const strings = (v: unknown) =>
    v === undefined || (Array.isArray(v) && v.every((s) => typeof s === 'string'));
  if (spec.expiresAt !== undefined && typeof spec.expiresAt !== 'string')
    return 'spec.expiresAt must be a string';
  if (!strings(spec.permissions)) return 'spec.permissions must be a list of strings';
  if (!strings(spec.allowedSources)) return 'spec.allowedSources must be a list of strings';
  if (spec.rotation !== undefined && (typeof spec.rotation !== 'object' || spec.rotation === null))
    return 'spec.rotation must be an object';
  return undefined;
}

/** The cap on create, on a change of expiresAt, and on enabling a disabled key again. */
function expiryProblems(spec: ApiKeySpec, old: ApiKey | undefined, { policy, now }: ReviewContext): string[] {
  const latest = formatRfc3339(latestAllowedExpiry(now, policy.maxLifetimeDays));
  if (spec.expiresAt === undefined) {
    return [
      `spec.expiresAt is required, at most one year ahead (the latest allowed now is ${latest}); the mutating webhook sets it when it is installed`,
    ];
  }
  const expiryChanged = !old || old.spec?.expiresAt !== spec.expiresAt;
  const reenabled = !!old?.spec?.disabled && !spec.disabled;
  if (!expiryChanged && !reenabled) return [];
  if (!expiryChanged) {
    const expired = old?.status?.state === 'Expired' || isExpired(spec.expiresAt, now);
    if (expired) {
      return [
        `spec.expiresAt ${spec.expiresAt} has passed: enabling an expired key again needs a new spec.expiresAt, at most one year ahead (the latest allowed now is ${latest})`,
      ];
    }
  }
  const r = checkExpiry(spec.expiresAt, now, { maxLifetimeDays: policy.maxLifetimeDays });
  return r.ok ? [] : [r.message];
}

function sourcesRequired(spec: ApiKeySpec, type: string, policy: EffectivePolicy): string[] {
  const required = policy.requireAllowedSources.some(
    (r) => r.environment === spec.environment && r.type === type,
  );
  if (!required || (spec.allowedSources ?? []).length > 0) return [];
  return [
    `spec.allowedSources is empty, but the ApiKeyPolicy requires allowed sources for ${spec.environment} ${type} keys (requireAllowedSources): list the addresses or CIDRs the key may be used from, e.g. 10.0.0.0/8`,
  ];
}

function gracePeriodProblems(gracePeriod: string, policy: EffectivePolicy): string[] {
  const grace = parseDuration(gracePeriod);
  const max = parseDuration(policy.maxGracePeriod);
  // An unreadable gracePeriod is the CRD's to refuse (its CEL rule has the message).
  if (!grace.ok || !max.ok || grace.ms <= max.ms) return [];
  return [
    `spec.rotation.gracePeriod ${gracePeriod} is longer than the ApiKeyPolicy's maxGracePeriod ${policy.maxGracePeriod}`,
  ];
}
