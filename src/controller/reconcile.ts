import { randomBytes } from 'node:crypto';
import {
  COMPONENT_LABEL,
  HASH_COMPONENT,
  HASH_RECORD_KEY,
  HASH_RECORD_SIGNATURE_KEY,
  HASH_SECRET_TYPE,
  type HashRecord,
  hashSecretName,
  parseHashRecord,
  type RecordSigningKey,
  recordSignatureValid,
  serializeHashRecord,
  signRecordText,
} from '../api/hash-record.ts';
import { API_VERSION, type ApiKey, type ApiKeyStatus, LABELS } from '../api/index.ts';
import { parseRevealRequest, REVEAL_ANNOTATIONS } from '../api/reveal.ts';
import { type LifecycleEvent, lifecycleFromEvent } from '../audit/index.ts';
import type { EventRecorder, EventSpec } from '../kube/events.ts';
import { isAlreadyExists, isConflict, isNotFound, KubeError, type KubeRest } from '../kube/rest.ts';
import {
  consumerNamespaceProblem,
  defaultExpiry,
  durationMs,
  formatRfc3339,
  generateKey,
  generateKeyId,
  hashKey,
  keyHint,
  normalizePermissions,
  normalizeSources,
} from '../rules/index.ts';
import { setCondition } from './conditions.ts';
import {
  ANNOTATIONS,
  atRestBinding,
  consumerSecret,
  deliveryKeySecret,
  deliveryKeySecretName,
  deliverySecret,
  getSecret,
  openAtRest,
  ownsConsumerSecret,
  ownsHashSecret,
  readDeliveryKey,
  readStaged,
  type SecretObject,
  type StagedKey,
  sealAtRest,
  sealForRecipient,
  secretsPath,
} from './delivery.ts';
import { FIELD_MANAGER, FINALIZER } from './options.ts';

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

export interface ReconcileContext {
  rest: KubeRest;
  events: EventRecorder;
  operatorNamespace: string;
  deliveryTtlMs: number;
  /** Signs every hash record, so validators can tell ours from one a Secret writer made up. */
  recordSigningKey: RecordSigningKey;
  /** The audit trail for lifecycle events (created, regenerated, disabled, ...), when configured. */
  audit?: { recordLifecycle(event: LifecycleEvent): void };
  /** ExpiringSoon window from the ApiKeyPolicy (default 14 days). */
  expiringSoonMs: () => number;
  /** ApiKeyPolicy consumerSecretNamespaces (undefined: not restricted beyond the reserved namespaces). */
  consumerSecretNamespaces: () => readonly string[] | undefined;
  now: () => Date;
}

export interface ReconcileResult {
  /** Come back after this many ms (expiry, grace cut-off, delivery TTL, ExpiringSoon). */
  requeueAfterMs?: number;
}

const apiKeyPath = (ns: string, name: string, sub?: string) =>
  `/apis/keywarden.dev/v1alpha1/namespaces/${encodeURIComponent(ns)}/apikeys/${encodeURIComponent(name)}${sub ? `/${sub}` : ''}`;

const rfc3339 = formatRfc3339;

export class Reconciler {
  readonly #ctx: ReconcileContext;

  constructor(ctx: ReconcileContext) {
    this.#ctx = ctx;
  }

