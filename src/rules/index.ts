// The pure rules shared by the webhook, the controller and the validator: no I/O, no clock reads.

export {
  BASE62_ALPHABET,
  decodeBase62Bytes,
  decodeBase62Int,
  decodeBase62Number,
  encodeBase62Bytes,
  encodeBase62Int,
  randomBase62,
} from './base62.ts';
export { CUSTOMER_PATTERN, isCustomer } from './customers.ts';
export type { DurationResult } from './duration.ts';
export { DURATION_PATTERN, durationMs, formatDuration, parseDuration } from './duration.ts';
export type { ErrorCode } from './errors.ts';
export { KeywardenError, UsageError } from './errors.ts';
export type { ExpiryCheckOptions, ExpiryCheckResult } from './expiry.ts';
export {
  addOneCalendarYear,
  CLOCK_SKEW_TOLERANCE_MS,
  checkExpiry,
  DAY_MS,
  defaultExpiry,
  formatRfc3339,
  isExpired,
  isExpiredAt,
  isExpiringSoon,
  latestAllowedExpiry,
  parseRfc3339,
} from './expiry.ts';
export type { Environment, GenerateKeyOptions, KeyType, ParsedKey, ParseKeyResult } from './key.ts';
export {
  digestMatches,
  ENVIRONMENTS,
  generateKey,
  generateKeyId,
  hashesEqual,
  hashKey,
  KEY_PATTERN,
  KEY_TYPES,
  keyDigest,
  keyDigestInto,
  keyEnvironment,
  keyHint,
  keyMatchesHash,
  keyPrefix,
  parseKey,
  wellFormedKeyId,
} from './key.ts';
export { isObjectName } from './names.ts';
export type { Permission, PermissionCatalogue, PermissionResult } from './permissions.ts';
export {
  checkPermissions,
  hasPermission,
  normalizePermissions,
  PERMISSION_PATTERN,
  parsePermission,
  parseRequiredPermission,
  permissionGrants,
} from './permissions.ts';
export type { Failed, FieldPath, Ok, Place, Problem, Result } from './problems.ts';
export {
  failed,
  fieldName,
  formatProblem,
  ok,
  own,
  problem,
  problemsLine,
  sortProblems,
  unplaced,
} from './problems.ts';
export type { BucketState, RateLimitConfig, TakeResult } from './rate-limit.ts';
export {
  bucketCapacity,
  initialBucket,
  rateLimitHeaders,
  takeToken,
  takeTokenInPlace,
} from './rate-limit.ts';
export { describeValue } from './redact.ts';
export { type CanonicalPath, canonicalPath, requestPathProblem } from './request-path.ts';
export type { ConsumerNamespaceRules } from './secret-ref.ts';
export { consumerNamespaceProblem } from './secret-ref.ts';
export type {
  ClientAddressResult,
  IpKind,
  NormalizeSourcesResult,
  ParsedSource,
  SourceMatcher,
  SourceResult,
} from './sources.ts';
export { compileSources, normalizeSources, parseClientAddress, parseSource } from './sources.ts';
export type { YamlInput } from './yaml-input.ts';
export { readYaml } from './yaml-input.ts';
