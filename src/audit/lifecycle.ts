import { actorFromManagedFields, type ManagedFieldsEntry } from './actor.ts';
import type { LifecycleAction, LifecycleEvent } from './schema.ts';

// From the controller's Kubernetes Events to lifecycle audit events: the controller already records an
// Event for each change in an ApiKey's life; the same reason names the audit action. Other Events
// (warnings, DeliveryExpired, ...) are not lifecycle changes and map to nothing.

const ACTION_BY_REASON: Readonly<Record<string, LifecycleAction>> = {
  Created: 'created',
  Regenerated: 'regenerated',
  Disabled: 'disabled',
  Enabled: 'enabled',
  Expired: 'expired',
  Revealed: 'revealed',
  Deleted: 'deleted',
};

/** Changes a person (or their tooling) makes through the spec; the others happen to the key. */
const SPEC_DRIVEN: ReadonlySet<LifecycleAction> = new Set(['created', 'regenerated', 'disabled', 'enabled']);

export interface ApiKeyLike {
  metadata: { namespace?: string; name: string; managedFields?: ManagedFieldsEntry[] };
  spec?: { environment?: string };
  status?: { keyId?: string };
}

/**
 * The lifecycle event for an Event the controller records about an ApiKey, or undefined when the Event
 * is not a lifecycle change. `actor` is `opts.actor` when the caller knows the user (reveals), else
 * the managedFields manager for spec-driven changes (ignoring the controller's own field manager).
 */
export function lifecycleFromEvent(
  apiKey: ApiKeyLike,
  event: { reason: string; note?: string },
  opts: { ignoreManagers?: readonly string[]; keyId?: string; nowMs?: number; actor?: string } = {},
): LifecycleEvent | undefined {
  const action = ACTION_BY_REASON[event.reason];
  if (!action) return undefined;
  // A reveal names the user who asked (the webhook stamps it from the request's userInfo).
  const actor =
    opts.actor ??
    (SPEC_DRIVEN.has(action)
      ? actorFromManagedFields(apiKey.metadata.managedFields, { ignore: opts.ignoreManagers ?? [] })
      : undefined);
  return {
    action,
    namespace: apiKey.metadata.namespace ?? 'default',
    name: apiKey.metadata.name,
    timeMs: opts.nowMs,
    keyId: opts.keyId ?? apiKey.status?.keyId,
    environment: apiKey.spec?.environment,
    actor,
    reason: event.reason,
    detail: event.note?.slice(0, 256),
  };
}
