import { isDeepStrictEqual } from 'node:util';
import type { HashRecord } from '../api/hash-record.ts';
import type { ApiKeyStatus } from '../api/index.ts';
import { LABELS } from '../api/metadata.ts';
import { setCondition } from './conditions.ts';
import { type Draft, type LiveApiKey, type Plan, type PlannedEvent, wake } from './plan-types.ts';

// Step 4 of a plan: the key's state, its Ready and ExpiringSoon conditions, the events of a change of
// state, and the wake-ups at ExpiringSoon and expiry. Also how a failed mint is reported.

type ReadyCondition = Parameters<typeof setCondition>[1];

export type KeyState = 'Active' | 'Inactive' | 'Expired';

export const stateOf = (record: HashRecord, now: Date): KeyState =>
  record.disabled ? 'Inactive' : Date.parse(record.expiresAt) <= now.getTime() ? 'Expired' : 'Active';

/** Sets state, expiresAt and the conditions in the draft's status; returns the state. */
export function planState(d: Draft, record: HashRecord): KeyState {
  const { ak, status, now } = d;
  const state = stateOf(record, now);
  status.state = state;
  status.expiresAt = record.expiresAt;
  status.observedGeneration = ak.metadata.generation;
  status.conditions = setCondition(
    status.conditions,
    readyCondition(state, record, ak.metadata.generation),
    now,
  );
  planExpiringSoon(d, record, state);
  const previousState = ak.status?.state;
  if (previousState && previousState !== state) {
    const change = stateChangeEvent(previousState, state, record);
    if (change) d.events.push(change);
  }
  return state;
}

function readyCondition(state: KeyState, record: HashRecord, generation: number | undefined): ReadyCondition {
  const base = { type: 'Ready', observedGeneration: generation };
  if (state === 'Active')
    return {
      ...base,
      status: 'True',
      reason: 'Active',
      message: 'The key works at validators of its environment',
    };
  if (state === 'Inactive')
    return {
      ...base,
      status: 'False' as const,
      reason: 'Disabled',
      message: 'spec.disabled is true: validators refuse the key',
    };
  return {
    ...base,
    status: 'False' as const,
    reason: 'Expired',
    message: `The key expired at ${record.expiresAt}; set a new spec.expiresAt within one year to use it again`,
  };
}

function planExpiringSoon(d: Draft, record: HashRecord, state: KeyState): void {
  const { ak, status, now, policy } = d;
  const expiresAt = Date.parse(record.expiresAt);
  const soon = state === 'Active' && expiresAt - now.getTime() <= policy.expiringSoonMs;
  const wasSoon = ak.status?.conditions?.find((c) => c.type === 'ExpiringSoon')?.status === 'True';
  const gen = ak.metadata.generation;
  status.conditions = setCondition(
    status.conditions,
    soon
      ? {
          type: 'ExpiringSoon',
          status: 'True',
          reason: 'ExpiresWithinWindow',
          message: `The key expires at ${record.expiresAt}`,
          observedGeneration: gen,
        }
      : {
          type: 'ExpiringSoon',
          status: 'False',
          reason: state === 'Active' ? 'NotSoon' : state,
          message: state === 'Active' ? `The key expires at ${record.expiresAt}` : 'The key is not active',
          observedGeneration: gen,
        },
    now,
  );
  if (soon && !wasSoon)
    d.events.push({
      type: 'Warning',
      reason: 'ExpiringSoon',
      action: 'Check',
      note: `Key ${record.keyId} expires at ${record.expiresAt}; extend spec.expiresAt or replace the key`,
      audit: true,
    });
  if (state === 'Active') {
    wake(d, expiresAt - policy.expiringSoonMs);
    wake(d, expiresAt);
  }
}

function stateChangeEvent(previous: string, state: KeyState, record: HashRecord): PlannedEvent | undefined {
  if (state === 'Inactive')
    return {
      type: 'Normal',
      reason: 'Disabled',
      action: 'Disable',
      note: `Key ${record.keyId} was disabled`,
      audit: true,
    };
  if (state === 'Expired')
    return {
      type: 'Normal',
      reason: 'Expired',
      action: 'Expire',
      note: `Key ${record.keyId} expired at ${record.expiresAt}`,
      audit: true,
    };
  if (previous === 'Inactive' || previous === 'Expired')
    return {
      type: 'Normal',
      reason: 'Enabled',
      action: 'Enable',
      note: `Key ${record.keyId} works again until ${record.expiresAt}`,
      audit: true,
    };
  return undefined;
}

/** A failed mint: a key that works keeps its state; one that was never minted is Failed. */
export function planFailure(d: Draft, reason: string, message: string): Plan {
  const { ak, status, now, p } = d;
  if (!status.keyId) status.state = 'Failed';
  status.observedGeneration = ak.metadata.generation;
  status.conditions = setCondition(
    status.conditions,
    { type: 'Ready', status: 'False', reason, message, observedGeneration: ak.metadata.generation },
    now,
  );
  const reported = ak.status?.conditions?.find((c) => c.type === 'Ready')?.reason === reason;
  // A state label set for a key that then failed (labels go out with the finalizer) says so too.
  const labelled = ak.metadata.labels?.[LABELS.state];
  return {
    ...p,
    ...(labelled !== undefined && status.state && labelled !== status.state
      ? { labels: { [LABELS.state]: status.state } }
      : {}),
    status: statusChanged(ak.status, status) ? status : undefined,
    events: reported ? [] : [{ type: 'Warning', reason, action: 'Mint', note: message, audit: false }],
  };
}

/** Environment, type and state labels for label selectors (set here only: the webhook leaves labels alone); only those that differ. */
export function labelsToSet(ak: LiveApiKey, state: string): Record<string, string> | undefined {
  const want = {
    [LABELS.environment]: ak.spec.environment,
    [LABELS.type]: ak.spec.type ?? 'private',
    [LABELS.state]: state,
  };
  const differ = Object.entries(want).filter(([k, v]) => ak.metadata.labels?.[k] !== v);
  return differ.length > 0 ? Object.fromEntries(differ) : undefined;
}

/** The status as applied: lastUsedAt belongs to the validators (applying a cached copy would move it backwards). */
function statusToApply(status: ApiKeyStatus): ApiKeyStatus {
  const clean = JSON.parse(JSON.stringify(status)) as ApiKeyStatus; // drop undefined
  delete clean.lastUsedAt;
  return clean;
}

export function statusChanged(before: ApiKeyStatus | undefined, after: ApiKeyStatus): boolean {
  return !isDeepStrictEqual(statusToApply(before ?? {}), statusToApply(after));
}
