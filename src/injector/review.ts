import type { AdmissionResult } from '../webhook/metrics.ts';
import {
  type AdmissionRequest,
  type AdmissionReviewAnswer,
  allow,
  allowWithPatch,
  deny,
  type JsonPatchOp,
  parseAdmissionReviewText,
} from '../webhook/review.ts';
import type { InjectorConfig } from './config.ts';
import { computeInjection } from './inject.ts';

// The pod-injection admission webhook: an AdmissionReview (text) in, the answer out, with the same
// shape as the ApiKey webhooks' handleReview so the server can time it and count it the same way.
// Never throws. A pod that does not ask for the sidecar, or already has it, is allowed unchanged.

/** The path the pod-injection MutatingWebhookConfiguration calls (the chart uses the same string). */
export const INJECT_PATH = '/pods/inject';
export const INJECT_WEBHOOK_NAME = 'inject.pods.keywarden.dev';

export type Decision =
  | { allowed: true; patch?: JsonPatchOp[]; warnings?: string[] }
  | { allowed: false; message: string; code: number };

/** Decides on one parsed request; pure. */
export function reviewPod(request: AdmissionRequest, config: InjectorConfig): Decision {
  if (request.resource.group !== '' || request.resource.resource !== 'pods' || request.kind.kind !== 'Pod') {
    const what = `${request.resource.resource}${request.resource.group ? `.${request.resource.group}` : ''}`;
    return {
      allowed: false,
      code: 400,
      message: `the keywarden injection webhook only admits pods, not ${what}: check the webhook configuration's rules`,
    };
  }
  // Containers cannot be added to a running pod; only CREATE is ours.
  if (request.operation !== 'CREATE' || request.subResource) return { allowed: true };
  const outcome = computeInjection(request.object, request.namespace ?? '', config);
  switch (outcome.action) {
    case 'skip':
      return { allowed: true };
    case 'refuse':
      return { allowed: false, code: 400, message: outcome.message };
    case 'inject':
      return {
        allowed: true,
        patch: outcome.patch,
        warnings: outcome.warnings,
      };
  }
}

export type HandledPodReview =
  | { httpStatus: 200; body: AdmissionReviewAnswer; result: AdmissionResult; operation: string }
  | {
      httpStatus: 400;
      body: {
        apiVersion: 'v1';
        kind: 'Status';
        status: 'Failure';
        code: 400;
        reason: 'BadRequest';
        message: string;
      };
      result: 'bad_request';
      operation: 'unknown';
    };

/** The whole HTTP exchange: request body text in, status and JSON body out. */
export function handlePodReview(text: string, config: InjectorConfig): HandledPodReview {
  const parsed = parseAdmissionReviewText(text);
  if (!parsed.ok) {
    const message = `malformed AdmissionReview: ${parsed.message}`;
    if (parsed.uid === undefined) {
      return {
        httpStatus: 400,
        body: {
          apiVersion: 'v1',
          kind: 'Status',
          status: 'Failure',
          code: 400,
          reason: 'BadRequest',
          message,
        },
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
  let decision: Decision;
  try {
    decision = reviewPod(req, config);
  } catch (err) {
    return {
      httpStatus: 200,
      body: deny(
        req.uid,
        `internal error in the keywarden injection webhook: ${(err as Error)?.message ?? String(err)}`,
        500,
      ),
      result: 'error',
      operation: req.operation,
    };
  }
  if (!decision.allowed) {
    return {
      httpStatus: 200,
      body: deny(req.uid, decision.message, decision.code),
      result: decision.code === 400 && req.kind.kind !== 'Pod' ? 'bad_request' : 'denied',
      operation: req.operation,
    };
  }
  const patch = decision.patch ?? [];
  return {
    httpStatus: 200,
    body:
      patch.length > 0
        ? allowWithPatch(req.uid, patch, decision.warnings)
        : allow(req.uid, decision.warnings),
    result: patch.length > 0 ? 'patched' : 'allowed',
    operation: req.operation,
  };
}
