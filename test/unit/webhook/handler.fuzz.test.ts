import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { effectivePolicy } from '../../../src/api/policy.ts';
import { handlePodReview } from '../../../src/injector/index.ts';
import { handleReview } from '../../../src/webhook/handler.ts';
import { mutateApiKey } from '../../../src/webhook/mutate.ts';
import { validateApiKey } from '../../../src/webhook/validate.ts';
import { REVIEW_EXAMPLES, SEEDS } from '../../support/fuzz/regressions.ts';
import { runs, timeout } from '../../support/fuzz/runs.ts';
import { INJECT, CONFIG as INJECTOR_CONFIG, POD_KIND, pod } from '../../support/injector/fixtures.ts';

// Hostile AdmissionReview bodies against both ApiKey webhooks and the pod injector: never a throw;
// always either 200 with a well-formed AdmissionReview answering the request's uid, or a 400 Status
// with a message; a denial always carries a code and a message; a patch is always valid base64 JSON.

const policy = effectivePolicy({
  permissions: [
    { name: 'sessions:create', publicSafe: true },
    { name: 'devices:read' },
    { name: 'devices:*' },
  ],
  strictCatalogue: true,
  requireAllowedSources: [{ environment: 'production', type: 'private' }],
});

/** Values an attacker (or a buggy client) can put anywhere in the object. */
const junk = fc.oneof(
  { maxDepth: 2 },
  fc.string({ maxLength: 20 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }),
);

/** Mostly the right thing, sometimes junk, sometimes absent. */
const maybe = <T>(a: fc.Arbitrary<T>, weight = 4) =>
  fc.oneof(
    { weight, arbitrary: a },
    { weight: 1, arbitrary: junk },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );

const arbApiKeyObject = fc.record(
  {
    apiVersion: maybe(fc.constant('keywarden.dev/v1alpha1')),
    kind: maybe(fc.constant('ApiKey')),
    metadata: maybe(
      fc.record(
        {
          name: maybe(fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/)),
          namespace: maybe(fc.constant('team-a')),
          labels: maybe(
            fc.dictionary(fc.string({ maxLength: 10 }), fc.string({ maxLength: 10 }), { maxKeys: 3 }),
          ),
          annotations: junk,
        },
        { requiredKeys: [] },
      ),
    ),
    spec: maybe(
      fc.record(
        {
          type: maybe(fc.constantFrom('public', 'private', 'PUBLIC', '')),
          environment: maybe(fc.constantFrom('production', 'staging', 'development', 'prod')),
          permissions: maybe(
            fc.array(fc.oneof(fc.constantFrom('sessions:create', 'devices:*', 'x:y', '*'), junk), {
              maxLength: 4,
            }),
          ),
          expiresAt: maybe(
            fc.oneof(
              fc
                .integer({ min: -400, max: 800 })
                .map((d) => new Date(Date.now() + d * 86_400_000).toISOString()),
              fc.constantFrom(
                '2026-13-40T00:00:00Z',
                'tomorrow',
                '9999-12-31T23:59:59Z',
                '1970-01-01T00:00:00Z',
              ),
            ),
          ),
          disabled: maybe(fc.boolean()),
          allowedSources: maybe(
            fc.array(fc.constantFrom('10.0.0.0/8', '::/0', '1.2.3.4/33', 'x'), { maxLength: 3 }),
          ),
          rateLimit: maybe(
            fc.record(
              {
                requests: maybe(fc.integer()),
                period: maybe(fc.constantFrom('1m', '0s', '-1s', 'x')),
                burst: junk,
              },
              { requiredKeys: [] },
            ),
          ),
          rotation: maybe(
            fc.record(
              { generation: maybe(fc.integer()), gracePeriod: maybe(fc.constantFrom('1h', '48h', '1y', '')) },
              { requiredKeys: [] },
            ),
          ),
          customers: maybe(fc.array(fc.string({ maxLength: 6 }), { maxLength: 3 })),
          delivery: maybe(
            fc.record(
              { secretRef: junk, recipient: junk, ttl: maybe(fc.constantFrom('1h', 'x')) },
              { requiredKeys: [] },
            ),
          ),
        },
        { requiredKeys: [] },
      ),
    ),
    status: junk,
  },
  { requiredKeys: [] },
);

const arbPodObject = fc
  .record({
    annotations: fc.dictionary(
      fc.constantFrom(
        ...Object.keys(INJECT),
        'keywarden.dev/routes',
        'keywarden.dev/mode',
        'keywarden.dev/port',
      ),
      fc.oneof(
        fc.constantFrom('true', 'false', 'production', '3000', '0', '65536', 'x', ''),
        fc.string({ maxLength: 12 }),
      ),
      { maxKeys: 3 },
    ),
    base: fc.integer({ min: 0, max: 3 }).map((n) => n > 0),
    spec: maybe(fc.record({ containers: junk, initContainers: junk, volumes: junk }, { requiredKeys: [] })),
  })
  .map(({ annotations, base, spec }) => {
    const p = pod(base ? { ...INJECT, ...annotations } : annotations);
    if (spec !== undefined) (p as { spec: unknown }).spec = spec;
    return p;
  });

