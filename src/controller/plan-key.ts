import { type HashRecord, serializeHashRecord } from '../api/hash-record.ts';
import { consumerNamespaceProblem, durationMs, formatRfc3339 } from '../rules/index.ts';
import { consumerSecret, type SecretObject, type StagedKey } from './delivery.ts';
import { buildRecord, hashSecretBody } from './hash-secret.ts';
import { labelsToSet, planFailure, stateOf } from './plan-state.ts';
import type { Draft, Plan, PlannedEvent } from './plan-types.ts';

// Steps 1 and 2 of a plan: mint when there is no key for this generation yet (or repair a mint a crash
// interrupted), else keep the hash record in step with the spec. Either returns the record the key has
// after the plan, or a plan to return at once (a need, or a failure).

export type KeyStep = { record: HashRecord } | { done: Plan };

export function planKey(
  d: Draft,
  trusted: { record: HashRecord; signed: boolean } | undefined,
  delivery: SecretObject | undefined,
  staged: StagedKey | undefined,
): KeyStep {
  const generation = d.ak.spec.rotation?.generation ?? 0;
  const record = trusted?.record;
  if (record && record.rotationGeneration >= generation)
    return { record: syncRecord(d, record, trusted.signed, staged) };
  if (!delivery || !staged || staged.generation !== generation) {
    const refused = d.obs.stageRefused;
    if (refused !== undefined) return { done: planFailure(d, refused.reason, refused.message) };
    // The labels the minted key will have go with the finalizer, in one patch before the first write.
    const mintedState = stateOf(buildRecord(d.ak, { issuedAt: formatRfc3339(d.now) }), d.now);
    return {
      done: {
        ...d.p,
        labels: labelsToSet(d.ak, mintedState),
        need: { kind: 'stage', generation, keyId: record?.keyId ?? d.status.keyId, existing: delivery },
      },
    };
  }
  return mintFromStaged(d, record, staged);
}

/** The staged key becomes the key: its consumer copy (if asked for), its hash record, status and event. */
function mintFromStaged(d: Draft, previous: HashRecord | undefined, staged: StagedKey): KeyStep {
  const { ak, now, p, status } = d;
  const refused = planConsumerCopy(d, staged);
  if (refused) return { done: refused };
  const graceMs = previous && ak.spec.rotation?.gracePeriod ? durationMs(ak.spec.rotation.gracePeriod) : 0;
  const prevCutoff = previous ? Math.min(now.getTime() + graceMs, Date.parse(previous.expiresAt)) : 0;
  const record = buildRecord(ak, {
    keyId: staged.keyId,
    hash: staged.hash,
    rotationGeneration: staged.generation,
    issuedAt: formatRfc3339(now),
    ...(previous && graceMs > 0 && prevCutoff > now.getTime()
      ? { previous: { hash: previous.hash, validUntil: new Date(prevCutoff).toISOString() } }
      : {}),
  });
  p.hash = { body: hashSecretBody(ak, record, d.policy.recordSigningKey), existing: d.obs.hashSecret };
  status.keyId = staged.keyId;
  status.keyHint = staged.hint;
  status.issuedAt = record.issuedAt;
  status.rotationGeneration = staged.generation;
  status.delivery = staged.jwe
    ? { state: 'Sealed', jwe: staged.jwe }
    : { state: 'Pending', expiresAt: staged.expiresAt };
  d.events.push(mintEvent(previous, record, staged));
  return { record };
}

/** The secretRef copy, when the ApiKey asks for one; a plan to return when it cannot be written. */
function planConsumerCopy(d: Draft, staged: StagedKey): Plan | undefined {
  const { ak, obs, policy, p } = d;
  const ref = ak.spec.delivery?.secretRef;
  if (!ref) return undefined;
  const plaintext = obs.plaintext ?? staged.plaintext;
  if (plaintext === undefined) {
    if (!obs.opened && staged.sealed !== undefined) return { ...p, need: { kind: 'open', staged } };
    return planFailure(
      d,
      'DeliveryLost',
      'the plaintext for spec.delivery.secretRef is no longer available; raise spec.rotation.generation to mint a new key',
    );
  }
  // The webhook checked this at admission; a key admitted without it (webhook bypassed or not
  // installed) still never gets a plaintext copy in a system namespace or keywarden's own.
  const refused = consumerNamespaceProblem(ref.namespace ?? ak.metadata.namespace, {
    apiKeyNamespace: ak.metadata.namespace,
    operatorNamespace: policy.operatorNamespace,
    allowList: policy.consumerSecretNamespaces,
  });
  if (refused) return planFailure(d, 'SecretRefRefused', refused);
  if (obs.consumerRefused !== undefined) return planFailure(d, 'SecretRefConflict', obs.consumerRefused);
  p.consumer = consumerSecret(ak, ref, plaintext, staged.generation, staged.keyId);
  return undefined;
}

function mintEvent(previous: HashRecord | undefined, record: HashRecord, staged: StagedKey): PlannedEvent {
  if (!previous)
    return {
      type: 'Normal',
      reason: 'Created',
      action: 'Mint',
      note: `Minted key ${staged.keyId} (${staged.hint})`,
      audit: true,
    };
  const until = record.previous
    ? `; the previous secret works until ${record.previous.validUntil}`
    : '; the previous secret stopped at once';
  return {
    type: 'Normal',
    reason: 'Regenerated',
    action: 'Regenerate',
    note: `Minted a new secret for key ${staged.keyId} (generation ${staged.generation})${until}`,
    audit: true,
  };
}

/** Step 2: the record follows the spec; a previous hash whose grace period is over is dropped. */
function syncRecord(
  d: Draft,
  record: HashRecord,
  signed: boolean,
  staged: StagedKey | undefined,
): HashRecord {
  const { ak, now, p, status } = d;
  const keepPrevious = record.previous && Date.parse(record.previous.validUntil) > now.getTime();
  const desired = buildRecord(ak, {
    keyId: record.keyId,
    hash: record.hash,
    rotationGeneration: record.rotationGeneration,
    issuedAt: record.issuedAt,
    ...(keepPrevious && record.previous ? { previous: record.previous } : {}),
  });
  let current = record;
  if (serializeHashRecord(desired) !== serializeHashRecord(record) || !signed) {
    p.hash = { body: hashSecretBody(ak, desired, d.policy.recordSigningKey), existing: d.obs.hashSecret };
    current = desired;
  }
  status.keyId = current.keyId;
  status.rotationGeneration = current.rotationGeneration;
  status.issuedAt ??= current.issuedAt;
  if (!status.keyHint && staged) status.keyHint = staged.hint;
  return current;
}