  async reconcile(ak: LiveApiKey): Promise<ReconcileResult> {
    if (ak.metadata.deletionTimestamp) {
      await this.#finalize(ak);
      return {};
    }
    await this.#ensureFinalizer(ak);

    const { rest, operatorNamespace } = this.#ctx;
    const now = this.#ctx.now();
    const ns = ak.metadata.namespace;
    const generation = ak.spec.rotation?.generation ?? 0;
    const hashSecret = await getSecret(rest, ns, hashSecretName(ak.metadata.name));
    const trusted = hashSecret ? this.#trustedRecord(ak, hashSecret) : undefined;
    let record = trusted?.record;
    let delivery = await getSecret(rest, operatorNamespace, this.#deliveryName(ak));
    let staged = delivery ? readStaged(delivery) : undefined;
    if (staged && staged.apiKeyUid !== ak.metadata.uid) {
      // Left over from a deleted ApiKey of the same name: never hand it out.
      await this.#deleteSecret(operatorNamespace, delivery as SecretObject);
      delivery = undefined;
      staged = undefined;
    }

    const status: ApiKeyStatus = structuredClone(ak.status ?? {});
    const events: EventSpec[] = [];
    let requeueAt = Number.POSITIVE_INFINITY;
    const wake = (t: number) => {
      if (t > now.getTime()) requeueAt = Math.min(requeueAt, t);
    };

    // 1. Mint when there is no key for this generation yet (or repair a mint a crash interrupted).
    if (!record || record.rotationGeneration < generation) {
      const previous = record;
      if (!staged || staged.generation !== generation) {
        try {
          staged = await this.#stageNewKey(ak, previous?.keyId ?? status.keyId, generation, now);
        } catch (err) {
          if (err instanceof RecipientError) return this.#fail(ak, status, 'InvalidRecipient', err.message);
          throw err;
        }
        delivery = staged.secret;
      }
      if (ak.spec.delivery?.secretRef) {
        staged.plaintext ??= await this.#plaintextOf(ak, staged);
        if (staged.plaintext === undefined) {
          return this.#fail(
            ak,
            status,
            'DeliveryLost',
            'the plaintext for spec.delivery.secretRef is no longer available; raise spec.rotation.generation to mint a new key',
          );
        }
        // The webhook checked this at admission; a key admitted without it (webhook bypassed or not
        // installed) still never gets a plaintext copy in a system namespace or keywarden's own.
        const refused = consumerNamespaceProblem(
          ak.spec.delivery.secretRef.namespace ?? ak.metadata.namespace,
          {
            apiKeyNamespace: ak.metadata.namespace,
            operatorNamespace,
            allowList: this.#ctx.consumerSecretNamespaces(),
          },
        );
        if (refused) return this.#fail(ak, status, 'SecretRefRefused', refused);
        const conflict = await this.#writeConsumerSecret(ak, staged);
        if (conflict) return this.#fail(ak, status, 'SecretRefConflict', conflict);
      }
      const graceMs =
        previous && ak.spec.rotation?.gracePeriod ? durationMs(ak.spec.rotation.gracePeriod) : 0;
      const prevCutoff = previous ? Math.min(now.getTime() + graceMs, Date.parse(previous.expiresAt)) : 0;
      record = this.#record(ak, {
        keyId: staged.keyId,
        hash: staged.hash,
        rotationGeneration: staged.generation,
        issuedAt: rfc3339(now),
        ...(previous && graceMs > 0 && prevCutoff > now.getTime()
          ? { previous: { hash: previous.hash, validUntil: new Date(prevCutoff).toISOString() } }
          : {}),
      });
      await this.#writeHashSecret(ak, hashSecret, record);
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
            }
          : {
              type: 'Normal',
              reason: 'Created',
              action: 'Mint',
              note: `Minted key ${staged.keyId} (${staged.hint})`,
            },
      );
    } else {
      // 2. Keep the record in step with the spec; drop a previous hash whose grace period is over.
      const keepPrevious = record.previous && Date.parse(record.previous.validUntil) > now.getTime();
      const desired = this.#record(ak, {
        keyId: record.keyId,
        hash: record.hash,
        rotationGeneration: record.rotationGeneration,
        issuedAt: record.issuedAt,
        ...(keepPrevious && record.previous ? { previous: record.previous } : {}),
      });
      if (serializeHashRecord(desired) !== serializeHashRecord(record) || !trusted?.signed) {
        await this.#writeHashSecret(ak, hashSecret, desired);
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
    let revealedCopy: SecretObject | undefined;
    let revealedBy: string | undefined;
    let sealedNow = false;
    if (delivery && staged && staged.generation === record.rotationGeneration) {
      const request = parseRevealRequest(ak.metadata.annotations?.[REVEAL_ANNOTATIONS.request]);
      const asked = request?.keyId === staged.keyId && request.generation === staged.generation;
      if (staged.jwe) {
        // Sealed: the JWE moves to status; the staging copy is deleted once status is written (below).
        status.delivery = { state: 'Sealed', jwe: staged.jwe };
      } else if (Date.parse(staged.expiresAt) <= now.getTime()) {
        if (await this.#deleteSecret(operatorNamespace, delivery)) {
          status.delivery = { state: 'Expired', expiresAt: staged.expiresAt };
          events.push({
            type: 'Normal',
            reason: 'DeliveryExpired',
            action: 'Expire',
            note: `The unrevealed copy of key ${record.keyId} was destroyed after its TTL; raise spec.rotation.generation to mint a new key`,
          });
        }
        delivery = undefined;
      } else if (
        asked &&
        ak.status?.delivery?.state === 'Revealed' &&
        ak.status.rotationGeneration === staged.generation
      ) {
        // Answered already (status written, copy not yet deleted when we stopped): never seal it twice.
        revealedCopy = delivery;
      } else if (asked && request) {
        const plaintext = staged.plaintext ?? (await this.#plaintextOf(ak, staged));
        if (plaintext === undefined) {
          return this.#fail(
            ak,
            status,
            'DeliveryLost',
            'the one-time copy can no longer be opened; raise spec.rotation.generation to mint a new key',
          );
        }
        revealedBy = ak.metadata.annotations?.[REVEAL_ANNOTATIONS.requestedBy] || undefined;
        status.delivery = { state: 'Revealed', jwe: await sealForRecipient(plaintext, request.jwk) };
        revealedCopy = delivery;
        sealedNow = true;
        events.push({
          type: 'Normal',
          reason: 'Revealed',
          action: 'Reveal',
          note: `The one-time copy of key ${record.keyId} was revealed${revealedBy ? ` to ${revealedBy}` : ''} and destroyed`,
        });
      } else if (
        ak.status?.delivery?.state === 'Revealed' &&
        ak.status.rotationGeneration === staged.generation
      ) {
        // Answered (the request since withdrawn), copy not yet deleted when we stopped: delete it now.
        revealedCopy = delivery;
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
      });
    }

    // 4. State and conditions.
    const expiresAt = Date.parse(record.expiresAt);
    const previousState = ak.status?.state;
    const state = record.disabled ? 'Inactive' : expiresAt <= now.getTime() ? 'Expired' : 'Active';
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
    const soonMs = this.#ctx.expiringSoonMs();
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
        });
      if (state === 'Expired')
        events.push({
          type: 'Normal',
          reason: 'Expired',
          action: 'Expire',
          note: `Key ${record.keyId} expired at ${record.expiresAt}`,
        });
      if (state === 'Active' && (previousState === 'Inactive' || previousState === 'Expired'))
        events.push({
          type: 'Normal',
          reason: 'Enabled',
          action: 'Enable',
          note: `Key ${record.keyId} works again until ${record.expiresAt}`,
        });
    }

    // Label first, so that anyone who sees the state in status can already select on it.
    const version = await this.#ensureLabels(ak, state, sealedNow);
    await this.#writeStatus(ak, status, sealedNow ? version : undefined);
    if (delivery && staged?.jwe) await this.#deleteSecret(operatorNamespace, delivery);
    // Only after status holds the sealed answer: a crash in between must not lose the key.
    if (revealedCopy) await this.#deleteSecret(operatorNamespace, revealedCopy);
    for (const e of events)
      await this.#announce(ak, e, status.keyId, e.reason === 'Revealed' ? revealedBy : undefined);
    return Number.isFinite(requeueAt) ? { requeueAfterMs: requeueAt - now.getTime() } : {};
  }

  /** An Event for people, and the same change in the audit trail. */
  async #announce(ak: LiveApiKey, e: EventSpec, keyId = ak.status?.keyId, actor?: string): Promise<void> {
    await this.#ctx.events.record(ak, e);
    const lifecycle =
      this.#ctx.audit && lifecycleFromEvent(ak, e, { ignoreManagers: [FIELD_MANAGER], keyId, actor });
    if (lifecycle) this.#ctx.audit?.recordLifecycle(lifecycle);
  }

  #deliveryName(ak: LiveApiKey): string {
    return deliverySecret(this.#ctx.operatorNamespace, ak, {
      generation: 0,
      hash: '',
      keyId: '',
      hint: '',
      expiresAt: '',
    }).metadata.name;
  }

  async #stageNewKey(
    ak: LiveApiKey,
    knownKeyId: string | undefined,
    generation: number,
    now: Date,
  ): Promise<StagedKey> {
    const keyId = knownKeyId ?? generateKeyId();
    const plaintext = generateKey({
      type: ak.spec.type ?? 'private',
      environment: ak.spec.environment,
      keyId,
    });
    let jwe: string | undefined;
    if (ak.spec.delivery?.recipient) {
      try {
        jwe = await sealForRecipient(plaintext, ak.spec.delivery.recipient);
      } catch (err) {
        throw new RecipientError(
          `spec.delivery.recipient is not a usable public JWK: ${(err as Error).message}`,
        );
      }
    }
    const hash = hashKey(plaintext);
    const sealed = jwe
      ? undefined
      : await sealAtRest(
          plaintext,
          await this.#dataKey(ak),
          atRestBinding({ apiKeyUid: ak.metadata.uid, generation, keyId, hash }),
        );
    const staged = {
      generation,
      hash,
      keyId,
      hint: keyHint(plaintext),
      ...(jwe ? { jwe } : { sealed }),
      expiresAt: new Date(now.getTime() + this.#ctx.deliveryTtlMs).toISOString(),
    };
    const body = deliverySecret(this.#ctx.operatorNamespace, ak, staged);
    const path = secretsPath(this.#ctx.operatorNamespace);
    let written: SecretObject;
    try {
      written = await this.#ctx.rest.create<SecretObject>(path, body);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      // An older generation's unrevealed copy: replace it (its key stops working with this mint).
      const existing = await getSecret(this.#ctx.rest, this.#ctx.operatorNamespace, body.metadata.name);
      if (!existing) throw err;
      const old = readStaged(existing);
      if (old && old.generation === generation && old.apiKeyUid === ak.metadata.uid) {
        return old; // someone (a previous run of ours) staged this generation already
      }
      body.metadata.resourceVersion = existing.metadata.resourceVersion;
      written = await this.#ctx.rest.replace<SecretObject>(
        secretsPath(this.#ctx.operatorNamespace, body.metadata.name),
        body,
      );
    }
    return { ...staged, ...(jwe ? {} : { plaintext }), apiKeyUid: ak.metadata.uid, secret: written };
  }

  /** The ApiKey's data key (made on first use): what its delivery copy is sealed with at rest. */
  async #dataKey(ak: LiveApiKey): Promise<Uint8Array> {
    const { rest } = this.#ctx;
    const ns = ak.metadata.namespace;
    const name = deliveryKeySecretName(ak.metadata.name);
    for (let attempt = 0; attempt < 3; attempt++) {
      // Create first: a new ApiKey (the common case) costs one call.
      const fresh = new Uint8Array(randomBytes(32));
      const body = deliveryKeySecret(ak, fresh);
      try {
        await rest.create(secretsPath(ns), body);
        return fresh;
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
      }
      const existing = await getSecret(rest, ns, name);
      if (!existing) continue;
      const key = readDeliveryKey(existing, ak.metadata.uid);
      if (key) return key;
      // Left by a deleted ApiKey of the same name: replace it (resourceVersion precondition).
      body.metadata.resourceVersion = existing.metadata.resourceVersion;
      try {
        await rest.replace(secretsPath(ns, name), body);
        return fresh;
      } catch (err) {
        if (!isConflict(err)) throw err;
      }
    }
    throw new Error(`cannot settle the data key Secret ${ns}/${name}: it keeps changing`);
  }

  /** Opens the copy sealed at rest; undefined when it cannot be (data key gone or replaced). */
  async #plaintextOf(ak: LiveApiKey, staged: StagedKey): Promise<string | undefined> {
    if (staged.plaintext !== undefined) return staged.plaintext;
    if (staged.sealed === undefined) return undefined;
    const secret = await getSecret(
      this.#ctx.rest,
      ak.metadata.namespace,
      deliveryKeySecretName(ak.metadata.name),
    );
    const key = secret && readDeliveryKey(secret, ak.metadata.uid);
    if (!key) return undefined;
    return openAtRest(staged.sealed, key, atRestBinding(staged));
  }

  #record(
    ak: LiveApiKey,
    base: Pick<HashRecord, 'keyId' | 'hash' | 'rotationGeneration' | 'issuedAt' | 'previous'>,
  ): HashRecord {
    const spec = ak.spec;
    // The webhook defaults expiresAt; without it the key still gets the default lifetime, never none.
    const expiresAt =
      spec.expiresAt ?? ak.status?.expiresAt ?? formatRfc3339(defaultExpiry(new Date(base.issuedAt)));
    const record: HashRecord = {
      version: 1,
      keyId: base.keyId,
      hash: base.hash,
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
      rotationGeneration: base.rotationGeneration,
      issuedAt: base.issuedAt,
    };
    return record;
  }

  /**
   * The record in this ApiKey's hash Secret, if the controller wrote it: signed by our key, or (written
   * before records were signed) unsigned with the key id and generation status already names. Anything
   * else (a tenant can write any Secret in its namespace) is ignored: never a source of a key id, hash
   * or previous hash, and overwritten with a signed record.
   */
  #trustedRecord(ak: LiveApiKey, secret: SecretObject): { record: HashRecord; signed: boolean } | undefined {
    const data = secret.data?.[HASH_RECORD_KEY];
    if (!data || !ownsHashSecret(secret, ak)) return undefined;
    const text = Buffer.from(data, 'base64').toString('utf8');
    const parsed = parseHashRecord(text);
    if (!parsed.ok || parsed.value.apiKey.uid !== ak.metadata.uid) return undefined;
    const sig = secret.data?.[HASH_RECORD_SIGNATURE_KEY];
    const key = this.#ctx.recordSigningKey;
    const signature = sig === undefined ? undefined : Buffer.from(sig, 'base64').toString('utf8');
    if (recordSignatureValid(text, signature, new Map([[key.kid, key.publicKey]])))
      return { record: parsed.value, signed: true };
    const legacy =
      sig === undefined &&
      parsed.value.keyId === ak.status?.keyId &&
      parsed.value.rotationGeneration === (ak.status?.rotationGeneration ?? 0);
    return legacy ? { record: parsed.value, signed: false } : undefined;
  }

  async #writeHashSecret(
    ak: LiveApiKey,
    existing: SecretObject | undefined,
    record: HashRecord,
  ): Promise<void> {
    const text = serializeHashRecord(record);
    const body: SecretObject = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: HASH_SECRET_TYPE,
      metadata: {
        name: hashSecretName(ak.metadata.name),
        namespace: ak.metadata.namespace,
        labels: {
          [COMPONENT_LABEL]: HASH_COMPONENT,
          [LABELS.environment]: record.environment,
          [LABELS.managedBy]: 'keywarden',
        },
        annotations: { [ANNOTATIONS.apiKeyName]: ak.metadata.name, [ANNOTATIONS.keyId]: record.keyId },
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
        [HASH_RECORD_SIGNATURE_KEY]: Buffer.from(signRecordText(text, this.#ctx.recordSigningKey)).toString(
          'base64',
        ),
      },
    };
    const path = secretsPath(ak.metadata.namespace);
    if (!existing) {
      await this.#ctx.rest.create(path, body);
      return;
    }
    // The resourceVersion we read is a precondition: a concurrent writer makes this fail and retry.
    body.metadata.resourceVersion = existing.metadata.resourceVersion;
    await this.#ctx.rest.replace(secretsPath(ak.metadata.namespace, body.metadata.name), body);
  }

  /** Writes the consumer Secret; a Secret of that name we did not make is never touched (the message says so). */
  async #writeConsumerSecret(ak: LiveApiKey, staged: StagedKey): Promise<string | undefined> {
    const ref = ak.spec.delivery?.secretRef;
    if (!ref || staged.plaintext === undefined) return undefined;
    const body = consumerSecret(ak, ref, staged.plaintext, staged.generation, staged.keyId);
    const ns = body.metadata.namespace;
    try {
      await this.#ctx.rest.create(secretsPath(ns), body);
      return undefined;
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
    const existing = await getSecret(this.#ctx.rest, ns, body.metadata.name);
    if (!existing)
      throw new KubeError(
        409,
        'Conflict',
        `Secret ${ns}/${body.metadata.name} changed while we wrote it`,
        undefined,
      );
    if (!ownsConsumerSecret(existing, ak)) {
      return `Secret ${ns}/${body.metadata.name} (spec.delivery.secretRef) already exists and was not made by keywarden for this ApiKey; keywarden never overwrites or deletes it: delete or rename it, or re-create the ApiKey with another secretRef`;
    }
    // resourceVersion and uid as preconditions: a Secret replaced or re-created meanwhile is not overwritten.
    body.metadata.resourceVersion = existing.metadata.resourceVersion;
    body.metadata.uid = existing.metadata.uid;
    await this.#ctx.rest.replace(secretsPath(ns, body.metadata.name), body);
    return undefined;
  }

  async #deleteSecret(ns: string, secret: SecretObject): Promise<boolean> {
    try {
      await this.#ctx.rest.delete(secretsPath(ns, secret.metadata.name), {
        apiVersion: 'v1',
        kind: 'DeleteOptions',
        preconditions: { uid: secret.metadata.uid, resourceVersion: secret.metadata.resourceVersion },
      });
      return true;
    } catch (err) {
      if (isNotFound(err) || isConflict(err)) return false;
      throw err;
    }
  }

  /**
   * `ifVersion`: apply only if the ApiKey is still that version (resourceVersion as the apply's
   * precondition; a 409 retries the reconcile). A reveal answer needs it: a CLI that gave up withdraws
   * its request, and a key sealed to a withdrawn request would be lost.
   */
  async #writeStatus(ak: LiveApiKey, status: ApiKeyStatus, ifVersion?: string): Promise<void> {
    const clean = JSON.parse(JSON.stringify(status)) as ApiKeyStatus; // drop undefined
    // lastUsedAt belongs to the validators: applying a cached copy would move it backwards.
    delete clean.lastUsedAt;
    await this.#ctx.rest.patch(
      apiKeyPath(ak.metadata.namespace, ak.metadata.name, 'status'),
      {
        apiVersion: API_VERSION,
        kind: 'ApiKey',
        metadata: {
          name: ak.metadata.name,
          namespace: ak.metadata.namespace,
          ...(ifVersion ? { resourceVersion: ifVersion } : {}),
        },
        status: clean,
      },
      'apply',
      { fieldManager: FIELD_MANAGER, force: true },
    );
  }

  async #ensureFinalizer(ak: LiveApiKey): Promise<void> {
    if (ak.metadata.finalizers?.includes(FINALIZER)) return;
    await this.#ctx.rest.patch(
      apiKeyPath(ak.metadata.namespace, ak.metadata.name),
      [
        ...(ak.metadata.finalizers ? [] : [{ op: 'add', path: '/metadata/finalizers', value: [] }]),
        { op: 'add', path: '/metadata/finalizers/-', value: FINALIZER },
      ],
      'json',
    );
  }

  /** Environment, type and state labels for label selectors (the webhook sets the first two too). */
  /**
   * Returns the ApiKey's resourceVersion after the labels are right. `locked`: the patch carries the
   * resourceVersion read, so it fails (and the reconcile retries) if the ApiKey changed since.
   */
  async #ensureLabels(ak: LiveApiKey, state: string, locked = false): Promise<string | undefined> {
    const want = {
      [LABELS.environment]: ak.spec.environment,
      [LABELS.type]: ak.spec.type ?? 'private',
      [LABELS.state]: state,
    };
    if (Object.entries(want).every(([k, v]) => ak.metadata.labels?.[k] === v))
      return ak.metadata.resourceVersion;
    const lock =
      locked && ak.metadata.resourceVersion ? { resourceVersion: ak.metadata.resourceVersion } : {};
    const patched = await this.#ctx.rest.patch<{ metadata?: { resourceVersion?: string } }>(
      apiKeyPath(ak.metadata.namespace, ak.metadata.name),
      { metadata: { labels: want, ...lock } },
      'merge',
    );
    return patched?.metadata?.resourceVersion;
  }

  async #fail(
    ak: LiveApiKey,
    status: ApiKeyStatus,
    reason: string,
    message: string,
  ): Promise<ReconcileResult> {
    // A key that works keeps its state; one that was never minted is Failed.
    if (!status.keyId) status.state = 'Failed';
    status.observedGeneration = ak.metadata.generation;
    status.conditions = setCondition(
      status.conditions,
      { type: 'Ready', status: 'False', reason, message, observedGeneration: ak.metadata.generation },
      this.#ctx.now(),
    );
    await this.#writeStatus(ak, status);
    if (ak.status?.conditions?.find((c) => c.type === 'Ready')?.reason !== reason) {
      await this.#ctx.events.record(ak, { type: 'Warning', reason, action: 'Mint', note: message });
    }
    return {};
  }

  async #finalize(ak: LiveApiKey): Promise<void> {
    if (!ak.metadata.finalizers?.includes(FINALIZER)) return;
    const { rest, operatorNamespace } = this.#ctx;
    const ns = ak.metadata.namespace;
    // Only what we made for this ApiKey (its uid) goes, and only that very object (uid precondition):
    // a Secret of the same name made by anyone else, or re-created meanwhile, is left alone.
    const ref = ak.spec.delivery?.secretRef;
    const owned: [string, string, (s: SecretObject) => boolean][] = [
      [ns, hashSecretName(ak.metadata.name), (s) => ownsHashSecret(s, ak)],
      [operatorNamespace, this.#deliveryName(ak), (s) => readStaged(s)?.apiKeyUid === ak.metadata.uid],
      ...(ref
        ? [
            [ref.namespace ?? ns, ref.name, (s: SecretObject) => ownsConsumerSecret(s, ak)] as [
              string,
              string,
              (s: SecretObject) => boolean,
            ],
          ]
        : []),
    ];
    for (const [secretNs, name, ours] of owned) {
      const secret = await getSecret(rest, secretNs, name);
      if (!secret) continue;
      if (!ours(secret)) {
        await this.#ctx.events.record(ak, {
          type: 'Warning',
          reason: 'SecretNotOwned',
          action: 'Revoke',
          note: `Secret ${secretNs}/${name} was left in place: keywarden did not make it for this ApiKey`,
        });
        continue;
      }
      try {
        await rest.delete(secretsPath(secretNs, name), {
          apiVersion: 'v1',
          kind: 'DeleteOptions',
          preconditions: { uid: secret.metadata.uid },
        });
      } catch (err) {
        // Gone already is fine; a uid conflict means it was re-created meanwhile: look again next time.
        if (!isNotFound(err)) throw err;
      }
    }
    await this.#announce(ak, {
      type: 'Normal',
      reason: 'Deleted',
      action: 'Revoke',
      note: `Key ${ak.status?.keyId ?? '(never minted)'} was revoked for good; its hash and delivery Secrets were removed`,
    });
    const index = ak.metadata.finalizers.indexOf(FINALIZER);
    await rest.patch(
      apiKeyPath(ns, ak.metadata.name),
      [
        { op: 'test', path: `/metadata/finalizers/${index}`, value: FINALIZER },
        { op: 'remove', path: `/metadata/finalizers/${index}` },
      ],
      'json',
    );
  }
}

class RecipientError extends Error {}

/** The CRD's CEL rule already refused malformed sources; should one slip through, keep it as written (it matches nothing). */
function normalizedSources(list: string[]): string[] {
  const r = normalizeSources(list);
  return r.ok ? r.sources : [...list];
}
