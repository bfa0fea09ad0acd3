import { REVEAL_ANNOTATIONS } from '../api/metadata.ts';
import { PERMISSION_PATTERN } from '../rules/index.ts';

// When the API server may skip the mutating webhook (issue 14: each webhook call is a cost it pays per
// object). The condition is true, and the webhook called, unless CEL proves that mutateApiKey would
// answer "allowed, no patch": type and expiresAt present, permissions a short list of valid ASCII
// permissions already sorted without duplicates, allowedSources a short list of canonical IPv4 CIDRs
// (/32, /24, /16, /8) without duplicates, and the reveal annotations as mutate.ts would leave them.
// Anything else (IPv6, bare addresses, wrong types, non-ASCII, long lists, a changed reveal request)
// calls the webhook, which stays the one place that normalises. Every step guards types and sizes first (&& short-circuits), so
// the expression cannot fail: an error here with failurePolicy Fail would refuse the request.
// The chart writes the same conditions by hand (charts/keywarden/templates/webhook-configurations.yaml);
// test/integration/chart.test.ts holds them equal.

export interface MatchCondition {
  name: string;
  expression: string;
}

const str = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

const OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
/**
 * IPv4 ranges that are canonical by their text alone (dotted decimal, no leading zeros, no host bits):
 * a /32, and a /24, /16, /8 or /0 whose host octets are 0. Other prefixes call the webhook. A regex and
 * not CEL's cidr() (Kubernetes 1.31+): the condition does not depend on a CEL library's version.
 */
const IPV4_CIDR_PATTERN = `^(${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}/32|${OCTET}\\.${OCTET}\\.${OCTET}\\.0/24|${OCTET}\\.${OCTET}\\.0\\.0/16|${OCTET}\\.0\\.0\\.0/8|0\\.0\\.0\\.0/0)$`;

const annotations = (o: string) => `${o}.metadata.annotations`;
const hasAnnotation = (o: string, key: string) =>
  `(has(${o}.metadata) && has(${annotations(o)}) && ${str(key)} in ${annotations(o)})`;
const inNew = (key: string) => hasAnnotation('object', key);
const inOld = (key: string) => `(oldObject != null && ${hasAnnotation('oldObject', key)})`;
const differs = (key: string) =>
  `${annotations('object')}[${str(key)}] != ${annotations('oldObject')}[${str(key)}]`;
const { request: REQUEST, requestedBy: BY } = REVEAL_ANNOTATIONS;

/** stampRevealRequester writes: a new or changed reveal request, or a requester other than the old one. */
const REVEAL = [
  `(${inNew(REQUEST)} && (!${inOld(REQUEST)} || ${differs(REQUEST)}))`,
  `${inNew(BY)} != ${inOld(BY)}`,
  `(${inNew(BY)} && ${inOld(BY)} && ${differs(BY)})`,
];

const unique = (l: string) => `${l}.all(e, ${l}.indexOf(e) == ${l}.lastIndexOf(e))`;
const P = 'object.spec.permissions';
const S = 'object.spec.allowedSources';
const NORMAL_PERMISSIONS = [
  `type(${P}) == list && size(${P}) <= 64`,
  `${P}.all(e, type(e) == string && size(e) <= 127 && e.matches(${str(PERMISSION_PATTERN)}))`,
  `${P}.isSorted() && ${unique(P)}`,
].join(' && ');
const NORMAL_SOURCES = [
  `type(${S}) == list && size(${S}) <= 64`,
  `${S}.all(e, type(e) == string && size(e) <= 18 && e.matches(${str(IPV4_CIDR_PATTERN)}))`,
  unique(S),
].join(' && ');

/** mutateApiKey's spec steps: the type and expiry defaults, and the two normal forms. */
const SPEC = [
  '!has(object.spec) || type(object.spec) != map',
  '!has(object.spec.type)',
  '!has(object.spec.expiresAt) || type(object.spec.expiresAt) != string',
  `has(${P}) && !(${NORMAL_PERMISSIONS})`,
  `has(${S}) && !(${NORMAL_SOURCES})`,
];

/** One condition (matchConditions are ANDed): call unless nothing would be patched. */
export const MUTATE_MATCH_CONDITIONS: readonly MatchCondition[] = [
  { name: 'may-need-a-patch', expression: [...SPEC, ...REVEAL].join('\n|| ') },
];
