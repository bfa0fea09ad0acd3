import type { Decision } from '../kube/admission/envelope.ts';
import type { AdmissionRequest, UserInfo } from '../kube/admission/review.ts';
import { SECRETS, SUBJECT_ACCESS_REVIEWS } from '../kube/resources.ts';
import { type KubeRest, resourcePath } from '../kube/rest.ts';
import type { ReviewContext } from './handler.ts';

// The confused-deputy guard for spec.delivery.secretRef: the controller writes (and on deletion removes)
// that Secret with its own cluster-wide rights, so at admission the requester must prove they could do
// the same themselves. One SubjectAccessReview per verb, as the requester (user, groups, uid, extra).

/** The verbs the controller uses on a consumer Secret over its life. */
const SECRET_REF_VERBS = ['create', 'update', 'delete'] as const;
export type SecretVerb = (typeof SECRET_REF_VERBS)[number];

export interface SecretAttributes {
  namespace: string;
  name: string;
  verb: SecretVerb;
}

/** Answers whether `user` may do `verb` on the Secret; throws when the API server cannot be asked. */
export type AccessReviewer = (user: UserInfo, attrs: SecretAttributes) => Promise<boolean>;

/** An AccessReviewer backed by the API server's SubjectAccessReview (the webhook needs create on them). */
export function subjectAccessReviewer(rest: KubeRest): AccessReviewer {
  return async (user, { namespace, name, verb }) => {
    const review = await rest.create<{ status?: { allowed?: boolean } }>(
      resourcePath(SUBJECT_ACCESS_REVIEWS),
      {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: {
          user: user.username,
          groups: user.groups,
          ...(user.uid ? { uid: user.uid } : {}),
          extra: user.extra,
          // A create request carries no name, so RBAC rules naming resourceNames never grant it.
          resourceAttributes: {
            group: '',
            resource: SECRETS.plural,
            namespace,
            verb,
            ...(verb === 'create' ? {} : { name }),
          },
        },
      },
    );
    return review.status?.allowed === true;
  };
}

/** The secretRef check of an ApiKey create; undefined when there is nothing to check or all is allowed. */
async function secretRefAccessProblem(
  req: AdmissionRequest,
  ctx: ReviewContext,
): Promise<string | undefined> {
  if (req.operation !== 'CREATE') return undefined; // spec.delivery is immutable after create
  const key = req.object as {
    metadata?: { namespace?: string };
    spec?: { delivery?: { secretRef?: { name?: unknown; namespace?: unknown } } };
  };
  const ref = key.spec?.delivery?.secretRef;
  if (!ref || typeof ref.name !== 'string') return undefined;
  const namespace =
    typeof ref.namespace === 'string' ? ref.namespace : (key.metadata?.namespace ?? req.namespace ?? '');
  const where = `Secret ${namespace}/${ref.name}`;
  if (!req.userInfo)
    return `spec.delivery.secretRef: the request names no user, so the webhook cannot check that you may write ${where}`;
  if (!ctx.access)
    return `spec.delivery.secretRef: this webhook cannot check your access to ${where} (no API server access); it refuses rather than let keywarden write on your behalf`;
  const user = req.userInfo;
  const access = ctx.access;
  const results = await Promise.all(
    SECRET_REF_VERBS.map(async (verb) => ({
      verb,
      allowed: await access(user, { namespace, name: ref.name as string, verb }),
    })),
  );
  const missing = results.filter((r) => !r.allowed).map((r) => r.verb);
  if (missing.length === 0) return undefined;
  return `spec.delivery.secretRef names ${where}, but ${user.username} may not ${missing.join(', ')} Secrets in namespace ${namespace}: keywarden writes and deletes that Secret for you, so you must be allowed to do it yourself`;
}

/** The validate webhook: the pure rules first, then (only if they pass) the access check. */
export async function admitApiKey(
  validate: (req: AdmissionRequest, ctx: ReviewContext) => Decision,
  req: AdmissionRequest,
  ctx: ReviewContext,
): Promise<Decision> {
  const decision = validate(req, ctx);
  if (!decision.allowed) return decision;
  const problem = await secretRefAccessProblem(req, ctx);
  return problem ? { allowed: false, message: problem, warnings: decision.warnings } : decision;
}
