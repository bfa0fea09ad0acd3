import { describe, expect, it } from 'vitest';
import { BUILT_IN_POLICY, type EffectivePolicy } from '../../../src/api/policy.ts';
import type { Decision } from '../../../src/kube/admission/envelope.ts';
import { parseAdmissionReview } from '../../../src/kube/admission/review.ts';
import { validateApiKey } from '../../../src/webhook/validate.ts';
import { apiKey, inDays, NOW, POLICY, review } from '../../support/webhook/reviews.ts';

function validate(object: unknown, oldObject?: unknown, policy: EffectivePolicy = POLICY): Decision {
  const r = parseAdmissionReview(review(oldObject ? 'UPDATE' : 'CREATE', object, oldObject));
  if (!r.ok) throw new Error(r.message);
  return validateApiKey(r.request, { policy, now: NOW });
}

const message = (d: Decision) => (d.allowed ? '' : d.message);
const key = (spec: Record<string, unknown> = {}, status?: Record<string, unknown>) =>
  apiKey({ spec: { expiresAt: inDays(100), permissions: ['tickets:read'], ...spec }, status });

describe('the one-year cap', () => {
  it('refuses one year plus one hour with the exact message', () => {
    const d = validate(key({ expiresAt: '2027-11-23T16:04:05Z' }));
    expect(message(d)).toBe(
      'spec.expiresAt 2027-11-23T16:04:05Z is more than one year ahead; the latest allowed now is 2027-11-23T15:04:05Z',
    );
  });

  it('accepts one year minus one minute', () => {
    expect(validate(key({ expiresAt: '2027-11-23T15:03:05Z' })).allowed).toBe(true);
  });

  it('refuses a past expiry on create and a missing one', () => {
    expect(message(validate(key({ expiresAt: '2026-01-01T00:00:00Z' })))).toMatch(/is in the past/);
    expect(message(validate(key({ expiresAt: undefined })))).toMatch(/spec.expiresAt is required/);
  });

  it('checks every change of expiresAt but not an unchanged one', () => {
    const old = key({ expiresAt: inDays(10) });
    expect(message(validate(key({ expiresAt: inDays(400) }), old))).toMatch(/more than one year ahead/);
    expect(validate(key({ expiresAt: inDays(200) }), old).allowed).toBe(true);
    // Unchanged (even if it would be out of bounds now, e.g. an old, expired key): not re-checked.
    const expired = key({ expiresAt: '2026-01-01T00:00:00Z', description: 'a' });
    expect(validate(key({ expiresAt: '2026-01-01T00:00:00Z', description: 'b' }), expired).allowed).toBe(
      true,
    );
  });

  it('requires a new expiry within the cap to enable an expired key again', () => {
    const old = key({ expiresAt: '2026-01-01T00:00:00Z', disabled: true }, { state: 'Inactive' });
    expect(message(validate(key({ expiresAt: '2026-01-01T00:00:00Z', disabled: false }), old))).toBe(
      'spec.expiresAt 2026-01-01T00:00:00Z has passed: enabling an expired key again needs a new spec.expiresAt, at most one year ahead (the latest allowed now is 2027-11-23T15:04:05Z)',
    );
    expect(validate(key({ expiresAt: inDays(30), disabled: false }), old).allowed).toBe(true);
    expect(message(validate(key({ expiresAt: inDays(370), disabled: false }), old))).toMatch(
      /more than one year ahead/,
    );
  });

  it('treats status.state Expired as expired when enabling again', () => {
    const old = key({ expiresAt: inDays(1), disabled: true }, { state: 'Expired' });
    expect(message(validate(key({ expiresAt: inDays(1), disabled: false }), old))).toMatch(/has passed/);
  });

  it('lets a disabled key that has not expired be enabled again', () => {
    const old = key({ expiresAt: inDays(100), disabled: true });
    expect(validate(key({ expiresAt: inDays(100), disabled: false }), old).allowed).toBe(true);
  });

  it('applies a stricter maxLifetimeDays from the policy', () => {
    const d = validate(key({ expiresAt: inDays(40) }), undefined, { ...POLICY, maxLifetimeDays: 30 });
    expect(message(d)).toMatch(/more than 30 days ahead; the latest allowed now is 2026-12-23T15:04:05Z/);
  });
});

