import { describe, expect, it } from 'vitest';
import type { ApiKey } from '../../../../src/api/index.ts';
import { checkApiKey } from '../../../../src/api/validation/apikey.ts';
import { apiKey, inDays, NOW, POLICY } from '../../../support/webhook/reviews.ts';

// The pure rules; test/unit/webhook/validate.test.ts covers each rule's message through the webhook.

const ctx = { policy: POLICY, now: NOW, operatorNamespace: 'keywarden-system' };
const key = (spec: Record<string, unknown>) =>
  apiKey({ spec: { expiresAt: inDays(100), permissions: ['tickets:read'], ...spec } }) as unknown as ApiKey;

describe('checkApiKey', () => {
  it('names the field of every problem', () => {
    const check = checkApiKey(key({ expiresAt: inDays(400), permissions: ['Tickets'] }), undefined, ctx);
    expect(check.malformed).toBe(false);
    expect(check.problems.map((p) => p.field)).toEqual(['spec.expiresAt', 'spec.permissions']);
  });

  it('calls a spec of the wrong shape malformed, not invalid', () => {
    const check = checkApiKey(key({ permissions: 'tickets:read' }), undefined, ctx);
    expect(check).toMatchObject({ malformed: true, problems: [{ field: 'spec.permissions' }] });
  });

  it('checks nothing when the spec did not change (a metadata write)', () => {
    const old = key({ expiresAt: '2026-01-01T00:00:00Z' });
    expect(checkApiKey(structuredClone(old), old, ctx)).toEqual({ problems: [], malformed: false });
  });

  it('refuses a consumer Secret in the operator namespace', () => {
    const check = checkApiKey(
      key({ delivery: { secretRef: { name: 's', namespace: 'keywarden-system' } } }),
      undefined,
      ctx,
    );
    expect(check.problems.map((p) => p.field)).toEqual(['spec.delivery.secretRef.namespace']);
  });
});
