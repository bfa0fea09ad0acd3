import type { ApiKeySpec } from './index.ts';

// The reveal request: `kubectl keywarden reveal` asks for a key by writing a one-time public key onto
// the ApiKey itself (the right to patch the ApiKey is the right to reveal it); the controller answers
// with the key sealed to it in status.delivery.jwe and destroys its copy. Nobody needs read access to
// the operator's namespace, and the answer is useless to anyone but the CLI that holds the private key.

export type RecipientJwk = NonNullable<NonNullable<ApiKeySpec['delivery']>['recipient']>;

export interface RevealRequest {
  /** The key and generation asked for: a request left over from an earlier key never takes a new one. */
  keyId: string;
  generation: number;
  /** An ephemeral EC P-256 public key (ECDH-ES+A256KW); kid is its RFC 7638 thumbprint. */
  jwk: RecipientJwk & { kid: string };
}

const B64URL_RE = /^[A-Za-z0-9_-]{1,128}$/;
const MAX_REQUEST_CHARS = 1024;

export function serializeRevealRequest(r: RevealRequest): string {
  const { kty, crv, x, y, kid } = r.jwk;
  return JSON.stringify({ keyId: r.keyId, generation: r.generation, jwk: { kty, crv, x, y, kid } });
}

/** The request written on an ApiKey, or undefined when there is none or it is malformed. */
export function parseRevealRequest(text: string | undefined): RevealRequest | undefined {
  if (!text || text.length > MAX_REQUEST_CHARS) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const { keyId, generation, jwk } = raw as Record<string, unknown>;
  if (typeof keyId !== 'string' || !/^[0-9A-Za-z]{1,64}$/.test(keyId)) return undefined;
  if (typeof generation !== 'number' || !Number.isSafeInteger(generation) || generation < 0) return undefined;
  if (typeof jwk !== 'object' || jwk === null) return undefined;
  const { kty, crv, x, y, kid } = jwk as Record<string, unknown>;
  if (kty !== 'EC' || crv !== 'P-256') return undefined;
  for (const v of [x, y, kid]) if (typeof v !== 'string' || !B64URL_RE.test(v)) return undefined;
  return { keyId, generation, jwk: { kty, crv, x: x as string, y: y as string, kid: kid as string } };
}
