import type { IncomingHttpHeaders } from 'node:http';
import type { StoredKey } from '../stored-key.ts';

// Identity headers: what the upstream may believe about the caller. Any header with our prefix that a
// client sends is removed before we set ours (in every spelling a server could read as ours), and so
// is the key itself, so the upstream neither sees a key nor trusts a forged identity.

/**
 * The name as a CGI/WSGI/Rack server reads it: `X_Keywarden_Key_Id` and `x-keywarden-key-id` both
 * become HTTP_X_KEYWARDEN_KEY_ID there, so both are ours.
 */
export const cgiName = (name: string): string => name.toLowerCase().replaceAll('_', '-');

const IDENTITY_NAME_RE = /^x[-_]keywarden[-_]/i;

/** True for a header name any server could read as one of our identity headers (cgiName starts with our prefix). */
export const isIdentityHeader = (name: string): boolean => IDENTITY_NAME_RE.test(name);

export const IDENTITY_HEADERS = {
  keyId: 'X-Keywarden-Key-Id',
  apiKeyName: 'X-Keywarden-ApiKey-Name',
  apiKeyNamespace: 'X-Keywarden-ApiKey-Namespace',
  environment: 'X-Keywarden-Environment',
  keyType: 'X-Keywarden-Key-Type',
  permissions: 'X-Keywarden-Permissions',
  customers: 'X-Keywarden-Customers',
  clientIp: 'X-Keywarden-Client-Ip',
  jwt: 'X-Keywarden-Jwt',
} as const;

export type KeySource = 'x-api-key' | 'authorization';

/**
 * The presented key: `X-API-Key` first (so an API that uses Authorization for its own tokens can still
 * take keys), then `Authorization: Bearer`. The scheme is case-insensitive, as RFC 9110 says.
 */
export function readKey(headers: IncomingHttpHeaders): { key: string; source: KeySource } | undefined {
  const x = headers['x-api-key'];
  if (typeof x === 'string' && x.trim() !== '') return { key: x.trim(), source: 'x-api-key' };
  const auth = headers.authorization;
  if (typeof auth === 'string') {
    const m = /^bearer[ \t]+(\S+)[ \t]*$/i.exec(auth);
    if (m?.[1]) return { key: m[1], source: 'authorization' };
  }
  return undefined;
}

/**
 * Identity headers for an allowed request: always every one of them (lists comma-separated, unknown
 * client and no JWT as empty values), because Envoy and Traefik overwrite only the headers an answer
 * names, and a client's forgery of a missing one would reach the upstream.
 */
export function identityHeaders(
  key: StoredKey,
  clientIp: string | undefined,
  jwt: string | undefined,
  into: Record<string, string> = {},
): Record<string, string> {
  const pairs = identityHeaderPairs(key, clientIp, jwt);
  for (let i = 0; i < pairs.length; i += 2) into[pairs[i] as string] = pairs[i + 1] as string;
  return into;
}

/**
 * identityHeaders as `[name, value, name, value, ...]`, the form writeHead takes. One array literal:
 * building it this way measured ~10x cheaper than concat() of a per-key cached list.
 */
export function identityHeaderPairs(
  key: StoredKey,
  clientIp: string | undefined,
  jwt: string | undefined,
): string[] {
  const r = key.record;
  return [
    IDENTITY_HEADERS.keyId,
    r.keyId,
    IDENTITY_HEADERS.apiKeyName,
    r.apiKey.name,
    IDENTITY_HEADERS.apiKeyNamespace,
    r.apiKey.namespace,
    IDENTITY_HEADERS.environment,
    r.environment,
    IDENTITY_HEADERS.keyType,
    r.type,
    IDENTITY_HEADERS.permissions,
    joined(r.permissions),
    IDENTITY_HEADERS.customers,
    joined(r.customers),
    IDENTITY_HEADERS.clientIp,
    clientIp ?? '',
    IDENTITY_HEADERS.jwt,
    jwt ?? '',
  ];
}

/** Stored lists are interned and frozen (stored-key.ts), so each distinct list is joined once. */
const joins = new WeakMap<readonly string[], string>();
function joined(list: readonly string[]): string {
  let s = joins.get(list);
  if (s === undefined) {
    s = list.join(',');
    if (Object.isFrozen(list)) joins.set(list, s);
  }
  return s;
}

const KEY_PREFIX_RE = /kw[ps]k_/i;

/**
 * Removes every header with an underscore in its name (as nginx does by default: a CGI/WSGI/Rack
 * upstream reads `X_Forwarded_For` as X-Forwarded-For and `X_Keywarden_Key_Id` as ours), every
 * `X-Keywarden-*` header, `X-API-Key`, and Authorization when it carried the key, or when it holds
 * anything key-shaped (a client may send the key in both headers: neither copy goes upstream).
 */
export function stripIncoming(headers: IncomingHttpHeaders, source: KeySource | undefined): void {
  for (const name of Object.keys(headers)) {
    if (name.includes('_') || isIdentityHeader(name)) delete headers[name];
  }
  delete headers['x-api-key'];
  const auth = headers.authorization;
  if (source === 'authorization' || (typeof auth === 'string' && KEY_PREFIX_RE.test(auth)))
    delete headers.authorization;
}
