import type { HashRecord } from '../api/hash-record.ts';
import { REVEAL_ANNOTATIONS } from '../api/metadata.ts';
import { parseRevealRequest, type RevealRequest } from '../api/reveal.ts';
import type { SecretObject, StagedKey } from './delivery.ts';
import { planFailure } from './plan-state.ts';
import { type Draft, type Plan, wake } from './plan-types.ts';

// Step 3 of a plan, the one-time delivery: destroyed after its TTL, or sealed to the one-time public key
// of a reveal request on the ApiKey (status.delivery.jwe) and then destroyed; its disappearance
// otherwise also means revealed (an older CLI deleted it).

/** Returns a plan to return at once (a need, a failure), or what the rest of the plan must know. */
export function planDelivery(
  d: Draft,
  record: HashRecord,
  delivery: SecretObject | undefined,
  staged: StagedKey | undefined,
): { done: Plan } | { sealedNow: boolean } {
  const { ak, status, p } = d;
  if (!delivery || !staged || staged.generation !== record.rotationGeneration) {
    if (!delivery && status.delivery?.state === 'Pending') {
      status.delivery = { state: 'Revealed' };
      d.events.push({
        type: 'Normal',
        reason: 'Revealed',
        action: 'Reveal',
        note: `The one-time copy of key ${record.keyId} was revealed and destroyed`,
        audit: true,
      });
    }
    // The staging copy of a sealed (recipient) key goes once status holds its JWE.
    if (delivery && staged?.jwe) p.deleteAfter.push(delivery);
    return { sealedNow: false };
  }
  const request = parseRevealRequest(ak.metadata.annotations?.[REVEAL_ANNOTATIONS.request]);
  const asked = request?.keyId === staged.keyId && request.generation === staged.generation;
  const answered =
    ak.status?.delivery?.state === 'Revealed' && ak.status.rotationGeneration === staged.generation;
  if (staged.jwe) {
    // Sealed: the JWE moves to status; the staging copy is deleted once status is written.
    status.delivery = { state: 'Sealed', jwe: staged.jwe };
    p.deleteAfter.push(delivery);
  } else if (Date.parse(staged.expiresAt) <= d.now.getTime()) {
    p.deleteBefore.push(delivery);
    status.delivery = { state: 'Expired', expiresAt: staged.expiresAt };
    d.events.push({
      type: 'Normal',
      reason: 'DeliveryExpired',
      action: 'Expire',
      note: `The unrevealed copy of key ${record.keyId} was destroyed after its TTL; raise spec.rotation.generation to mint a new key`,
      audit: true,
    });
  } else if (answered) {
    // Answered already (status written, copy not yet deleted when we stopped; the request may since
    // be withdrawn): never seal it twice, delete the copy now.
    p.deleteAfter.push(delivery);
  } else if (asked && request) {
    return planReveal(d, record, delivery, staged, request);
  } else {
    // Waiting to be revealed. Said from the live copy, not the cached status: the status is applied
    // whole (server-side apply drops a field we omit), and a stale cache may predate the mint.
    status.delivery = { state: 'Pending', expiresAt: staged.expiresAt };
    wake(d, Date.parse(staged.expiresAt));
  }
  return { sealedNow: false };
}

/** A pending reveal request: open the staged copy, seal it to the request's key, answer in status. */
function planReveal(
  d: Draft,
  record: HashRecord,
  delivery: SecretObject,
  staged: StagedKey,
  request: RevealRequest,
): { done: Plan } | { sealedNow: boolean } {
  const { ak, obs, p } = d;
  const plaintext = obs.plaintext ?? staged.plaintext;
  if (plaintext === undefined) {
    if (!obs.opened && staged.sealed !== undefined) return { done: { ...p, need: { kind: 'open', staged } } };
    return {
      done: planFailure(
        d,
        'DeliveryLost',
        'the one-time copy can no longer be opened; raise spec.rotation.generation to mint a new key',
      ),
    };
  }
  if (obs.revealJwe === undefined) return { done: { ...p, need: { kind: 'seal', plaintext, request } } };
  const revealedBy = ak.metadata.annotations?.[REVEAL_ANNOTATIONS.requestedBy] || undefined;
  d.status.delivery = { state: 'Revealed', jwe: obs.revealJwe };
  // Only after status holds the sealed answer: a crash in between must not lose the key.
  p.deleteAfter.push(delivery);
  d.events.push({
    type: 'Normal',
    reason: 'Revealed',
    action: 'Reveal',
    note: `The one-time copy of key ${record.keyId} was revealed${revealedBy ? ` to ${revealedBy}` : ''} and destroyed`,
    audit: true,
    actor: revealedBy,
  });
  return { sealedNow: true };
}
