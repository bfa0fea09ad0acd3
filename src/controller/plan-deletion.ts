import { FINALIZER } from '../api/metadata.ts';
import { ownsConsumerSecret, ownsHashSecret, readStaged, type SecretObject } from './delivery.ts';
import type { Observed, Plan } from './plan-types.ts';

// The plan of an ApiKey being deleted: revoke what we made for it, then let it go.

export function planDeletion(obs: Observed, p: Plan): Plan {
  const ak = obs.apiKey;
  if (!ak.metadata.finalizers?.includes(FINALIZER)) return p;
  // Only what we made for this ApiKey (its uid) goes, and only that very object (uid precondition):
  // a Secret of the same name made by anyone else, or re-created meanwhile, is left alone.
  const candidates: [SecretObject | undefined, (s: SecretObject) => boolean][] = [
    [obs.hashSecret, (s) => ownsHashSecret(s, ak)],
    [obs.delivery, (s) => readStaged(s)?.apiKeyUid === ak.metadata.uid],
    [obs.consumer, (s) => ownsConsumerSecret(s, ak)],
  ];
  for (const [secret, ours] of candidates) {
    if (!secret) continue;
    if (ours(secret)) p.revoke.push(secret);
    else
      p.events.push({
        type: 'Warning',
        reason: 'SecretNotOwned',
        action: 'Revoke',
        note: `Secret ${secret.metadata.namespace}/${secret.metadata.name} was left in place: keywarden did not make it for this ApiKey`,
        audit: false,
      });
  }
  p.events.push({
    type: 'Normal',
    reason: 'Deleted',
    action: 'Revoke',
    note: `Key ${ak.status?.keyId ?? '(never minted)'} was revoked for good; its hash and delivery Secrets were removed`,
    audit: true,
    keyId: ak.status?.keyId,
  });
  p.removeFinalizer = true;
  return p;
}
