import { describe, expect, it } from 'vitest';
import { actorFromManagedFields } from '../../../src/audit/actor.ts';
import { lifecycleFromEvent } from '../../../src/audit/lifecycle.ts';

describe('actorFromManagedFields', () => {
  const spec = { 'f:spec': { 'f:disabled': {} } };
  it('names the manager of the latest write to the spec, skipping status writes and our own', () => {
    expect(
      actorFromManagedFields(
        [
          {
            manager: 'kubectl-client-side-apply',
            operation: 'Update',
            time: '2026-03-01T10:00:00Z',
            fieldsV1: spec,
          },
          { manager: 'kubectl-edit', operation: 'Update', time: '2026-03-01T11:00:00Z', fieldsV1: spec },
          {
            manager: 'keywarden-controller',
            operation: 'Update',
            time: '2026-03-01T12:00:00Z',
            fieldsV1: { 'f:metadata': {}, 'f:spec': {} },
          },
          {
            manager: 'keywarden-controller',
            operation: 'Update',
            time: '2026-03-01T13:00:00Z',
            subresource: 'status',
            fieldsV1: { 'f:status': {} },
          },
        ],
        { ignore: ['keywarden-controller'] },
      ),
    ).toBe('kubectl-edit');
  });

  it('says nothing when nothing says', () => {
    expect(actorFromManagedFields(undefined)).toBeUndefined();
    expect(
      actorFromManagedFields([{ manager: 'x', operation: 'Update', fieldsV1: { 'f:metadata': {} } }]),
    ).toBeUndefined();
  });
});

describe('lifecycleFromEvent', () => {
  const ak = {
    metadata: {
      namespace: 'payments',
      name: 'checkout',
      managedFields: [
        {
          manager: 'argocd-controller',
          operation: 'Apply',
          time: '2026-03-01T10:00:00Z',
          fieldsV1: { 'f:spec': {} },
        },
      ],
    },
    spec: { environment: 'production' },
    status: { keyId: 'AbCdEfGh1234' },
  };

  it('maps the controller Events of a key life to actions, with the actor where it applies', () => {
    expect(
      lifecycleFromEvent(
        ak,
        { reason: 'Disabled', note: 'Key AbCdEfGh1234 was disabled' },
        { ignoreManagers: ['keywarden-controller'], nowMs: 5 },
      ),
    ).toEqual({
      action: 'disabled',
      namespace: 'payments',
      name: 'checkout',
      timeMs: 5,
      keyId: 'AbCdEfGh1234',
      environment: 'production',
      actor: 'argocd-controller',
      reason: 'Disabled',
      detail: 'Key AbCdEfGh1234 was disabled',
    });
    expect(lifecycleFromEvent(ak, { reason: 'Expired' })?.actor).toBeUndefined();
    expect(lifecycleFromEvent(ak, { reason: 'Revealed' })?.action).toBe('revealed');
    expect(lifecycleFromEvent(ak, { reason: 'DeliveryExpired' })).toBeUndefined();
    expect(lifecycleFromEvent(ak, { reason: 'MintFailed' })).toBeUndefined();
  });
});
