// Customer ids scope a key to customers of the protected API. They travel upstream comma-separated in
// an identity header, so the shape the CRD enforces is also what keeps that header well-formed.

/** Regex source of the CRD's CEL rule for spec.customers items. */
export const CUSTOMER_PATTERN = '^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$';
const CUSTOMER_RE = new RegExp(CUSTOMER_PATTERN);
const CUSTOMER_MAX_LENGTH = 63;

export function isCustomer(s: unknown): s is string {
  return typeof s === 'string' && s.length <= CUSTOMER_MAX_LENGTH && CUSTOMER_RE.test(s);
}
