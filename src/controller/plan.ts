import { isDeepStrictEqual } from 'node:util';
import {
  HASH_RECORD_KEY,
  HASH_RECORD_SIGNATURE_KEY,
  type HashRecord,
  hashSecretName,
  parseHashRecord,
  type RecordSigningKey,
  recordSignatureValid,
  serializeHashRecord,
  signRecordText,
} from '../api/hash-record.ts';
import { API_VERSION, type ApiKey, type ApiKeyStatus } from '../api/index.ts';
import {
  COMPONENTS,
  FINALIZER,
  LABELS,
  MANAGED_BY,
  REVEAL_ANNOTATIONS,
  SECRET_ANNOTATIONS,
  SECRET_TYPES,
} from '../api/metadata.ts';
import { parseRevealRequest, type RevealRequest } from '../api/reveal.ts';
import type { EventSpec } from '../kube/events.ts';
import {
  consumerNamespaceProblem,
  defaultExpiry,
  durationMs,
  formatRfc3339,
  normalizePermissions,
  normalizeSources,
} from '../rules/index.ts';
import { setCondition } from './conditions.ts';
import {
  consumerSecret,
  ownsConsumerSecret,
  ownsHashSecret,
  readStaged,
  type SecretObject,
  type StagedKey,
} from './delivery.ts';

// The reconcile's decisions, with no I/O: given what was observed (the ApiKey and its Secrets, plus
// what the I/O steps this plan asked for found), what to write, in which order, and when to come back.
// The Reconciler gathers, asks for a plan, does the one step a plan may need first (stage a new key,
// open or seal the staged one), plans again, and applies. An empty plan means no API call at all.

export type LiveApiKey = ApiKey & {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    generation?: number;
    resourceVersion?: string;
    finalizers?: string[];
    deletionTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
};

export interface Observed {
  apiKey: LiveApiKey;
  /** The hash Secret of the ApiKey's name, whoever made it. */
  hashSecret?: SecretObject;
  /** The delivery (staging) Secret of the ApiKey's name in the operator namespace. */
  delivery?: SecretObject;
  /** Deletion only: the Secret named by spec.delivery.secretRef. */
  consumer?: SecretObject;
  /** The staged key in memory: just minted, or opened from its at-rest copy. Never written anywhere. */
  plaintext?: string;
  /** An `open` was done: a plaintext still missing is lost. */
  opened?: boolean;
  /** The staged key sealed to the pending reveal request's one-time key. */
  revealJwe?: string;
  /** Why spec.delivery.recipient could not be sealed to. */
  recipientError?: string;
  /** Why the secretRef Secret was not written (it exists and is not ours). */
  consumerRefused?: string;
}

export interface Policy {
  operatorNamespace: string;
  /** Signs every hash record, so validators can tell ours from one a Secret writer made up. */
  recordSigningKey: RecordSigningKey;
  /** ExpiringSoon window from the ApiKeyPolicy. */
  expiringSoonMs: number;
  /** ApiKeyPolicy consumerSecretNamespaces (undefined: not restricted beyond the reserved namespaces). */
  consumerSecretNamespaces: readonly string[] | undefined;
}

/** I/O the plan needs done before it can say what to write; the Reconciler does it and plans again. */
export type Need =
  /** A delivery copy left by a deleted ApiKey of the same name: never handed out, deleted first. */
  | { kind: 'drop'; secret: SecretObject }
  /** Mint a key for this generation and write its delivery Secret (replacing `existing`): the first write of a mint. */
  | { kind: 'stage'; generation: number; keyId?: string; existing?: SecretObject }
  /** Open the staged copy (its data key is read). */
  | { kind: 'open'; staged: StagedKey }
  /** Seal the staged key to a reveal request's one-time public key. */
  | { kind: 'seal'; plaintext: string; request: RevealRequest };

