import { APIKEY_PLURAL, GROUP } from '../api/index.ts';
import type { EffectivePolicy } from '../api/policy.ts';
import {
  type AdmissionScope,
  type Decision,
  type HandledReview,
  handleAdmission,
  handleAdmissionAsync,
} from '../kube/admission/envelope.ts';
import type { AdmissionRequest } from '../kube/admission/review.ts';
import type { AccessReviewer } from './secret-access.ts';

// The ApiKey webhooks (mutate, validate) on the shared envelope: only ApiKey creates and updates
// reach their reviewers.

export const DEFAULT_OPERATOR_NAMESPACE = 'keywarden-system';

export interface ReviewContext {
  policy: EffectivePolicy;
  now: Date;
  /** keywarden's own namespace (default keywarden-system): never a place for consumer Secrets. */
  operatorNamespace?: string;
  /** Asks the API server what the requester may do; without it a secretRef is refused (fail closed). */
  access?: AccessReviewer;
}

export type Reviewer = (request: AdmissionRequest, ctx: ReviewContext) => Decision;
export type AsyncReviewer = (request: AdmissionRequest, ctx: ReviewContext) => Promise<Decision>;

const apiKeyScope = (webhook: 'mutate' | 'validate'): AdmissionScope => ({
  name: webhook,
  group: GROUP,
  resource: APIKEY_PLURAL,
  kind: 'ApiKey',
  noun: 'ApiKeys',
  operations: ['CREATE', 'UPDATE'],
});

export function handleReview(
  webhook: 'mutate' | 'validate',
  text: string,
  reviewer: Reviewer,
  ctx: ReviewContext,
): HandledReview {
  return handleAdmission(apiKeyScope(webhook), text, (req) => reviewer(req, ctx));
}

export function handleReviewAsync(
  webhook: 'mutate' | 'validate',
  text: string,
  reviewer: AsyncReviewer,
  ctx: ReviewContext,
): Promise<HandledReview> {
  return handleAdmissionAsync(apiKeyScope(webhook), text, (req) => reviewer(req, ctx));
}
