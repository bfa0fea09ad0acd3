import type { ApiKey, ApiKeyState } from '../api/index.ts';
import { matchesSearch } from '../api/search.ts';
import { DAY_MS, isExpiringSoon, parseRfc3339 } from '../rules/expiry.ts';

// What the console shows of an ApiKey, and its filters: pure, bundled into the page and tested as units.
// Imports name the rule files one by one (not src/rules/index.ts), so no node: module enters the bundle.

export type ConsoleKey = ApiKey & {
  metadata: {
    name: string;
    namespace: string;
    uid?: string;
    resourceVersion?: string;
    creationTimestamp?: string;
    labels?: Record<string, string>;
  };
};

export const STATES: readonly ApiKeyState[] = ['Active', 'Inactive', 'Expired', 'Pending', 'Failed'];

/** The filter panel and search box; every field travels in the page URL so a view can be shared. */
export interface Filters {
  environment?: string;
  type?: string;
  state?: string;
  namespace?: string;
  customer?: string;
  /** Only keys expiring within this many days. */
  expiringWithinDays?: number;
  q?: string;
}

const FILTER_PARAMS = {
  environment: 'env',
  type: 'type',
  state: 'state',
  namespace: 'ns',
  customer: 'customer',
  expiringWithinDays: 'expiring',
  q: 'q',
} as const satisfies Record<keyof Filters, string>;

export function filtersFromParams(params: URLSearchParams): Filters {
  const f: Filters = {};
  for (const [field, param] of Object.entries(FILTER_PARAMS) as [keyof Filters, string][]) {
    const v = params.get(param);
    if (!v) continue;
    if (field === 'expiringWithinDays') {
      const n = Number(v);
      if (Number.isInteger(n) && n > 0) f.expiringWithinDays = n;
    } else f[field] = v;
  }
  return f;
}

/** Writes the filters into `params` (other parameters, such as the selected key, stay). */
export function filtersToParams(f: Filters, params = new URLSearchParams()): URLSearchParams {
  for (const [field, param] of Object.entries(FILTER_PARAMS) as [keyof Filters, string][]) {
    const v = f[field];
    if (v === undefined || v === '') params.delete(param);
    else params.set(param, String(v));
  }
  return params;
}

export const keyType = (ak: ApiKey): 'public' | 'private' => ak.spec.type ?? 'private';
export const keyState = (ak: ApiKey): ApiKeyState => ak.status?.state ?? 'Pending';
export const keyExpiry = (ak: ApiKey): string | undefined => ak.status?.expiresAt ?? ak.spec.expiresAt;

/** Active but within the policy's expiringSoonDays of its expiry. */
export function expiringSoon(ak: ApiKey, now: Date, expiringSoonDays: number): boolean {
  const at = keyExpiry(ak);
  return keyState(ak) === 'Active' && at !== undefined && isExpiringSoon(at, now, expiringSoonDays * DAY_MS);
}

export function matchesFilters(ak: ConsoleKey, f: Filters, now: Date): boolean {
  if (f.environment && ak.spec.environment !== f.environment) return false;
  if (f.type && keyType(ak) !== f.type) return false;
  if (f.state && keyState(ak) !== f.state) return false;
  if (f.namespace && ak.metadata.namespace !== f.namespace) return false;
  if (f.customer && !(ak.spec.customers ?? []).includes(f.customer)) return false;
  if (f.expiringWithinDays !== undefined) {
    const at = parseRfc3339(keyExpiry(ak) ?? '');
    if (!at || at.getTime() <= now.getTime()) return false;
    if (at.getTime() - now.getTime() > f.expiringWithinDays * DAY_MS) return false;
  }
  return !f.q || matchesSearch(ak, f.q);
}

/** `devices:read, devices:write +3` */
export function permissionsSummary(perms: readonly string[] | undefined, shown = 2): string {
  const list = perms ?? [];
  if (list.length === 0) return 'none';
  const head = list.slice(0, shown).join(', ');
  return list.length > shown ? `${head} +${list.length - shown}` : head;
}

export function rateLimitSummary(ak: ApiKey): string {
  const r = ak.spec.rateLimit;
  if (!r) return 'unlimited';
  return `${r.requests}/${r.period}${r.burst && r.burst !== r.requests ? ` (burst ${r.burst})` : ''}`;
}

/** `3d ago`, `in 5h`: the age of a time relative to now. */
export function relativeTime(iso: string | undefined, now: Date): string {
  if (!iso) return '-';
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return '-';
  const s = Math.round((now.getTime() - t) / 1000);
  const h = humanSeconds(Math.abs(s));
  return s < 0 ? `in ${h}` : `${h} ago`;
}

function humanSeconds(s: number): string {
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}

/**
 * The spec field a refusal names, so the page can show it next to that field: the first `spec.x` in
 * the message (the webhook's messages start with the field path) or the first cause's field.
 */
export function fieldOfRefusal(message: string, causes: { field?: string }[] = []): string | undefined {
  const fromCause = causes.find((c) => c.field?.startsWith('spec.'))?.field;
  const m = /\bspec\.([A-Za-z]+)/.exec(message);
  const field = m ? `spec.${m[1]}` : fromCause?.replace(/^(spec\.[A-Za-z]+).*$/, '$1');
  return field;
}
