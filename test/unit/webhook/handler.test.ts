import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { HandledReview } from '../../../src/kube/admission/envelope.ts';
import { handleReview, type Reviewer } from '../../../src/webhook/handler.ts';
import { mutateApiKey } from '../../../src/webhook/mutate.ts';
import { validateApiKey } from '../../../src/webhook/validate.ts';
import { POD_KIND } from '../../support/injector/fixtures.ts';
import { apiKey, inDays, NOW, POLICY, review } from '../../support/webhook/reviews.ts';

const ctx = { policy: POLICY, now: NOW };
const run = (
  body: unknown,
  reviewer: Reviewer = validateApiKey,
  webhook: 'mutate' | 'validate' = 'validate',
) => handleReview(webhook, typeof body === 'string' ? body : JSON.stringify(body), reviewer, ctx);

/** The contract for any input: a 400 Status with a message, or an AdmissionReview answer that is complete. */
function expectWellFormed(h: HandledReview): void {
  if (h.httpStatus === 400) {
    expect(h.body).toMatchObject({ kind: 'Status', status: 'Failure', code: 400 });
    expect(h.body.message.length).toBeGreaterThan(0);
    return;
  }
  expect(h.httpStatus).toBe(200);
  expect(h.body.apiVersion).toBe('admission.k8s.io/v1');
  expect(h.body.kind).toBe('AdmissionReview');
  expect(typeof h.body.response.uid).toBe('string');
  expect(typeof h.body.response.allowed).toBe('boolean');
  if (!h.body.response.allowed) expect(h.body.response.status?.message.length).toBeGreaterThan(0);
  if (h.body.response.patch !== undefined)
    expect(Array.isArray(JSON.parse(Buffer.from(h.body.response.patch, 'base64').toString()))).toBe(true);
  expect(() => JSON.stringify(h.body)).not.toThrow();
  // The real rules cope with any shape: junk is a 400 or a denial, never an internal error.
  expect(h.result).not.toBe('error');
}

describe('handleReview', () => {
  it('answers a good review, echoing the uid', () => {
    const h = run(review('CREATE', apiKey({ spec: { expiresAt: inDays(30) } })));
    expect(h).toMatchObject({ httpStatus: 200, result: 'allowed', operation: 'CREATE' });
    if (h.httpStatus === 200) expect(h.body.response.uid).toBe('705ab4f5-6393-11e8-b7cc-42010a800002');
  });

  it('returns a patch from the mutating reviewer', () => {
    const h = run(review('CREATE', apiKey()), mutateApiKey, 'mutate');
    expect(h.result).toBe('patched');
    if (h.httpStatus === 200) expect(h.body.response.patchType).toBe('JSONPatch');
  });

  it('is a 400 for malformed JSON and for a review without a uid', () => {
    expect(run('{oops')).toMatchObject({
      httpStatus: 400,
      body: { message: expect.stringMatching(/^malformed AdmissionReview: the body is not valid JSON/) },
    });
    expect(run({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: {} })).toMatchObject({
      httpStatus: 400,
      body: { message: 'malformed AdmissionReview: request.uid is missing' },
    });
  });

  it('denies with code 400 a review whose object is missing', () => {
    const h = run(review('CREATE'));
    expect(h).toMatchObject({ httpStatus: 200, result: 'bad_request' });
    if (h.httpStatus === 200)
      expect(h.body.response.status).toMatchObject({ code: 400, message: /request.object is missing/ });
  });

  it('refuses another resource, and lets status writes and deletes through', () => {
    const pod = review('CREATE', {}, undefined, POD_KIND);
    const h = run(pod);
    if (h.httpStatus === 200)
      expect(h.body.response.status?.message).toMatch(/only admits ApiKeys, not pods/);
    expect(
      run(review('UPDATE', apiKey({ spec: { expiresAt: inDays(999) } }), apiKey(), { subResource: 'status' }))
        .result,
    ).toBe('allowed');
    expect(run(review('DELETE', undefined, apiKey())).result).toBe('allowed');
  });

  it('turns a throwing rule into a denial with code 500 and the message', () => {
    const h = run(review('CREATE', apiKey()), () => {
      throw new Error('boom');
    });
    expect(h.result).toBe('error');
    if (h.httpStatus === 200)
      expect(h.body.response.status).toMatchObject({
        code: 500,
        message: 'internal error in the keywarden validate webhook: boom',
      });
  });
});

describe('junk bodies (fast-check)', () => {
  const reviewers = fc.constantFrom<[Reviewer, 'mutate' | 'validate']>(
    [mutateApiKey, 'mutate'],
    [validateApiKey, 'validate'],
  );

  it('never throws on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), reviewers, (text, [reviewer, name]) => {
        expectWellFormed(handleReview(name, text, reviewer, ctx));
      }),
      { numRuns: 500 },
    );
  });

  it('never throws on arbitrary JSON values', () => {
    fc.assert(
      fc.property(fc.jsonValue(), reviewers, (value, [reviewer, name]) => {
        expectWellFormed(handleReview(name, JSON.stringify(value), reviewer, ctx));
      }),
      { numRuns: 500 },
    );
  });

  // Start from a real review and replace any one field, at any depth, with junk.
  it('never throws on a real review with one field replaced by junk', () => {
    const base = review(
      'UPDATE',
      apiKey({ spec: { expiresAt: inDays(30), permissions: ['tickets:read'] } }),
      apiKey({ spec: { expiresAt: inDays(10) } }),
    );
    const paths: string[][] = [];
    const walk = (node: unknown, path: string[]) => {
      paths.push(path);
      if (node && typeof node === 'object') for (const [k, v] of Object.entries(node)) walk(v, [...path, k]);
    };
    walk(base, []);
    fc.assert(
      fc.property(
        fc.constantFrom(...paths.filter((p) => p.length > 0)),
        fc.jsonValue(),
        reviewers,
        (path, junk, [reviewer, name]) => {
          const doc = structuredClone(base) as Record<string, unknown>;
          let node = doc;
          for (const k of path.slice(0, -1)) node = node[k] as Record<string, unknown>;
          node[path[path.length - 1] as string] = junk;
          expectWellFormed(handleReview(name, JSON.stringify(doc), reviewer, ctx));
        },
      ),
      { numRuns: 2000 },
    );
  });
});
