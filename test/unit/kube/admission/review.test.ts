import { describe, expect, it } from 'vitest';
import {
  allowWithPatch,
  deny,
  parseAdmissionReview,
  parseAdmissionReviewText,
} from '../../../../src/kube/admission/review.ts';
import { apiKey, review } from '../../../support/webhook/reviews.ts';

describe('parseAdmissionReview', () => {
  it('reads a CREATE review', () => {
    const r = parseAdmissionReview(review('CREATE', apiKey()));
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.request.operation).toBe('CREATE');
      expect(r.request.resource.resource).toBe('apikeys');
      expect(r.request.namespace).toBe('team');
    }
  });

  it.each([
    ['not JSON', '{"apiVersion":', /not valid JSON/],
    ['an array', '[]', /expected an AdmissionReview object/],
    [
      'a wrong apiVersion',
      JSON.stringify({ ...review('CREATE', apiKey()), apiVersion: 'admission.k8s.io/v1beta1' }),
      /expected apiVersion admission.k8s.io\/v1 .* got apiVersion "admission.k8s.io\/v1beta1"/,
    ],
    ['a wrong kind', JSON.stringify({ ...review('CREATE', apiKey()), kind: 'Pod' }), /kind "Pod"/],
    [
      'no request',
      JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }),
      /has no request/,
    ],
  ])('refuses %s without a uid to answer to', (_what, text, message) => {
    const r = parseAdmissionReviewText(text);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.message).toMatch(message);
      expect(r.uid).toBeUndefined();
    }
  });

  it('names the uid when the object is missing, so the answer can be a denial', () => {
    const r = parseAdmissionReview(review('CREATE'));
    expect(r).toEqual({
      ok: false,
      uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
      message: 'request.object is missing: CREATE needs the object',
    });
  });

  it('needs oldObject on UPDATE and a known operation', () => {
    expect(parseAdmissionReview(review('UPDATE', apiKey()))).toMatchObject({
      ok: false,
      message: /oldObject/,
    });
    const bad = review('CREATE', apiKey()) as { request: Record<string, unknown> };
    bad.request.operation = 'PATCH';
    expect(parseAdmissionReview(bad)).toMatchObject({ ok: false, message: /operation "PATCH"/ });
  });
});

describe('answers', () => {
  it('denies with a code, a reason and the message', () => {
    expect(deny('u', 'no', 403)).toEqual({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: 'u', allowed: false, status: { code: 403, message: 'no', reason: 'Forbidden' } },
    });
  });

  it('carries a JSON Patch as base64 and leaves it out when empty', () => {
    const ops = [{ op: 'add' as const, path: '/spec/type', value: 'private' }];
    const a = allowWithPatch('u', ops, ['w']);
    expect(a.response.patchType).toBe('JSONPatch');
    expect(JSON.parse(Buffer.from(a.response.patch ?? '', 'base64').toString())).toEqual(ops);
    expect(a.response.warnings).toEqual(['w']);
    expect(allowWithPatch('u', []).response).toEqual({ uid: 'u', allowed: true });
  });
});
