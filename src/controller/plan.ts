import type { ApiKeyStatus } from '../api/index.ts';
import { FINALIZER } from '../api/metadata.ts';
import { readStaged } from './delivery.ts';
import { trustedRecord } from './hash-secret.ts';
import { planDeletion } from './plan-deletion.ts';
import { planDelivery } from './plan-delivery.ts';
import { planKey } from './plan-key.ts';
import { labelsToSet, planState, statusChanged } from './plan-state.ts';
import { type Draft, emptyPlan, type Observed, type Plan, type Policy, wake } from './plan-types.ts';

// The reconcile's decisions, with no I/O: given what was observed (the ApiKey and its Secrets, plus
// what the I/O steps this plan asked for found), what to write, in which order, and when to come back.
// The Reconciler gathers, asks for a plan, does the one step a plan may need first (stage a new key,
// open or seal the staged one), plans again, and applies. An empty plan means no API call at all.
// The steps: the key (plan-key.ts), the one-time delivery (plan-delivery.ts), the state and its
// conditions (plan-state.ts); deletion is its own plan (plan-deletion.ts).

export type { LiveApiKey, Need, Observed, Plan, PlannedEvent, Policy, StageRefused } from './plan-types.ts';
export { isEmptyPlan } from './plan-types.ts';

export function plan(obs: Observed, policy: Policy, now: Date): Plan {
  const ak = obs.apiKey;
  const p = emptyPlan();
  if (ak.metadata.deletionTimestamp) return planDeletion(obs, p);
  p.addFinalizer = !ak.metadata.finalizers?.includes(FINALIZER);

  const delivery = obs.delivery;
  const staged = delivery ? readStaged(delivery) : undefined;
  // A delivery copy left by a deleted ApiKey of the same name is never handed out: dropped first.
  if (delivery && staged && staged.apiKeyUid !== ak.metadata.uid) {
    return { ...p, need: { kind: 'drop', secret: delivery } };
  }
  const status: ApiKeyStatus = structuredClone(ak.status ?? {});
  const d: Draft = { obs, ak, policy, now, p, status, events: [], requeueAt: Number.POSITIVE_INFINITY };

  const trusted = obs.hashSecret ? trustedRecord(ak, obs.hashSecret, policy.recordSigningKey) : undefined;
  const key = planKey(d, trusted, delivery, staged);
  if ('done' in key) return key.done;
  const { record } = key;
  if (record.previous) wake(d, Date.parse(record.previous.validUntil) + 1);
  status.previousSecretValidUntil = record.previous?.validUntil;

  const handedOut = planDelivery(d, record, delivery, staged);
  if ('done' in handedOut) return handedOut.done;
  const state = planState(d, record);

  // Labels go before status, so that anyone who sees the state in status can already select on it.
  p.labels = labelsToSet(ak, state);
  if (handedOut.sealedNow) p.lockVersion = ak.metadata.resourceVersion;
  p.status = statusChanged(ak.status, status) ? status : undefined;
  p.events = d.events.map((e) => ({ ...e, keyId: status.keyId }));
  if (Number.isFinite(d.requeueAt)) p.requeueAfterMs = d.requeueAt - now.getTime();
  return p;
}
