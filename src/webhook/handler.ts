import { APIKEY_PLURAL, GROUP } from '../api/index.ts';
import type { EffectivePolicy } from '../api/policy.ts';
import { type AdmissionScope, type Decision, type HandledReview, handleAdmission } from './envelope.ts';
import type { AdmissionRequest } from './review.ts';

// The ApiKey webhooks (mutate, validate) on the shared envelope: only ApiKey creates and updates
// reach their reviewers.

export interface ReviewContext {
  policy: EffectivePolicy;
  now: Date;
}

export type Reviewer = (request: AdmissionRequest, ctx: ReviewContext) => Decision;

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
