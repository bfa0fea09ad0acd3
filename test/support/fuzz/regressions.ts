// Inputs that once broke (or nearly broke) a fuzz target, kept as explicit examples so every run,
// quick or long, replays them first. A fast-check failure prints `{ seed, path }`: add it to SEEDS
// under the target's name as well, and the test replays that exact shrunk case.

export interface Replay {
  seed: number;
  path: string;
}

/** Seeds of past fast-check failures, per target (none found so far by the quick or long passes). */
export const SEEDS: Record<string, Replay[]> = {
  parseKey: [],
  handleReview: [],
  handlePodReview: [],
  // Long pass, 2026-11-26: the key sent in X-API-Key and again in `Authorization: Bearer` reached the
  // upstream in Authorization (fixed; see FIXED_HEADER_BUGS).
  validatorHeaders: [{ seed: -1805407963, path: '7:3:3:3' }],
  // Quick pass, 2026-11-26: shrunk to `*!`, parseConfig threw (fixed; see FIXED_CONFIG_BUGS).
  validatorConfig: [{ seed: -1712146280, path: '214:8:7:6:7:6:6:6' }],
  policy: [],
};

/** Key-shaped strings at the edges of the format. */
export const KEY_EXAMPLES: string[] = [
  '',
  'kwsk_prod_',
  'kwsk_prod_AAAAAAAAAAAA_',
  `kwsk_prod_AAAAAAAAAAAA_${'A'.repeat(39)}`,
  `kwsk_prod_AAAAAAAAAAAA_${'A'.repeat(39)}\n`,
  `kwsk_prod_AAAAAAAAAAAA_${'A'.repeat(38)}é`,
  `kwpk_stg_${'a'.repeat(12)}_${'b'.repeat(200)}`,
  'kwxk_prod_AAAAAAAAAAAA_',
  '\u0000'.repeat(129),
  '_'.repeat(128),
  'kwsk_dev_\ud800',
];

/** AdmissionReview bodies at the edges of the parser. */
export const REVIEW_EXAMPLES: string[] = [
  '',
  'null',
  '[]',
  '"AdmissionReview"',
  '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}',
  '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u"}}',
  '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"keywarden.dev","version":"v1alpha1","kind":"ApiKey"},"resource":{"group":"keywarden.dev","version":"v1alpha1","resource":"apikeys"},"operation":"CREATE","object":{}}}',
  '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"keywarden.dev","version":"v1alpha1","kind":"ApiKey"},"resource":{"group":"keywarden.dev","version":"v1alpha1","resource":"apikeys"},"operation":"CREATE","object":{"metadata":null,"spec":[]}}}',
  '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"keywarden.dev","version":"v1alpha1","kind":"ApiKey"},"resource":{"group":"keywarden.dev","version":"v1alpha1","resource":"apikeys"},"operation":"UPDATE","object":{"spec":{"expiresAt":"9999-99-99"}},"oldObject":{"spec":{"disabled":"yes"}}}}',
  '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},"operation":"CREATE","object":{"metadata":{"annotations":{"keywarden.dev/inject":"true"}},"spec":{"containers":null}}}}',
  '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},"operation":"CREATE","object":{"metadata":{"annotations":{"keywarden.dev/inject":"true","keywarden.dev/upstream-port":"99999999999999999999"}},"spec":{"containers":[{}]}}}}',
  '{"__proto__":{"uid":"x"},"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}',
];

/** Header values at the edges of the key reader. */
export const HEADER_EXAMPLES: { authorization?: string; xApiKey?: string; xForwardedFor?: string }[] = [
  { authorization: 'Bearer' },
  { authorization: 'Bearer ' },
  { authorization: 'bearer\t\tkwsk_prod_' },
  { authorization: 'Basic a3dza19wcm9kXw==' },
  { xApiKey: ' ' },
  { xApiKey: 'kwsk_prod_AAAAAAAAAAAA_' },
  { xForwardedFor: ',,,' },
  { xForwardedFor: '999.999.999.999' },
  { xForwardedFor: '::ffff:127.0.0.1, [::1]:80, unknown' },
  { xForwardedFor: `${'1.2.3.4, '.repeat(500)}5.6.7.8` },
];

/** Validator config texts at the edges of the loader. */
export const CONFIG_EXAMPLES: string[] = [
  '',
  '---\n---\n',
  '[]',
  'null',
  '!!binary aGVsbG8=',
  'environment: production\nroutes: [{path: "", permission: ""}]',
  'environment: production\nroutes:\n  - path: /a/**/b\n    permission: a:b\n    methods: [get]',
  'environment: production\ntrustedProxies: [10.0.0.0/99]',
  'environment: production\nenvironment: staging',
  'a: &a [*a]',
  'environment: production\nrateLimit: {period: 0s}',
  'environment: production\nidentity: {jwt: {ttl: -1s}}',
  '? [a]\n: b',
];

/**
 * Bugs the fuzzers found, now fixed. Each keeps its explicit inputs as a regression test (`regression
 * (fixed): ...`), and the property itself tolerates nothing.
 */
export const FIXED_CONFIG_BUGS: Record<string, { title: string; inputs: string[] }[]> = {
  validatorConfig: [
    {
      // Found by the quick pass: { seed: -1712146280, path: "214:8:7:6:7:6:6:6" }, shrunk to `*!`.
      // parseConfig (now src/rules/yaml-input.ts readYaml): doc.toJS() throws ReferenceError for an alias whose
      // anchor is missing, and for the alias-count guard (billion laughs), instead of a problem.
      title: 'parseConfig throws on an unresolved YAML alias or an alias bomb',
      inputs: [
        '*!',
        'environment: production\nroutes: *routes',
        [
          'a: &a [x,x,x,x,x,x,x,x,x]',
          'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
          'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
          'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
          'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
          'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]',
        ].join('\n'),
      ],
    },
  ],
};

/**
 * Found by the long header fuzz (seed above), fixed in stripIncoming(): on the reverse-proxy
 * door, a request carrying a key in X-API-Key *and* a keywarden key in `Authorization: Bearer` is
 * decided on X-API-Key, and src/validator/identity/headers.ts stripIncoming() then removes X-API-Key
 * but keeps Authorization (it only strips it when it was the key's source), so the upstream receives a
 * plaintext key. The header fuzz now strips both, and the regression test replays the case.
 */
export const FIXED_HEADER_BUGS: {
  title: string;
  case: { authorization: string; xApiKeyIsSameKey: boolean };
}[] = [
  {
    title: 'a keywarden key in Authorization reaches the upstream when X-API-Key is also sent',
    case: { authorization: 'bEaReR\t{key} ', xApiKeyIsSameKey: true },
  },
];
