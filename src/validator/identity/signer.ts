import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, type JWK, SignJWT } from 'jose';
import type { JwtAlgorithm } from '../config/types.ts';
import type { StoredKey } from '../stored-key.ts';

// Short-lived JWTs telling the upstream who called, signed with jose. The algorithm follows the key:
// Ed25519 → EdDSA, P-256 → ES256. A token is reused while more than half its lifetime remains, so
// signing costs nothing on the hot path. The cache is keyed by the stored key object itself, which
// the key store replaces on every change of the hash record (permissions, customers, state, expiry,
// a regeneration): any change starts a fresh token. Each signer has its own cache, so a new signing
// key signs every token from its first request on. A token never outlives its key's expiresAt.

export interface SignerOptions {
  issuer: string;
  audience?: string;
  ttlMs: number;
}

export interface PublicJwk extends JWK {
  kid: string;
  alg: JwtAlgorithm;
  use: 'sig';
}

interface CacheEntry {
  token: Promise<string>;
  refreshAtMs: number;
  signed: string | undefined;
}

export class JwtSigner {
  readonly alg: JwtAlgorithm;
  readonly kid: string;
  readonly publicJwk: PublicJwk;
  readonly #key: KeyObject;
  readonly #opts: SignerOptions;
  /**
   * Per stored key: the token (or its signing in flight, so concurrent first requests sign once), and
   * once signed the token itself, so a request with a signed token need not wait a microtask for it.
   */
  readonly #cache = new WeakMap<StoredKey, CacheEntry>();

  private constructor(
    key: KeyObject,
    alg: JwtAlgorithm,
    kid: string,
    publicJwk: PublicJwk,
    opts: SignerOptions,
  ) {
    this.#key = key;
    this.alg = alg;
    this.kid = kid;
    this.publicJwk = publicJwk;
    this.#opts = opts;
  }

  /** From a PKCS#8 (or SEC1) PEM private key; refuses key types other than Ed25519 and P-256. */
  static async fromPem(pem: string, opts: SignerOptions, expected?: JwtAlgorithm): Promise<JwtSigner> {
    const key = createPrivateKey(pem);
    const alg = algorithmOf(key);
    if (!alg) throw new Error('the signing key must be an Ed25519 (EdDSA) or P-256 (ES256) private key');
    if (expected && expected !== alg)
      throw new Error(`the signing key is for ${alg}, but the configuration asks for ${expected}`);
    const jwk = await exportJWK(createPublicKey(key));
    const kid = await calculateJwkThumbprint(jwk);
    return new JwtSigner(key, alg, kid, { ...jwk, kid, alg, use: 'sig' }, opts);
  }

  /** The token `token()` would answer with, when it is signed already and still fresh; else undefined. */
  signedToken(key: StoredKey, nowMs: number): string | undefined {
    const cached = this.#cache.get(key);
    return cached && nowMs < cached.refreshAtMs ? cached.signed : undefined;
  }

  /** The identity token for a request made with `key` (which the decision has just allowed). */
  token(key: StoredKey, nowMs: number): Promise<string> {
    const cached = this.#cache.get(key);
    if (cached && nowMs < cached.refreshAtMs) return cached.token;
    const r = key.record;
    const iat = Math.floor(nowMs / 1000);
    const exp = Math.min(
      iat + Math.max(1, Math.floor(this.#opts.ttlMs / 1000)),
      Math.floor(key.expiresAtMs / 1000),
    );
    const jwt = new SignJWT({
      apikey: { namespace: r.apiKey.namespace, name: r.apiKey.name, uid: r.apiKey.uid },
      environment: r.environment,
      key_type: r.type,
      permissions: r.permissions,
      customers: r.customers,
    })
      .setProtectedHeader({ alg: this.alg, kid: this.kid, typ: 'JWT' })
      .setIssuer(this.#opts.issuer)
      .setSubject(r.keyId)
      .setIssuedAt(iat)
      .setNotBefore(iat - 5)
      .setExpirationTime(exp);
    if (this.#opts.audience) jwt.setAudience(this.#opts.audience);
    const token = jwt.sign(this.#key);
    // Reused until half its lifetime has passed (never past its exp).
    const entry: CacheEntry = {
      token,
      refreshAtMs: Math.min(nowMs + this.#opts.ttlMs / 2, exp * 1000),
      signed: undefined,
    };
    this.#cache.set(key, entry);
    token.then(
      (t) => {
        entry.signed = t;
      },
      () => {
        if (this.#cache.get(key) === entry) this.#cache.delete(key);
      },
    );
    return token;
  }
}

function algorithmOf(key: KeyObject): JwtAlgorithm | undefined {
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  return undefined;
}

/** A new private key as PKCS#8 PEM, for `keywarden validator signing-key` and tests. */
export function generateSigningKeyPem(alg: JwtAlgorithm = 'EdDSA'): string {
  const { privateKey } =
    alg === 'EdDSA'
      ? generateKeyPairSync('ed25519')
      : generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}
