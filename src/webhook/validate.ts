import type { ApiKey } from '../api/index.ts';
import { checkApiKey } from '../api/validation/apikey.ts';
import type { Decision } from '../kube/admission/envelope.ts';
import type { AdmissionRequest } from '../kube/admission/review.ts';
import { DEFAULT_OPERATOR_NAMESPACE, type ReviewContext } from './handler.ts';

// The validating webhook's answer: the ApiKey rules are api/validation/apikey.ts; this turns their
// verdict into an admission decision.

export function validateApiKey(req: AdmissionRequest, ctx: ReviewContext): Decision {
  const old = req.operation === 'UPDATE' ? (req.oldObject as ApiKey) : undefined;
  const check = checkApiKey(req.object as ApiKey, old, {
    policy: ctx.policy,
    now: ctx.now,
    operatorNamespace: ctx.operatorNamespace ?? DEFAULT_OPERATOR_NAMESPACE,
    namespace: req.namespace,
  });
  const { problems, warnings } = check;
  if (check.malformed)
    return { allowed: false, code: 400, message: problems.map((p) => p.message).join('\n') };
  // One problem per line: several messages already contain `;`.
  if (problems.length > 0)
    return { allowed: false, message: problems.map((p) => p.message).join('\n'), warnings };
  return warnings ? { allowed: true, warnings } : { allowed: true };
}
