import { APIKEY_PLURAL, GROUP } from '../api/index.ts';
import type { EffectivePolicy } from '../api/policy.ts';
import type { AdmissionResult, WebhookName } from './metrics.ts';
import {
  type AdmissionRequest,
  type AdmissionReviewAnswer,
  allow,
  allowWithPatch,
  deny,
  type JsonPatchOp,
  parseAdmissionReviewText,
} from './review.ts';

// One AdmissionReview in, one answer out, for either webhook. Never throws: a malformed review without
// a uid is a 400 (there is nothing to answer to), with a uid it is a denial naming the problem, and a
// bug in a rule is a denial with code 500 and the error message, never an empty 500.

export interface ReviewContext {
  policy: EffectivePolicy;
  now: Date;
}

export type Decision =
  | { allowed: true; patch?: JsonPatchOp[]; warnings?: string[] }
  | { allowed: false; message: string; code?: number; warnings?: string[] };

export type Reviewer = (request: AdmissionRequest, ctx: ReviewContext) => Decision;

/** What the HTTP layer sends: 200 with an AdmissionReview, or a 4xx Status when there is no review to answer. */
export type HandledReview =
  | { httpStatus: 200; body: AdmissionReviewAnswer; result: AdmissionResult; operation: string }
  | { httpStatus: 400; body: KubeStatus; result: 'bad_request'; operation: 'unknown' };

export interface KubeStatus {
  apiVersion: 'v1';
  kind: 'Status';
  status: 'Failure';
  code: number;
  reason: string;
  message: string;
}

export function failureStatus(code: number, reason: string, message: string): KubeStatus {
  return { apiVersion: 'v1', kind: 'Status', status: 'Failure', code, reason, message };
}

export function handleReview(
  webhook: WebhookName,
  text: string,
  reviewer: Reviewer,
  ctx: ReviewContext,
): HandledReview {
  const parsed = parseAdmissionReviewText(text);
  if (!parsed.ok) {
    const message = `malformed AdmissionReview: ${parsed.message}`;
    if (parsed.uid === undefined) {
      return {
        httpStatus: 400,
        body: failureStatus(400, 'BadRequest', message),
        result: 'bad_request',
        operation: 'unknown',
      };
    }
    return {
      httpStatus: 200,
      body: deny(parsed.uid, message, 400),
      result: 'bad_request',
      operation: 'unknown',
    };
  }
  const req = parsed.request;
  const done = (body: AdmissionReviewAnswer, result: AdmissionResult): HandledReview => ({
    httpStatus: 200,
    body,
    result,
    operation: req.operation,
  });

  if (req.resource.group !== GROUP || req.resource.resource !== APIKEY_PLURAL || req.kind.kind !== 'ApiKey') {
    const what = `${req.resource.resource}${req.resource.group ? `.${req.resource.group}` : ''}`;
    return done(
      deny(
        req.uid,
        `the keywarden ${webhook} webhook only admits ApiKeys, not ${what}: check the webhook configuration's rules`,
        400,
      ),
      'bad_request',
    );
  }
  // Status writes and deletes are never ours to refuse (the configuration does not send them anyway).
  if (req.subResource || (req.operation !== 'CREATE' && req.operation !== 'UPDATE')) {
    return done(allow(req.uid), 'allowed');
  }
  let decision: Decision;
  try {
    decision = reviewer(req, ctx);
  } catch (err) {
    return done(
      deny(
        req.uid,
        `internal error in the keywarden ${webhook} webhook: ${(err as Error)?.message ?? String(err)}`,
        500,
      ),
      'error',
    );
  }
  const warnings = decision.warnings ?? [];
  if (!decision.allowed)
    return done(deny(req.uid, decision.message, decision.code ?? 403, warnings), 'denied');
  const patch = decision.patch ?? [];
  return done(allowWithPatch(req.uid, patch, warnings), patch.length > 0 ? 'patched' : 'allowed');
}
