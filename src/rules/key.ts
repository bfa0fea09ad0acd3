import { hash, timingSafeEqual } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { BASE62_ALPHABET, decodeBase62Number, encodeBase62Int, randomBase62 } from './base62.ts';
import { describeValue } from './redact.ts';

// Key string: kw{pk|sk}_{prod|stg|dev}_{keyId}_{secret}{checksum}
//   keyId    12 random base62 characters, kept across regenerations
//   secret   33 random base62 characters: 33 × log2(62) ≈ 196 bits
//   checksum CRC32 of everything before it, 6 base62 characters (62^6 > 2^32), so typos and
//            forged strings are refused before any lookup, and scanners can confirm a finding.

export type KeyType = 'public' | 'private';
export type Environment = 'production' | 'staging' | 'development';

export const KEY_TYPES: readonly KeyType[] = ['public', 'private'];
export const ENVIRONMENTS: readonly Environment[] = ['production', 'staging', 'development'];

const KEY_ID_LENGTH = 12;
const SECRET_LENGTH = 33;
const CHECKSUM_LENGTH = 6;
/** Longer input is refused before any regular expression runs on it. */
const MAX_KEY_LENGTH = 128;

const TYPE_CODE: Record<KeyType, string> = { public: 'pk', private: 'sk' };
const ENV_CODE: Record<Environment, string> = { production: 'prod', staging: 'stg', development: 'dev' };
/** An environment by the first letter of its code (p, s, d), once the shape is known. */
const ENV_BY_INITIAL: Record<number, Environment> = { 112: 'production', 115: 'staging', 100: 'development' };

/** Unanchored pattern (RE2- and JS-compatible) for secret scanners; confirm a match with parseKey. */
export const KEY_PATTERN = '\\bkw[ps]k_(?:prod|stg|dev)_[0-9A-Za-z]{12}_[0-9A-Za-z]{39}\\b';
/** Anchored pattern for a key id. */
const KEY_ID_PATTERN = '^[0-9A-Za-z]{12}$';

const KEY_ID_RE = new RegExp(KEY_ID_PATTERN);

export interface ParsedKey {
  type: KeyType;
  environment: Environment;
  keyId: string;
  /** e.g. `kwsk_prod_` */
  prefix: string;
  /** Masked form safe to show and store, see keyHint. */
  hint: string;
}

export type ParseKeyResult =
  | { ok: true; key: ParsedKey }
  | { ok: false; code: 'key_malformed'; message: string };

export interface GenerateKeyOptions {
  type: KeyType;
  environment: Environment;
  /** Reuse the id of an existing key (regeneration); a new one is drawn when absent. */
  keyId?: string;
}

export function keyPrefix(type: KeyType, environment: Environment): string {
  const t = TYPE_CODE[type];
  const e = ENV_CODE[environment];
  if (t === undefined) throw new TypeError(`unknown key type ${describeValue(type)}`);
  if (e === undefined) throw new TypeError(`unknown environment ${describeValue(environment)}`);
  return `kw${t}_${e}_`;
}

export function generateKeyId(): string {
  return randomBase62(KEY_ID_LENGTH);
}

function isKeyId(s: unknown): s is string {
  return typeof s === 'string' && KEY_ID_RE.test(s);
}

/** The 6-character checksum of a key body (everything before the checksum). */
function keyChecksum(body: string): string {
  return encodeBase62Int(crc32(body), CHECKSUM_LENGTH);
}

export function generateKey(options: GenerateKeyOptions): string {
  const keyId = options.keyId ?? generateKeyId();
  if (!isKeyId(keyId)) throw new TypeError(`keyId ${describeValue(keyId)} is not 12 base62 characters`);
  const body = `${keyPrefix(options.type, options.environment)}${keyId}_${randomBase62(SECRET_LENGTH)}`;
  return body + keyChecksum(body);
}

function malformed(message: string): ParseKeyResult {
  return { ok: false, code: 'key_malformed', message };
}

/** 1 at each base62 character's code: one load per character, where three range tests cost more. */
const BASE62_CODES = new Uint8Array(128);
for (const c of BASE62_ALPHABET) BASE62_CODES[c.charCodeAt(0)] = 1;

function allBase62(s: string, from: number, to: number): boolean {
  // Beyond the table (code ≥ 128) the load is undefined: refused too.
  for (let i = from; i < to; i++) if (BASE62_CODES[s.charCodeAt(i)] !== 1) return false;
  return true;
}

/** s.startsWith(word, at), by char codes: the builtin call cost several times this on the hot path. */
function hasAt(s: string, at: number, word: string): boolean {
  for (let i = 0; i < word.length; i++) if (s.charCodeAt(at + i) !== word.charCodeAt(i)) return false;
  return true;
}

/**
 * Where the key id starts when `s` has the key shape (`kw{pk|sk}_{prod|stg|dev}_` + 12 base62 + `_` +
 * 39 base62, nothing else), else -1. Read by index: a capture regex and its match array cost more than
 * the checksum on the hot path.
 */
function keyIdStart(s: string): number {
  if (s.charCodeAt(0) !== 107 /* k */ || s.charCodeAt(1) !== 119 /* w */) return -1;
  const t = s.charCodeAt(2);
  if ((t !== 112 /* p */ && t !== 115) /* s */ || s.charCodeAt(3) !== 107 || s.charCodeAt(4) !== 95 /* _ */)
    return -1;
  const env = hasAt(s, 5, 'prod_') ? 5 : hasAt(s, 5, 'stg_') || hasAt(s, 5, 'dev_') ? 4 : 0;
  const id = 5 + env;
  const secret = id + KEY_ID_LENGTH + 1;
  if (env === 0 || s.length !== secret + SECRET_LENGTH + CHECKSUM_LENGTH || s.charCodeAt(secret - 1) !== 95)
    return -1;
  return allBase62(s, id, secret - 1) && allBase62(s, secret, s.length) ? id : -1;
}

