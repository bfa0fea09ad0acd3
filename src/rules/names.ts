// Kubernetes object names (RFC 1123 subdomains, as the API server requires of ApiKeys; a namespace,
// an RFC 1123 label, is one too). Checked where a name read from elsewhere goes into a header.

const SUBDOMAIN_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function isObjectName(s: unknown): s is string {
  return typeof s === 'string' && s.length <= 253 && SUBDOMAIN_RE.test(s);
}