const gvk = (forPods: boolean) =>
  forPods
    ? POD_KIND
    : {
        kind: { group: 'keywarden.dev', version: 'v1alpha1', kind: 'ApiKey' },
        resource: { group: 'keywarden.dev', version: 'v1alpha1', resource: 'apikeys' },
      };

function arbReview(forPods: boolean): fc.Arbitrary<string> {
  const object = forPods ? arbPodObject : arbApiKeyObject;
  const structured = fc
    .record({
      uid: maybe(fc.uuid(), 20),
      operation: maybe(fc.constantFrom('CREATE', 'CREATE', 'UPDATE', 'DELETE', 'CONNECT', 'PATCH'), 20),
      object: maybe(object, 20),
      oldObject: maybe(object, 20),
      subResource: fc.oneof(
        { weight: 10, arbitrary: fc.constant(undefined) },
        junk,
        fc.constantFrom('status', ''),
      ),
      namespace: maybe(fc.constant('team-a')),
      swapGvk: fc.integer({ min: 0, max: 15 }).map((n) => n === 0),
      dryRun: junk,
    })
    .map(({ swapGvk, ...r }) =>
      JSON.stringify({
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: { ...gvk(swapGvk ? !forPods : forPods), ...r },
      }),
    );
  return fc.oneof(
    { weight: 1, arbitrary: fc.string({ maxLength: 100 }) },
    { weight: 1, arbitrary: fc.json({ maxDepth: 3 }) },
    { weight: 6, arbitrary: structured },
  );
}

function uidOf(text: string): string | undefined {
  try {
    const u = (JSON.parse(text) as { request?: { uid?: unknown } })?.request?.uid;
    return typeof u === 'string' && u !== '' ? u : undefined;
  } catch {
    return undefined;
  }
}

function expectWellFormed(
  text: string,
  h: { httpStatus: number; body: unknown; result: string; operation: string },
): void {
  JSON.stringify(h.body); // serialisable
  if (h.httpStatus === 400) {
    const b = h.body as { kind: string; code: number; message: string };
    expect(b.kind).toBe('Status');
    expect(b.code).toBe(400);
    expect(b.message.length).toBeGreaterThan(0);
    expect(uidOf(text)).toBeUndefined();
    return;
  }
  expect(h.httpStatus).toBe(200);
  const b = h.body as {
    apiVersion: string;
    kind: string;
    response: {
      uid: string;
      allowed: boolean;
      status?: { code: number; message: string };
      patch?: string;
      patchType?: string;
    };
  };
  expect(b.apiVersion).toBe('admission.k8s.io/v1');
  expect(b.kind).toBe('AdmissionReview');
  expect(b.response.uid).toBe(uidOf(text));
  expect(typeof b.response.allowed).toBe('boolean');
  if (!b.response.allowed) {
    expect(b.response.status?.code).toBeGreaterThanOrEqual(400);
    expect(b.response.status?.message.length).toBeGreaterThan(0);
  }
  if (b.response.patch !== undefined) {
    expect(b.response.patchType).toBe('JSONPatch');
    const ops = JSON.parse(Buffer.from(b.response.patch, 'base64').toString('utf8')) as unknown;
    expect(Array.isArray(ops)).toBe(true);
  }
  // A rule that threw is reported as a code-500 denial; the fuzz treats that as a bug found.
  expect(h.result).not.toBe('error');
}

const now = () => new Date();

describe('fuzz: AdmissionReview bodies', () => {
  for (const [name, reviewer] of [
    ['mutate', mutateApiKey],
    ['validate', validateApiKey],
  ] as const) {
    const check = (text: string) =>
      expectWellFormed(text, handleReview(name, text, reviewer, { policy, now: now() }));
    it(`${name} webhook: handleReview never throws, always answers well-formed`, {
      timeout: timeout(),
    }, () => {
      for (const t of REVIEW_EXAMPLES) check(t);
      fc.assert(fc.property(arbReview(false), check), { numRuns: runs(1500) });
      for (const r of SEEDS.handleReview ?? [])
        fc.assert(fc.property(arbReview(false), check), { seed: r.seed, path: r.path, endOnFailure: true });
    });
  }

  const checkPod = (text: string) => expectWellFormed(text, handlePodReview(text, INJECTOR_CONFIG));
  it('injector: handlePodReview never throws, always answers well-formed', { timeout: timeout() }, () => {
    for (const t of REVIEW_EXAMPLES) checkPod(t);
    fc.assert(fc.property(arbReview(true), checkPod), { numRuns: runs(1500) });
    for (const r of SEEDS.handlePodReview ?? [])
      fc.assert(fc.property(arbReview(true), checkPod), { seed: r.seed, path: r.path, endOnFailure: true });
  });
});