export interface PlannedEvent extends EventSpec {
  /** Also a lifecycle event in the audit trail (with this key id and actor). */
  audit: boolean;
  keyId?: string;
  actor?: string;
}

export interface Plan {
  need?: Need;
  /** Add our finalizer: before any Secret is written, so deletion always cleans up. */
  addFinalizer: boolean;
  /** Labels to set on the ApiKey (only those that differ). */
  labels?: Record<string, string>;
  /** The label patch and status apply carry this resourceVersion as a precondition (a reveal answer). */
  lockVersion?: string;
  /** Deleted before the status says so; a copy already gone or changed means plan again. */
  deleteBefore: SecretObject[];
  /** The secretRef Secret to create, or replace when it is ours. */
  consumer?: SecretObject;
  /** The hash Secret to write: replaces `existing` (its resourceVersion as precondition), else created. */
  hash?: { body: SecretObject; existing?: SecretObject };
  /** The whole status to apply; undefined when it would not change. */
  status?: ApiKeyStatus;
  /** Deleted after the status is written (uid and resourceVersion preconditions; gone already is fine). */
  deleteAfter: SecretObject[];
  /** Deletion: Secrets made for this ApiKey, deleted with a uid precondition. */
  revoke: SecretObject[];
  events: PlannedEvent[];
  removeFinalizer: boolean;
  requeueAfterMs?: number;
}

const emptyPlan = (): Plan => ({
  addFinalizer: false,
  deleteBefore: [],
  deleteAfter: [],
  revoke: [],
  events: [],
  removeFinalizer: false,
});

/** True when applying the plan would make no API call. */
export function isEmptyPlan(p: Plan): boolean {
  return (
    !p.need &&
    !p.addFinalizer &&
    !p.labels &&
    !p.consumer &&
    !p.hash &&
    !p.status &&
    !p.removeFinalizer &&
    p.deleteBefore.length + p.deleteAfter.length + p.revoke.length + p.events.length === 0
  );
}

const rfc3339 = formatRfc3339;

