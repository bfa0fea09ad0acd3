import { describe, expect, it } from 'vitest';
import type { EffectivePolicy } from '../../../src/api/policy.ts';
import type { Decision } from '../../../src/kube/admission/envelope.ts';
import { parseAdmissionReview } from '../../../src/kube/admission/review.ts';
import { consumerNamespaceProblem } from '../../../src/rules/index.ts';
import type { ReviewContext } from '../../../src/webhook/handler.ts';
import {
  type AccessReviewer,
  admitApiKey,
  type SecretAttributes,
} from '../../../src/webhook/secret-access.ts';
import { validateApiKey } from '../../../src/webhook/validate.ts';
import { apiKey, inDays, NOW, POLICY, review } from '../../support/webhook/reviews.ts';

// The secretRef guard as the webhook applies it. The SubjectAccessReview itself is answered by the real
// API server with real RBAC in test/adversarial/tenant-rbac.test.ts; here a stand-in AccessReviewer
// records what is asked, so the questions (who, which verbs, where) are pinned down.

const TENANT = {
  username: 'system:serviceaccount:team:tenant',
  uid: 'u-1',
  groups: ['system:serviceaccounts', 'system:serviceaccounts:team', 'system:authenticated'],
  extra: { 'authentication.kubernetes.io/pod-name': ['p'] },
};

function recorder(allowed: (a: SecretAttributes) => boolean) {
  const asked: { user: unknown; attrs: SecretAttributes }[] = [];
  const access: AccessReviewer = async (user, attrs) => {
    asked.push({ user, attrs });
    return allowed(attrs);
  };
  return { asked, access };
}

async function admit(
  spec: Record<string, unknown>,
  opts: {
    access?: AccessReviewer;
    policy?: EffectivePolicy;
    old?: Record<string, unknown>;
    userInfo?: unknown;
  } = {},
): Promise<Decision> {
  const object = apiKey({ spec: { expiresAt: inDays(100), permissions: ['tickets:read'], ...spec } });
  const oldObject = opts.old
    ? apiKey({ spec: { expiresAt: inDays(100), permissions: ['tickets:read'], ...opts.old } })
    : undefined;
  const r = parseAdmissionReview(
    review(oldObject ? 'UPDATE' : 'CREATE', object, oldObject, { userInfo: opts.userInfo ?? TENANT }),
  );
  if (!r.ok) throw new Error(r.message);
  const ctx: ReviewContext = {
    policy: opts.policy ?? POLICY,
    now: NOW,
    operatorNamespace: 'keywarden-system',
    ...(opts.access ? { access: opts.access } : {}),
  };
  return admitApiKey(validateApiKey, r.request, ctx);
}

const message = (d: Decision) => (d.allowed ? '' : d.message);
const ref = (namespace: string, name = 'client-key') => ({ delivery: { secretRef: { namespace, name } } });

describe('spec.delivery.secretRef at admission', () => {
  it('asks, as the requester (user, uid, groups, extra), for create, update and delete on that Secret', async () => {
    const { asked, access } = recorder(() => true);
    expect((await admit(ref('consumers'), { access })).allowed).toBe(true);
    expect(asked.map((a) => a.attrs)).toEqual([
      { namespace: 'consumers', name: 'client-key', verb: 'create' },
      { namespace: 'consumers', name: 'client-key', verb: 'update' },
      { namespace: 'consumers', name: 'client-key', verb: 'delete' },
    ]);
    for (const a of asked) expect(a.user).toEqual(TENANT);
  });

  it('refuses when the requester lacks any one of the verbs, naming the user, the verbs and the namespace', async () => {
    const { access } = recorder((a) => a.verb === 'create');
    expect(message(await admit(ref('consumers'), { access }))).toBe(
      'spec.delivery.secretRef names Secret consumers/client-key, but system:serviceaccount:team:tenant may not update, delete Secrets in namespace consumers: keywarden writes and deletes that Secret for you, so you must be allowed to do it yourself',
    );
  });

  it('refuses (fails closed) without a user in the request or without a way to ask the API server', async () => {
    const { access } = recorder(() => true);
    expect(message(await admit(ref('consumers'), { access, userInfo: {} }))).toMatch(/names no user/);
    expect(message(await admit(ref('consumers')))).toMatch(/cannot check your access/);
  });

  it('never asks for kube-system, the operator namespace or the own namespace: refused outright', async () => {
    const { asked, access } = recorder(() => true);
    expect(message(await admit(ref('kube-system'), { access }))).toMatch(
      /may not name namespace kube-system/,
    );
    expect(message(await admit(ref('keywarden-system'), { access }))).toMatch(/its own namespace/);
    expect(message(await admit(ref('team'), { access }))).toMatch(/other than the ApiKey's own/);
    expect(asked).toEqual([]);
  });

  it('holds secretRef to the ApiKeyPolicy allow-list (prefix with *, empty = off)', async () => {
    const { access } = recorder(() => true);
    const policy = { ...POLICY, consumerSecretNamespaces: ['consumers-*', 'shared'] };
    expect((await admit(ref('consumers-a'), { access, policy })).allowed).toBe(true);
    expect((await admit(ref('shared'), { access, policy })).allowed).toBe(true);
    expect(message(await admit(ref('other'), { access, policy }))).toBe(
      'spec.delivery.secretRef may not name namespace other: the ApiKeyPolicy allows consumer Secrets only in consumers-*, shared',
    );
    expect(
      message(await admit(ref('shared'), { access, policy: { ...POLICY, consumerSecretNamespaces: [] } })),
    ).toMatch(/secretRef is turned off/);
  });

  it('keeps spec.delivery immutable on update (adding, changing or removing it), with no access check', async () => {
    const { asked, access } = recorder(() => true);
    expect(message(await admit(ref('kube-system'), { access, old: {} }))).toMatch(
      /spec.delivery is immutable/,
    );
    expect(message(await admit(ref('consumers', 'other'), { access, old: ref('consumers') }))).toMatch(
      /immutable/,
    );
    expect(message(await admit({}, { access, old: ref('consumers') }))).toMatch(/immutable/);
    expect(
      (await admit({ ...ref('consumers'), description: 'x' }, { access, old: ref('consumers') })).allowed,
    ).toBe(true);
    expect(asked).toEqual([]);
  });
});

describe('consumerNamespaceProblem', () => {
  const rules = { apiKeyNamespace: 'team', operatorNamespace: 'kw', allowList: undefined };
  it('allows any other namespace without a list, and none of the reserved ones ever', () => {
    expect(consumerNamespaceProblem('consumers', rules)).toBeUndefined();
    for (const ns of ['kube-system', 'kube-public', 'kube-node-lease', 'kw', 'team'])
      expect(consumerNamespaceProblem(ns, { ...rules, allowList: ['*'] }), ns).toBeDefined();
  });
});