describe('the key policy', () => {
  it('allows public keys only public-safe permissions', () => {
    expect(validate(key({ type: 'public', permissions: ['sessions:create'] })).allowed).toBe(true);
    expect(message(validate(key({ type: 'public', permissions: ['sessions:create', 'tickets:read'] })))).toBe(
      'spec.permissions[1] "tickets:read" is not public-safe: a public key may only hold permissions the ApiKeyPolicy marks publicSafe',
    );
  });

  it('with no policy nothing is public-safe and nothing is unknown', () => {
    expect(
      message(
        validate(key({ type: 'public', permissions: ['sessions:create'] }), undefined, BUILT_IN_POLICY),
      ),
    ).toMatch(/not public-safe/);
    expect(validate(key({ permissions: ['anything:goes'] }), undefined, BUILT_IN_POLICY).allowed).toBe(true);
  });

  it('refuses unknown permissions with a strict catalogue', () => {
    expect(message(validate(key({ permissions: ['billing:refund'] })))).toBe(
      'spec.permissions[0] "billing:refund" is not in the ApiKeyPolicy catalogue',
    );
    expect(
      validate(key({ permissions: ['billing:refund'] }), undefined, { ...POLICY, strictCatalogue: false })
        .allowed,
    ).toBe(true);
  });

  it('requires allowed sources where the policy says so', () => {
    const prod = { environment: 'production', type: 'private' };
    expect(message(validate(key(prod)))).toMatch(
      /^spec.allowedSources is empty, but the ApiKeyPolicy requires allowed sources for production private keys/,
    );
    expect(validate(key({ ...prod, allowedSources: ['10.0.0.0/8'] })).allowed).toBe(true);
    expect(validate(key({ environment: 'staging' })).allowed).toBe(true);
  });

  it('keeps the rotation generation going up', () => {
    const old = key({ rotation: { generation: 3 } });
    expect(message(validate(key({ rotation: { generation: 2 } }), old))).toMatch(
      /spec.rotation.generation 2 is lower than 3/,
    );
    expect(message(validate(key({ rotation: undefined, description: 'x' }), old))).toMatch(
      /generation 0 is lower than 3/,
    );
    expect(validate(key({ rotation: { generation: 4 } }), old).allowed).toBe(true);
  });

  it('bounds the grace period by the policy', () => {
    expect(message(validate(key({ rotation: { generation: 1, gracePeriod: '25h' } })))).toBe(
      "spec.rotation.gracePeriod 25h is longer than the ApiKeyPolicy's maxGracePeriod 24h",
    );
    expect(validate(key({ rotation: { generation: 1, gracePeriod: '24h' } })).allowed).toBe(true);
  });

  it("refuses a plaintext Secret in the ApiKey's own namespace, saying why", () => {
    const own = message(validate(key({ delivery: { secretRef: { name: 's' } } })));
    expect(own).toMatch(
      /^spec.delivery.secretRef must name a namespace other than the ApiKey's own \(team\)/,
    );
    expect(own).toMatch(/validators read the hash Secrets in team and RBAC cannot filter Secrets by type/);
    expect(message(validate(key({ delivery: { secretRef: { name: 's', namespace: 'team' } } })))).toMatch(
      /other than/,
    );
    expect(validate(key({ delivery: { secretRef: { name: 's', namespace: 'consumers' } } })).allowed).toBe(
      true,
    );
  });

  it('reports every problem at once', () => {
    const d = validate(key({ type: 'public', expiresAt: inDays(400), permissions: ['tickets:read'] }));
    expect(message(d).split('\n')).toEqual([
      expect.stringMatching(/more than one year ahead/),
      expect.stringMatching(/not public-safe/),
    ]);
  });
});

describe('updates', () => {
  it('never refuses a metadata-only change, even of a key the policy would now refuse', () => {
    const old = key({ type: 'public', permissions: ['tickets:read'], expiresAt: '2020-01-01T00:00:00Z' });
    const obj = structuredClone(old) as { metadata: Record<string, unknown> };
    obj.metadata.finalizers = ['keywarden.dev/cleanup'];
    expect(validate(obj, old)).toEqual({ allowed: true });
  });

  it('checks a policy rule again only when a field it reads changes', () => {
    const old = key({ type: 'public', permissions: ['tickets:read'], description: 'a' });
    expect(
      validate(key({ type: 'public', permissions: ['tickets:read'], description: 'b' }), old).allowed,
    ).toBe(true);
    expect(
      validate(key({ type: 'public', permissions: ['tickets:read', 'sessions:create'] }), old).allowed,
    ).toBe(false);
  });

  it('allows anything on an object being deleted', () => {
    const obj = key({ expiresAt: inDays(999) }) as { metadata: Record<string, unknown> };
    obj.metadata.deletionTimestamp = NOW.toISOString();
    expect(validate(obj, key()).allowed).toBe(true);
  });
});

describe('warnings', () => {
  it('warns (without refusing) about a key expiring within the ExpiringSoon window', () => {
    const d = validate(key({ expiresAt: inDays(3) }));
    expect(d.allowed).toBe(true);
    expect(d.warnings).toEqual([
      expect.stringMatching(/^spec.expiresAt \S+ is within 14 days: the key will stop working then/),
    ]);
    expect(validate(key({ expiresAt: inDays(30) })).warnings).toEqual([]);
  });
});