export function plan(obs: Observed, policy: Policy, now: Date): Plan {
  const ak = obs.apiKey;
  const p = emptyPlan();
  if (ak.metadata.deletionTimestamp) return planDeletion(obs, p);
  p.addFinalizer = !ak.metadata.finalizers?.includes(FINALIZER);

  const generation = ak.spec.rotation?.generation ?? 0;
  const trusted = obs.hashSecret ? trustedRecord(ak, obs.hashSecret, policy.recordSigningKey) : undefined;
  let record = trusted?.record;
  let delivery = obs.delivery;
  let staged = delivery ? readStaged(delivery) : undefined;
  if (delivery && staged && staged.apiKeyUid !== ak.metadata.uid) {
    return { ...p, need: { kind: 'drop', secret: delivery } };
  }

  const status: ApiKeyStatus = structuredClone(ak.status ?? {});
  const events: PlannedEvent[] = [];
  let requeueAt = Number.POSITIVE_INFINITY;
  const wake = (t: number) => {
    if (t > now.getTime()) requeueAt = Math.min(requeueAt, t);
  };
  const fail = (reason: string, message: string) => planFailure(p, ak, status, reason, message, now);

  // 1. Mint when there is no key for this generation yet (or repair a mint a crash interrupted).
  if (!record || record.rotationGeneration < generation) {
    const previous = record;
    if (!delivery || !staged || staged.generation !== generation) {
      if (obs.recipientError !== undefined) return fail('InvalidRecipient', obs.recipientError);
      // The labels the minted key will have go with the finalizer, in one patch before the first write.
      const mintedState = stateOf(buildRecord(ak, { issuedAt: rfc3339(now) }), now);
      return {
        ...p,
        labels: labelsToSet(ak, mintedState),
        need: { kind: 'stage', generation, keyId: previous?.keyId ?? status.keyId, existing: delivery },
      };
    }
    const ref = ak.spec.delivery?.secretRef;
    if (ref) {
      const plaintext = obs.plaintext ?? staged.plaintext;
      if (plaintext === undefined) {
        if (!obs.opened && staged.sealed !== undefined) return { ...p, need: { kind: 'open', staged } };
        return fail(
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
      if (refused) return fail('SecretRefRefused', refused);
      if (obs.consumerRefused !== undefined) return fail('SecretRefConflict', obs.consumerRefused);
      p.consumer = consumerSecret(ak, ref, plaintext, staged.generation, staged.keyId);
    }
    const graceMs = previous && ak.spec.rotation?.gracePeriod ? durationMs(ak.spec.rotation.gracePeriod) : 0;
    const prevCutoff = previous ? Math.min(now.getTime() + graceMs, Date.parse(previous.expiresAt)) : 0;
    record = buildRecord(ak, {
      keyId: staged.keyId,
      hash: staged.hash,
      rotationGeneration: staged.generation,
      issuedAt: rfc3339(now),
      ...(previous && graceMs > 0 && prevCutoff > now.getTime()
        ? { previous: { hash: previous.hash, validUntil: new Date(prevCutoff).toISOString() } }
        : {}),
    });
    p.hash = { body: hashSecretBody(ak, record, policy.recordSigningKey), existing: obs.hashSecret };
    status.keyId = staged.keyId;
    status.keyHint = staged.hint;
    status.issuedAt = record.issuedAt;
    status.rotationGeneration = staged.generation;
    status.delivery = staged.jwe
      ? { state: 'Sealed', jwe: staged.jwe }
      : { state: 'Pending', expiresAt: staged.expiresAt };
    events.push(
      previous
        ? {
            type: 'Normal',
            reason: 'Regenerated',
            action: 'Regenerate',
            note: `Minted a new secret for key ${staged.keyId} (generation ${staged.generation})${record.previous ? `; the previous secret works until ${record.previous.validUntil}` : '; the previous secret stopped at once'}`,
            audit: true,
          }
        : {
            type: 'Normal',
            reason: 'Created',
            action: 'Mint',
            note: `Minted key ${staged.keyId} (${staged.hint})`,
            audit: true,
          },
    );
  } else {
    // 2. Keep the record in step with the spec; drop a previous hash whose grace period is over.
    const keepPrevious = record.previous && Date.parse(record.previous.validUntil) > now.getTime();
    const desired = buildRecord(ak, {
      keyId: record.keyId,
      hash: record.hash,
      rotationGeneration: record.rotationGeneration,
      issuedAt: record.issuedAt,
      ...(keepPrevious && record.previous ? { previous: record.previous } : {}),
    });
    if (serializeHashRecord(desired) !== serializeHashRecord(record) || !trusted?.signed) {
      p.hash = { body: hashSecretBody(ak, desired, policy.recordSigningKey), existing: obs.hashSecret };
      record = desired;
    }
    status.keyId = record.keyId;
    status.rotationGeneration = record.rotationGeneration;
    status.issuedAt ??= record.issuedAt;
    if (!status.keyHint && staged) status.keyHint = staged.hint;
  }
  if (record.previous) wake(Date.parse(record.previous.validUntil) + 1);
  status.previousSecretValidUntil = record.previous?.validUntil;

  // 3. The one-time delivery: destroyed after its TTL, or sealed to the one-time public key of a reveal
  //    request on the ApiKey (status.delivery.jwe) and then destroyed; its disappearance otherwise
  //    also means revealed (an older CLI deleted it).
  let revealedBy: string | undefined;
  let sealedNow = false;
  if (delivery && staged && staged.generation === record.rotationGeneration) {
    const request = parseRevealRequest(ak.metadata.annotations?.[REVEAL_ANNOTATIONS.request]);
    const asked = request?.keyId === staged.keyId && request.generation === staged.generation;
    const answered =
      ak.status?.delivery?.state === 'Revealed' && ak.status.rotationGeneration === staged.generation;
    if (staged.jwe) {
      // Sealed: the JWE moves to status; the staging copy is deleted once status is written (below).
      status.delivery = { state: 'Sealed', jwe: staged.jwe };
    } else if (Date.parse(staged.expiresAt) <= now.getTime()) {
      p.deleteBefore.push(delivery);
      status.delivery = { state: 'Expired', expiresAt: staged.expiresAt };
      events.push({
        type: 'Normal',
        reason: 'DeliveryExpired',
        action: 'Expire',
        note: `The unrevealed copy of key ${record.keyId} was destroyed after its TTL; raise spec.rotation.generation to mint a new key`,
        audit: true,
      });
      delivery = undefined;
      staged = undefined;
    } else if (answered) {
      // Answered already (status written, copy not yet deleted when we stopped; the request may since
      // be withdrawn): never seal it twice, delete the copy now.
      p.deleteAfter.push(delivery);
    } else if (asked && request) {
      const plaintext = obs.plaintext ?? staged.plaintext;
      if (plaintext === undefined) {
        if (!obs.opened && staged.sealed !== undefined) return { ...p, need: { kind: 'open', staged } };
        return fail(
          'DeliveryLost',
          'the one-time copy can no longer be opened; raise spec.rotation.generation to mint a new key',
        );
      }
      if (obs.revealJwe === undefined) return { ...p, need: { kind: 'seal', plaintext, request } };
      revealedBy = ak.metadata.annotations?.[REVEAL_ANNOTATIONS.requestedBy] || undefined;
      status.delivery = { state: 'Revealed', jwe: obs.revealJwe };
      // Only after status holds the sealed answer: a crash in between must not lose the key.
      p.deleteAfter.push(delivery);
      sealedNow = true;
      events.push({
        type: 'Normal',
        reason: 'Revealed',
        action: 'Reveal',
        note: `The one-time copy of key ${record.keyId} was revealed${revealedBy ? ` to ${revealedBy}` : ''} and destroyed`,
        audit: true,
        actor: revealedBy,
      });
    } else {
      // Waiting to be revealed. Said from the live copy, not the cached status: the status is applied
      // whole (server-side apply drops a field we omit), and a stale cache may predate the mint.
      status.delivery = { state: 'Pending', expiresAt: staged.expiresAt };
      wake(Date.parse(staged.expiresAt));
    }
  } else if (!delivery && status.delivery?.state === 'Pending') {
    status.delivery = { state: 'Revealed' };
    events.push({
      type: 'Normal',
      reason: 'Revealed',
      action: 'Reveal',
      note: `The one-time copy of key ${record.keyId} was revealed and destroyed`,
      audit: true,
    });
  }
  // The staging copy of a sealed (recipient) key goes once status holds its JWE.
  if (delivery && staged?.jwe) p.deleteAfter.push(delivery);

  // 4. State and conditions.
  const expiresAt = Date.parse(record.expiresAt);
  const previousState = ak.status?.state;
  const state = stateOf(record, now);
  status.state = state;
  status.expiresAt = record.expiresAt;
  status.observedGeneration = ak.metadata.generation;
  const gen = ak.metadata.generation;
  status.conditions = setCondition(
    status.conditions,
    state === 'Active'
      ? {
          type: 'Ready',
          status: 'True',
          reason: 'Active',
          message: 'The key works at validators of its environment',
          observedGeneration: gen,
        }
      : state === 'Inactive'
        ? {
            type: 'Ready',
            status: 'False',
            reason: 'Disabled',
            message: 'spec.disabled is true: validators refuse the key',
            observedGeneration: gen,
          }
        : {
            type: 'Ready',
            status: 'False',
            reason: 'Expired',
            message: `The key expired at ${record.expiresAt}; set a new spec.expiresAt within one year to use it again`,
            observedGeneration: gen,
          },
    now,
  );
  const soonMs = policy.expiringSoonMs;
  const soon = state === 'Active' && expiresAt - now.getTime() <= soonMs;
  const wasSoon = ak.status?.conditions?.find((c) => c.type === 'ExpiringSoon')?.status === 'True';
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
    events.push({
      type: 'Warning',
      reason: 'ExpiringSoon',
      action: 'Check',
      note: `Key ${record.keyId} expires at ${record.expiresAt}; extend spec.expiresAt or replace the key`,
      audit: true,
    });
  if (state === 'Active') {
    wake(expiresAt - soonMs);
    wake(expiresAt);
  }
  if (previousState && previousState !== state) {
    if (state === 'Inactive')
      events.push({
        type: 'Normal',
        reason: 'Disabled',
        action: 'Disable',
        note: `Key ${record.keyId} was disabled`,
        audit: true,
      });
    if (state === 'Expired')
      events.push({
        type: 'Normal',
        reason: 'Expired',
        action: 'Expire',
        note: `Key ${record.keyId} expired at ${record.expiresAt}`,
        audit: true,
      });
    if (state === 'Active' && (previousState === 'Inactive' || previousState === 'Expired'))
      events.push({
        type: 'Normal',
        reason: 'Enabled',
        action: 'Enable',
        note: `Key ${record.keyId} works again until ${record.expiresAt}`,
        audit: true,
      });
  }

  // Labels go before status, so that anyone who sees the state in status can already select on it.
  p.labels = labelsToSet(ak, state);
  if (sealedNow) p.lockVersion = ak.metadata.resourceVersion;
  p.status = statusChanged(ak.status, status) ? status : undefined;
  p.events = events.map((e) => ({ ...e, keyId: status.keyId }));
  if (Number.isFinite(requeueAt)) p.requeueAfterMs = requeueAt - now.getTime();
  return p;
}

function planFailure(
  p: Plan,
  ak: LiveApiKey,
  status: ApiKeyStatus,
  reason: string,
  message: string,
  now: Date,
): Plan {
  // A key that works keeps its state; one that was never minted is Failed.
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

function planDeletion(obs: Observed, p: Plan): Plan {
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

type RecordBase = Pick<HashRecord, 'keyId' | 'hash' | 'rotationGeneration' | 'issuedAt' | 'previous'>;

/** The record the spec asks for (keyId, hash and generation come from the mint, not the spec). */
export function buildRecord(
  ak: LiveApiKey,
  base: Partial<RecordBase> & Pick<RecordBase, 'issuedAt'>,
): HashRecord {
  const spec = ak.spec;
  // The webhook defaults expiresAt; without it the key still gets the default lifetime, never none.
  const expiresAt =
    spec.expiresAt ?? ak.status?.expiresAt ?? formatRfc3339(defaultExpiry(new Date(base.issuedAt)));
  return {
    version: 1,
    keyId: base.keyId ?? '',
    hash: base.hash ?? '',
    ...(base.previous ? { previous: base.previous } : {}),
    apiKey: { namespace: ak.metadata.namespace, name: ak.metadata.name, uid: ak.metadata.uid },
    environment: spec.environment,
    type: spec.type ?? 'private',
    permissions: normalizePermissions(spec.permissions ?? []),
    allowedSources: normalizedSources(spec.allowedSources ?? []),
    ...(spec.rateLimit ? { rateLimit: { ...spec.rateLimit } } : {}),
    customers: [...(spec.customers ?? [])],
    expiresAt: formatRfc3339(new Date(expiresAt)),
    disabled: spec.disabled === true,
    rotationGeneration: base.rotationGeneration ?? 0,
    issuedAt: base.issuedAt,
  };
}

const stateOf = (record: HashRecord, now: Date): 'Active' | 'Inactive' | 'Expired' =>
  record.disabled ? 'Inactive' : Date.parse(record.expiresAt) <= now.getTime() ? 'Expired' : 'Active';

/** Environment, type and state labels for label selectors (the webhook sets the first two too); only those that differ. */
function labelsToSet(ak: LiveApiKey, state: string): Record<string, string> | undefined {
  const want = {
    [LABELS.environment]: ak.spec.environment,
    [LABELS.type]: ak.spec.type ?? 'private',
    [LABELS.state]: state,
  };
  const differ = Object.entries(want).filter(([k, v]) => ak.metadata.labels?.[k] !== v);
  return differ.length > 0 ? Object.fromEntries(differ) : undefined;
}

/** The status as applied: lastUsedAt belongs to the validators (applying a cached copy would move it backwards). */
export function statusToApply(status: ApiKeyStatus): ApiKeyStatus {
  const clean = JSON.parse(JSON.stringify(status)) as ApiKeyStatus; // drop undefined
  delete clean.lastUsedAt;
  return clean;
}

function statusChanged(before: ApiKeyStatus | undefined, after: ApiKeyStatus): boolean {
  return !isDeepStrictEqual(statusToApply(before ?? {}), statusToApply(after));
}

/**
 * The record in this ApiKey's hash Secret, if the controller wrote it: signed by our key, or (written
 * before records were signed) unsigned with the key id and generation status already names. Anything
 * else (a tenant can write any Secret in its namespace) is ignored: never a source of a key id, hash
 * or previous hash, and overwritten with a signed record.
 */
export function trustedRecord(
  ak: LiveApiKey,
  secret: SecretObject,
  key: RecordSigningKey,
): { record: HashRecord; signed: boolean } | undefined {
  const data = secret.data?.[HASH_RECORD_KEY];
  if (!data || !ownsHashSecret(secret, ak)) return undefined;
  const text = Buffer.from(data, 'base64').toString('utf8');
  const parsed = parseHashRecord(text);
  if (!parsed.ok || parsed.value.apiKey.uid !== ak.metadata.uid) return undefined;
  const sig = secret.data?.[HASH_RECORD_SIGNATURE_KEY];
  const signature = sig === undefined ? undefined : Buffer.from(sig, 'base64').toString('utf8');
  if (recordSignatureValid(text, signature, new Map([[key.kid, key.publicKey]])))
    return { record: parsed.value, signed: true };
  const legacy =
    sig === undefined &&
    parsed.value.keyId === ak.status?.keyId &&
    parsed.value.rotationGeneration === (ak.status?.rotationGeneration ?? 0);
  return legacy ? { record: parsed.value, signed: false } : undefined;
}

/** The hash Secret holding this record, signed. */
export function hashSecretBody(ak: LiveApiKey, record: HashRecord, key: RecordSigningKey): SecretObject {
  const text = serializeHashRecord(record);
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: SECRET_TYPES.hash,
    metadata: {
      name: hashSecretName(ak.metadata.name),
      namespace: ak.metadata.namespace,
      labels: {
        [LABELS.component]: COMPONENTS.hash,
        [LABELS.environment]: record.environment,
        [LABELS.managedBy]: MANAGED_BY,
      },
      annotations: {
        [SECRET_ANNOTATIONS.apiKeyName]: ak.metadata.name,
        [SECRET_ANNOTATIONS.keyId]: record.keyId,
      },
      ownerReferences: [
        {
          apiVersion: API_VERSION,
          kind: 'ApiKey',
          name: ak.metadata.name,
          uid: ak.metadata.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    data: {
      [HASH_RECORD_KEY]: Buffer.from(text).toString('base64'),
      [HASH_RECORD_SIGNATURE_KEY]: Buffer.from(signRecordText(text, key)).toString('base64'),
    },
  };
}

/** The CRD's CEL rule already refused malformed sources; should one slip through, keep it as written (it matches nothing). */
function normalizedSources(list: string[]): string[] {
  const r = normalizeSources(list);
  return r.ok ? r.sources : [...list];
}
