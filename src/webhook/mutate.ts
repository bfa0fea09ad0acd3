import { REVEAL_ANNOTATIONS } from '../api/metadata.ts';
import type { Decision } from '../kube/admission/envelope.ts';
import { PatchBuilder } from '../kube/admission/json-patch.ts';
import type { AdmissionRequest } from '../kube/admission/review.ts';
import { defaultExpiry, formatRfc3339, normalizePermissions, normalizeSources } from '../rules/index.ts';
import type { ReviewContext } from './handler.ts';

// Defaults and normal forms, as a JSON Patch. Mutation runs before the API server checks the schema,
// so a field of the wrong shape is left alone for the schema to refuse with its own message.

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStringArray = (v: unknown): v is string[] =>
  Array.isArray(v) && v.every((s) => typeof s === 'string');

export function mutateApiKey(req: AdmissionRequest, ctx: ReviewContext): Decision {
  const obj = structuredClone(req.object);
  if (!isObject(obj) || !isObject(obj.spec)) return { allowed: true };
  const meta = isObject(obj.metadata) ? obj.metadata : {};
  if (meta.deletionTimestamp) return { allowed: true };
  const spec = obj.spec;
  const patch = new PatchBuilder(obj);

  // The CRD defaults type already; kept here so an older CRD or a schema without the default still works.
  if (spec.type === undefined) patch.set(['spec', 'type'], 'private');

  if (spec.expiresAt === undefined) {
    // An update that drops expiresAt (e.g. server-side apply by a manager that never set it) keeps the
    // current expiry: defaulting again would quietly extend the key by another year.
    const old =
      isObject(req.oldObject) && isObject(req.oldObject.spec) ? req.oldObject.spec.expiresAt : undefined;
    const value =
      typeof old === 'string'
        ? old
        : formatRfc3339(defaultExpiry(ctx.now, ctx.policy.defaultLifetimeDays, ctx.policy.maxLifetimeDays));
    patch.set(['spec', 'expiresAt'], value);
  }

  // No labels: the controller sets keywarden.dev/environment and /type with its first patch, and a
  // field selector on spec.environment / spec.type answers at once. A patch that adds labels made the
  // API server decode and admit every created object twice (issue 14: most of kubectl apply's cost).

  if (isStringArray(spec.permissions))
    patch.set(['spec', 'permissions'], normalizePermissions(spec.permissions));
  if (isStringArray(spec.allowedSources)) {
    const normal = normalizeSources(spec.allowedSources);
    if (normal.ok) patch.set(['spec', 'allowedSources'], normal.sources);
  }
  stampRevealRequester(req, meta, patch);
  return { allowed: true, patch: patch.ops };
}

/**
 * The audit trail names who revealed a key from `keywarden.dev/reveal-requested-by`: set here, from the
 * API server's userInfo, whenever the reveal request changes, and otherwise kept as it was, so no
 * client can write someone else's name into it.
 */
function stampRevealRequester(req: AdmissionRequest, meta: Json, patch: PatchBuilder): void {
  const annotationsOf = (m: unknown): Json =>
    isObject(m) && isObject(m.metadata) && isObject(m.metadata.annotations) ? m.metadata.annotations : {};
  const now = isObject(meta.annotations) ? meta.annotations : {};
  const before = annotationsOf(req.oldObject);
  const path = ['metadata', 'annotations', REVEAL_ANNOTATIONS.requestedBy];
  const request = now[REVEAL_ANNOTATIONS.request];
  if (typeof request === 'string' && request !== before[REVEAL_ANNOTATIONS.request]) {
    const user = req.userInfo?.username;
    if (user) patch.set(path, user);
    else patch.remove(path);
    return;
  }
  const kept = before[REVEAL_ANNOTATIONS.requestedBy];
  if (typeof kept === 'string') patch.set(path, kept);
  else patch.remove(path);
}
