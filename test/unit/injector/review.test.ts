import { describe, expect, it } from 'vitest';
import { handlePodReview, SIDECAR_NAME } from '../../../src/injector/index.ts';
import { applyPatch, CONFIG, INJECT, pod, podReview as review } from '../../support/injector/fixtures.ts';

describe('handlePodReview', () => {
  it('answers with a base64 JSON Patch that adds the sidecar', () => {
    const p = pod(INJECT);
    const h = handlePodReview(review(p), CONFIG);
    expect(h).toMatchObject({ httpStatus: 200, result: 'patched', operation: 'CREATE' });
    if (h.httpStatus !== 200) return;
    expect(h.body.response).toMatchObject({ uid: 'u-1', allowed: true, patchType: 'JSONPatch' });
    const ops = JSON.parse(Buffer.from(h.body.response.patch ?? '', 'base64').toString('utf8'));
    const patched = applyPatch(p, ops) as { spec: { containers: { name: string }[] } };
    expect(patched.spec.containers.map((c) => c.name)).toEqual(['app', SIDECAR_NAME]);
  });

  it('allows pods that do not ask, and updates, unchanged', () => {
    expect(handlePodReview(review(pod({})), CONFIG)).toMatchObject({
      result: 'allowed',
      body: { response: { uid: 'u-1', allowed: true } },
    });
    const h = handlePodReview(review(pod(INJECT), { operation: 'UPDATE', oldObject: pod(INJECT) }), CONFIG);
    expect(h).toMatchObject({ result: 'allowed', operation: 'UPDATE' });
    if (h.httpStatus === 200) expect(h.body.response.patch).toBeUndefined();
  });

  it('denies a pod with bad annotations (code 400, the problems in the message)', () => {
    const h = handlePodReview(review(pod({ ...INJECT, 'keywarden.dev/environment': 'prod' })), CONFIG);
    expect(h).toMatchObject({
      httpStatus: 200,
      result: 'denied',
      body: {
        response: {
          allowed: false,
          status: {
            code: 400,
            message: expect.stringContaining(
              'keywarden.dev/environment: must be one of production, staging, development, got "prod"',
            ),
          },
        },
      },
    });
  });

  it('refuses what is not a pod, and malformed reviews', () => {
    const other = handlePodReview(
      review(
        {},
        {
          kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
          resource: { group: 'apps', version: 'v1', resource: 'deployments' },
        },
      ),
      CONFIG,
    );
    expect(other).toMatchObject({
      result: 'bad_request',
      body: {
        response: {
          allowed: false,
          status: {
            code: 400,
            message:
              "the keywarden injection webhook only admits pods, not deployments.apps: check the webhook configuration's rules",
          },
        },
      },
    });
    expect(handlePodReview('not json', CONFIG)).toMatchObject({ httpStatus: 400, result: 'bad_request' });
    expect(
      handlePodReview(
        JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'x' } }),
        CONFIG,
      ),
    ).toMatchObject({
      httpStatus: 200,
      result: 'bad_request',
      body: { response: { uid: 'x', allowed: false } },
    });
  });
});
