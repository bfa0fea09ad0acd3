import type { EffectivePolicy } from '../../api/policy.ts';
import { isCustomer } from '../../rules/customers.ts';
import { parseDuration } from '../../rules/duration.ts';
import { checkExpiry, defaultExpiry, formatRfc3339, latestAllowedExpiry } from '../../rules/expiry.ts';
import { isObjectName } from '../../rules/names.ts';
import { checkPermissions } from '../../rules/permissions.ts';
import { parseSource } from '../../rules/sources.ts';
import type { ConsoleKey } from '../view.ts';

// What the Create Key and Edit Key form holds, checks and sends. Every check is a src/rules function (the webhook's own), run as the
// user types; the webhook still has the last word and its refusal is shown by the field it names.

export interface FormValues {
  namespace: string;
  name: string;
  description: string;
  environment: string;
  type: 'public' | 'private';
  permissions: string[];
  /** YYYY-MM-DD (UTC) from the date picker. */
  expiryDate: string;
  sources: string;
  rateRequests: string;
  ratePeriod: string;
  rateBurst: string;
  customers: string;
  /** On edit, the key's expiresAt: kept as it is while its day is not changed. */
  originalExpiresAt?: string | undefined;
}

export const dateOf = (d: Date) => formatRfc3339(d).slice(0, 10);
export const lines = (s: string) =>
  s
    .split(/[\n,]/)
    .map((x) => x.trim())
    .filter(Boolean);

/**
 * The expiry for a picked day: that day at the current time of day (UTC); on the cap's own day, the cap
 * itself (so the last day offered is always accepted). A day past the cap stays past it, for the rules
 * to refuse with their message.
 */
export function expiryFromDate(day: string, now: Date, maxLifetimeDays: number): string {
  const at = new Date(`${day}T${formatRfc3339(now).slice(11)}`);
  if (Number.isNaN(at.getTime())) return day;
  const cap = latestAllowedExpiry(now, maxLifetimeDays);
  return formatRfc3339(day === dateOf(cap) && at.getTime() > cap.getTime() ? cap : at);
}

export function initialValues(policy: EffectivePolicy, namespace: string, key?: ConsoleKey): FormValues {
  const now = new Date();
  const expiry =
    key?.spec.expiresAt ??
    formatRfc3339(defaultExpiry(now, policy.defaultLifetimeDays, policy.maxLifetimeDays));
  return {
    namespace: key?.metadata.namespace ?? namespace,
    name: key?.metadata.name ?? '',
    description: key?.spec.description ?? '',
    environment: key?.spec.environment ?? 'staging',
    type: key?.spec.type ?? 'private',
    permissions: key?.spec.permissions ?? [],
    expiryDate: expiry.slice(0, 10),
    sources: (key?.spec.allowedSources ?? []).join('\n'),
    rateRequests: key?.spec.rateLimit ? String(key.spec.rateLimit.requests) : '',
    ratePeriod: key?.spec.rateLimit?.period ?? '1m',
    rateBurst: key?.spec.rateLimit?.burst ? String(key.spec.rateLimit.burst) : '',
    customers: (key?.spec.customers ?? []).join(', '),
    originalExpiresAt: key?.spec.expiresAt,
  };
}

const expiryUnchanged = (v: FormValues) =>
  v.originalExpiresAt !== undefined && v.originalExpiresAt.slice(0, 10) === v.expiryDate;

/** Messages by field (spec.x or metadata.x), from the shared rules. */
export function validate(
  v: FormValues,
  policy: EffectivePolicy,
  now: Date,
  creating: boolean,
): Record<string, string> {
  const errors: Record<string, string> = {};
  if (creating) {
    if (!isObjectName(v.namespace))
      errors['metadata.namespace'] = 'A namespace name: lower case letters, digits and -.';
    if (!isObjectName(v.name))
      errors['metadata.name'] = 'A name of lower case letters, digits, - and . (e.g. billing-api).';
  }
  if (v.description.length > 256) errors['spec.description'] = 'At most 256 characters.';
  const perms = checkPermissions(v.permissions, v.type, {
    permissions: policy.permissions,
    strict: policy.strictCatalogue,
  });
  if (perms.length) errors['spec.permissions'] = perms.join('\n');
  if (!expiryUnchanged(v)) {
    const expiry = checkExpiry(expiryFromDate(v.expiryDate, now, policy.maxLifetimeDays), now, {
      maxLifetimeDays: policy.maxLifetimeDays,
    });
    if (!expiry.ok) errors['spec.expiresAt'] = expiry.message;
  }
  const sourceErrors = lines(v.sources)
    .map((s) => parseSource(s))
    .flatMap((r) => (r.ok ? [] : [r.message]));
  if (sourceErrors.length) errors['spec.allowedSources'] = sourceErrors.join('\n');
  if (v.rateRequests) {
    const n = Number(v.rateRequests);
    if (!Number.isInteger(n) || n < 1 || n > 1_000_000)
      errors['spec.rateLimit'] = 'Requests: a whole number from 1 to 1000000.';
    const p = parseDuration(v.ratePeriod);
    if (!p.ok) errors['spec.rateLimit'] = p.message;
    if (v.rateBurst && !(Number.isInteger(Number(v.rateBurst)) && Number(v.rateBurst) >= 1))
      errors['spec.rateLimit'] = 'Burst: a whole number, 1 or more.';
  }
  const badCustomers = lines(v.customers).filter((c) => !isCustomer(c));
  if (badCustomers.length)
    errors['spec.customers'] =
      `Not a customer id: ${badCustomers.join(', ')} (lower case letters, digits, . _ -).`;
  return errors;
}

/** The spec the form describes (on edit, only the fields the form edits; null removes a rate limit). */
export function specOf(
  v: FormValues,
  policy: EffectivePolicy,
  now: Date,
  creating: boolean,
): Record<string, unknown> {
  const rateLimit = v.rateRequests
    ? {
        requests: Number(v.rateRequests),
        period: v.ratePeriod,
        ...(v.rateBurst ? { burst: Number(v.rateBurst) } : {}),
      }
    : null;
  const spec: Record<string, unknown> = {
    description: v.description,
    permissions: v.permissions,
    expiresAt: expiryUnchanged(v)
      ? v.originalExpiresAt
      : expiryFromDate(v.expiryDate, now, policy.maxLifetimeDays),
    allowedSources: lines(v.sources),
    customers: lines(v.customers),
    rateLimit,
  };
  if (creating) {
    spec.environment = v.environment;
    spec.type = v.type;
    if (!rateLimit) delete spec.rateLimit;
  }
  return spec;
}

/** Whether a rule's message on `field` shows before the user asks to submit: once the field has text. */
export function fieldTouched(v: FormValues, field: string): boolean {
  switch (field) {
    case 'spec.allowedSources':
      return v.sources !== '';
    case 'spec.customers':
      return v.customers !== '';
    case 'metadata.name':
      return v.name !== '';
    default:
      return true;
  }
}
