import {
  type AdmissionScope,
  type Decision,
  type HandledReview,
  handleAdmission,
} from '../kube/admission/envelope.ts';
import type { AdmissionRequest } from '../kube/admission/review.ts';
import type { InjectorConfig } from './config.ts';
import { computeInjection } from './inject.ts';

// The pod-injection admission webhook on the same envelope as the ApiKey webhooks, so the server times
// and counts it the same way. A pod that does not ask for the sidecar, or already has it, is allowed
// unchanged.

/** The path the pod-injection MutatingWebhookConfiguration calls (the chart uses the same string). */
export const INJECT_PATH = '/pods/inject';
export const INJECT_WEBHOOK_NAME = 'inject.pods.keywarden.dev';

// Containers cannot be added to a running pod, so only CREATE is decided.
const POD_SCOPE: AdmissionScope = {
  name: 'injection',
  group: '',
  resource: 'pods',
  kind: 'Pod',
  noun: 'pods',
  operations: ['CREATE'],
};

/** Decides on the CREATE of one pod; pure. */
function reviewPod(request: AdmissionRequest, config: InjectorConfig): Decision {
  const outcome = computeInjection(request.object, request.namespace ?? '', config);
  switch (outcome.action) {
    case 'skip':
      return { allowed: true };
    case 'refuse':
      return { allowed: false, code: 400, message: outcome.message };
    case 'inject':
      return { allowed: true, patch: outcome.patch, warnings: outcome.warnings };
  }
}

/** The whole HTTP exchange: request body text in, status and JSON body out. */
export function handlePodReview(text: string, config: InjectorConfig): HandledReview {
  return handleAdmission(POD_SCOPE, text, (req) => reviewPod(req, config));
}