/** Why a string without the key shape is not a key (the refusal path only). */
function shapeProblem(s: string): ParseKeyResult {
  if (/[^0-9A-Za-z_]/.test(s)) {
    return malformed('key contains characters other than letters, digits and underscores');
  }
  if (!/^kw[ps]k_/.test(s)) return malformed('key does not start with a keywarden prefix (kwpk or kwsk)');
  if (!/^kw[ps]k_(?:prod|stg|dev)_/.test(s)) {
    return malformed('key environment is not one of prod, stg, dev');
  }
  return malformed('key does not have the keywarden shape: prefix, 12-character id, 39-character secret');
}

/**
 * Whether the last 6 characters of a string with the key shape are its body's checksum. Read as a
 * number rather than encoded and compared as a string (the same test: a fixed-width base62 encoding
 * is one-to-one), so the hot path builds no string. Not constant-time: the checksum is public.
 */
function checksumMatches(s: string): boolean {
  const at = s.length - CHECKSUM_LENGTH;
  return crc32(s.slice(0, at)) === decodeBase62Number(s, at, s.length);
}

/**
 * Checks shape, length, charset and checksum. Messages are fixed texts: they never quote the input,
 * which may be a real key with a typo in it.
 */
export function parseKey(s: unknown): ParseKeyResult {
  if (typeof s !== 'string' || s.length === 0) return malformed('no key given');
  if (s.length > MAX_KEY_LENGTH) {
    return malformed(`key is longer than ${MAX_KEY_LENGTH} characters: not a keywarden key`);
  }
  const id = keyIdStart(s);
  if (id < 0) return shapeProblem(s);
  if (!checksumMatches(s)) {
    return malformed('key checksum does not match: the key was mistyped or is not a keywarden key');
  }
  // The shape is known: the type code is one of two spellings.
  const type: KeyType = s.charCodeAt(2) === 112 /* p */ ? 'public' : 'private';
  const keyId = s.slice(id, id + KEY_ID_LENGTH);
  const prefix = s.slice(0, id);
  const key = {
    type,
    environment: keyEnvironment(s),
    keyId,
    prefix,
    hint: `${prefix}${keyId}_…${s.slice(-4)}`,
  };
  return { ok: true, key };
}

/**
 * The key id of a string parseKey accepts (the same checks), else undefined. The validator's hot path:
 * nothing is built but the id, and why a string is refused is parseKey's to say.
 */
export function wellFormedKeyId(s: unknown): string | undefined {
  if (typeof s !== 'string' || s.length > MAX_KEY_LENGTH) return undefined;
  const id = keyIdStart(s);
  return id >= 0 && checksumMatches(s) ? s.slice(id, id + KEY_ID_LENGTH) : undefined;
}

/** The environment a key names; only for a string parseKey or wellFormedKeyId accepted. */
export function keyEnvironment(s: string): Environment {
  // The shape is known: the environment code is one of three spellings, told apart by its first letter.
  return ENV_BY_INITIAL[s.charCodeAt(5)] as Environment;
}

/** Masked hint, e.g. `kwsk_prod_<keyId>_…<last 4>`; the last 4 are checksum characters, not secret ones. */
export function keyHint(s: string): string {
  const parsed = parseKey(s);
  return parsed.ok ? parsed.key.hint : '…';
}

/** SHA-256 of the full key string, lower-case hex. This is all that is ever stored. */
export function hashKey(s: string): string {
  return hash('sha256', s, 'hex');
}

/** Constant-time comparison of two hex digests; false (never a throw) on malformed input or length mismatch. */
export function hashesEqual(a: string, b: string): boolean {
  if (typeof a !== 'string' || typeof b !== 'string' || a.length === 0) return false;
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  // Hex decoding stops at the first invalid pair, so a short buffer means the string was not all hex.
  if (x.length * 2 !== a.length || y.length * 2 !== b.length || x.length !== y.length) return false;
  return timingSafeEqual(x, y);
}

/** SHA-256 of the full key string (UTF-8) as bytes of its own, to keep (an open tunnel's key); see keyDigestInto. */
export function keyDigest(s: string): Buffer {
  return Buffer.from(digestLatin1(s), 'latin1');
}

/**
 * Writes the key's SHA-256 into `out` (32 bytes, the caller's own, reused) and returns it. The
 * validator's hot path: a Buffer made per call (crypto.hash's 'buffer' output, or createHash) cost
 * about 5× the hash itself on a key; this makes none.
 */
export function keyDigestInto(s: string, out: Buffer): Buffer {
  if (out.write(digestLatin1(s), 0, 'latin1') !== 32) throw new RangeError('a SHA-256 digest needs 32 bytes');
  return out;
}

/** The one-shot SHA-256 with the digest as a latin1 string (one character per byte): no Buffer made. */
function digestLatin1(s: string): string {
  return hash('sha256', s, 'binary'); // Node's alias of latin1 (the name the typings accept here)
}

/** Constant-time comparison of a key's digest bytes with a stored digest already decoded to bytes. */
export function digestMatches(digest: Buffer, stored: Buffer): boolean {
  return digest.length === 32 && stored.length === 32 && timingSafeEqual(digest, stored);
}

/** Whether a presented key hashes to the stored hash. */
export function keyMatchesHash(key: string, storedHash: string): boolean {
  return hashesEqual(hashKey(key), storedHash);
}
