import {
  type AdmissionRequest,
  type AdmissionReviewAnswer,
  allow,
  allowWithPatch,
  deny,
  type JsonPatchOp,
  type Operation,
  parseAdmissionReviewText,
} from './review.ts';

// The AdmissionReview envelope shared by every webhook (ApiKey mutate/validate, pod injection): one
// review in, one answer out. Never throws: a malformed review without a uid is a 400 (there is nothing
// to answer to), with a uid it is a denial naming the problem, and a bug in a rule is a denial with
// code 500 and the error message, never an empty 500.

/** allowed, patched (allowed with changes), denied, bad_request (malformed review), error (our fault). */
export type AdmissionResult = 'allowed' | 'patched' | 'denied' | 'bad_request' | 'error';

export type Decision =
  | { allowed: true; patch?: JsonPatchOp[]; warnings?: string[] }
  | { allowed: false; message: string; code?: number; warnings?: string[] };

/** What one webhook admits. Anything else never reaches its decide function. */
export interface AdmissionScope {
  /** Names the webhook in messages: "the keywarden <name> webhook". */
  name: string;
  group: string;
  resource: string;
  kind: string;
  /** The plural shown when refusing another resource, e.g. "ApiKeys". */
  noun: string;
  /** Operations that are decided; the others, and subresources, are allowed unchanged. */
  operations: readonly Operation[];
}

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

export function handleAdmission(
  scope: AdmissionScope,
  text: string,
  decide: (request: AdmissionRequest) => Decision,
): HandledReview {
  const opened = openReview(scope, text);
  if ('handled' in opened) return opened.handled;
  let decision: Decision;
  try {
    decision = decide(opened.req);
  } catch (err) {
    return internalError(scope, opened.req, err);
  }
  return answerDecision(opened.req, decision);
}

/** The same envelope for a decision that has to ask the API server (a SubjectAccessReview). */
export async function handleAdmissionAsync(
  scope: AdmissionScope,
  text: string,
  decide: (request: AdmissionRequest) => Promise<Decision>,
): Promise<HandledReview> {
  const opened = openReview(scope, text);
  if ('handled' in opened) return opened.handled;
  let decision: Decision;
  try {
    decision = await decide(opened.req);
  } catch (err) {
    return internalError(scope, opened.req, err);
  }
  return answerDecision(opened.req, decision);
}

const done = (
  req: AdmissionRequest,
  body: AdmissionReviewAnswer,
  result: AdmissionResult,
): HandledReview => ({
  httpStatus: 200,
  body,
  result,
  operation: req.operation,
});

/** Parses the review and answers at once whatever never reaches a decide function. */
function openReview(
  scope: AdmissionScope,
  text: string,
): { req: AdmissionRequest } | { handled: HandledReview } {
  const parsed = parseAdmissionReviewText(text);
  if (!parsed.ok) {
    const message = `malformed AdmissionReview: ${parsed.message}`;
    if (parsed.uid === undefined) {
      return {
        handled: {
          httpStatus: 400,
          body: failureStatus(400, 'BadRequest', message),
          result: 'bad_request',
          operation: 'unknown',
        },
      };
    }
    return {
      handled: {
        httpStatus: 200,
        body: deny(parsed.uid, message, 400),
        result: 'bad_request',
        operation: 'unknown',
      },
    };
  }
  const req = parsed.request;
  // A misconfigured webhook rule, not a user's mistake: say so rather than judge a foreign object.
  const { group, resource } = req.resource;
  if (group !== scope.group || resource !== scope.resource || req.kind.kind !== scope.kind) {
    const what = `${resource}${group ? `.${group}` : ''}`;
    const message = `the keywarden ${scope.name} webhook only admits ${scope.noun}, not ${what}: check the webhook configuration's rules`;
    return { handled: done(req, deny(req.uid, message, 400), 'bad_request') };
  }
  // Status writes, deletes and the like are never ours to refuse (the configurations do not send them).
  if (req.subResource || !scope.operations.includes(req.operation))
    return { handled: done(req, allow(req.uid), 'allowed') };
  return { req };
}

function internalError(scope: AdmissionScope, req: AdmissionRequest, err: unknown): HandledReview {
  const message = `internal error in the keywarden ${scope.name} webhook: ${(err as Error)?.message ?? String(err)}`;
  return done(req, deny(req.uid, message, 500), 'error');
}

function answerDecision(req: AdmissionRequest, decision: Decision): HandledReview {
  const warnings = decision.warnings ?? [];
  if (!decision.allowed)
    return done(req, deny(req.uid, decision.message, decision.code ?? 403, warnings), 'denied');
  const patch = decision.patch ?? [];
  return done(req, allowWithPatch(req.uid, patch, warnings), patch.length > 0 ? 'patched' : 'allowed');
}
