import { randomBytes } from 'node:crypto';
import { deliverySecretName, hashSecretName, type RecordSigningKey } from '../api/hash-record.ts';
import { API_VERSION, APIKEY_RESOURCE, type ApiKeyStatus } from '../api/index.ts';
import { FINALIZER } from '../api/metadata.ts';
import { type LifecycleEvent, lifecycleFromEvent } from '../audit/index.ts';
import type { EventRecorder } from '../kube/events.ts';
import { isAlreadyExists, isConflict, isNotFound, type KubeRest, resourcePath } from '../kube/rest.ts';
import { generateKey, generateKeyId, hashKey, keyHint } from '../rules/index.ts';
import {
  atRestBinding,
  deliveryKeySecret,
  deliveryKeySecretName,
  deliverySecret,
  getSecret,
  openAtRest,
  ownsConsumerSecret,
  readDeliveryKey,
  type SecretObject,
  type StagedKey,
  sealAtRest,
  sealForRecipient,
  secretsPath,
} from './delivery.ts';
import { FIELD_MANAGER } from './options.ts';
import { OwnWrites } from './own-writes.ts';
import { isEmptyPlan, type LiveApiKey, type Need, type Observed, type Plan, plan } from './plan.ts';

export type { LiveApiKey } from './plan.ts';

/** The API calls the reconcile makes (KubeRest, or a stand-in in tests). */
export type KubeClient = Pick<KubeRest, 'get' | 'create' | 'replace' | 'patch' | 'delete'>;

export interface ReconcileContext {
  rest: KubeClient;
  events: Pick<EventRecorder, 'record'>;
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
  /** The informers' hash and delivery Secrets; without it every Secret is read live. */
  cache?: { secret(namespace: string, name: string): SecretObject | undefined };
}

export interface ReconcileResult {
  /** Come back after this many ms (expiry, grace cut-off, delivery TTL, ExpiringSoon). */
  requeueAfterMs?: number;
}

const apiKeyPath = (ns: string, name: string, sub?: string) => resourcePath(APIKEY_RESOURCE, ns, name, sub);

/** A write met a copy other than the one planned from (gone, changed, or there already): plan again from live reads. */
class Replan extends Error {}

/** How often one reconcile re-reads and plans again after conflicting writes before it gives up (and backs off). */
const MAX_REPLANS = 4;
/** Needs one plan can chain (drop, stage, open, seal), with room to spare. */
const MAX_STEPS = 8;

/**
 * gather → plan → apply. Gather reads the ApiKey and its Secrets from the informer caches (a live GET
 * only when the cache lacks something the status says exists, or after a write conflicted); `plan` is
 * pure; apply writes in the crash-safe order: delivery copy (staging), consumer Secret, hash Secret,
 * labels and status, deletes, events. Nothing is written when nothing changed.
 */
export class Reconciler {
  readonly #ctx: ReconcileContext;
  readonly #apiKeys = new OwnWrites<LiveApiKey>();
  readonly #secrets = new OwnWrites<SecretObject>();

  constructor(ctx: ReconcileContext) {
    this.#ctx = ctx;
  }

  /** Informer events, so that what we wrote stops standing in for the cache once the cache has it. */
  seenApiKey(obj: LiveApiKey, deleted: boolean): void {
    this.#apiKeys.seen(`${obj.metadata.namespace}/${obj.metadata.name}`, obj, deleted);
  }
  seenSecret(obj: SecretObject, deleted: boolean): void {
    this.#secrets.seen(`${obj.metadata.namespace}/${obj.metadata.name}`, obj, deleted);
  }

  async reconcile(cached: LiveApiKey): Promise<ReconcileResult> {
    const now = this.#ctx.now();
    const key = `${cached.metadata.namespace}/${cached.metadata.name}`;
    const ak = this.#apiKeys.view(key, cached) ?? cached;
    const deleting = ak.metadata.deletionTimestamp !== undefined;
    if (deleting && !ak.metadata.finalizers?.includes(FINALIZER)) return {};
    // A deletion reads live: what is revoked is what is there now.
    let obs = deleting ? await this.#gatherLive(ak) : await this.#gather(ak);
    if (!obs) return {};
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#settle(obs, now);
      } catch (err) {
        if (!(err instanceof Replan || isConflict(err) || isNotFound(err)) || attempt >= MAX_REPLANS)
          throw err;
        obs = await this.#gatherLive(obs.apiKey);
        if (!obs) return {};
      }
    }
  }

  /** Plans, does what the plan needs first (then plans again), and applies. */
  async #settle(start: Observed, now: Date): Promise<ReconcileResult> {
    let obs = start;
    for (let step = 0; step < MAX_STEPS; step++) {
      const p = plan(obs, this.#policy(), now);
      if (p.need) {
        // The finalizer (with the labels the key will have) goes on before a mint writes anything.
        if (p.need.kind === 'stage' && p.addFinalizer)
          obs = { ...obs, apiKey: await this.#patchMetadata(obs.apiKey, p) };
        else obs = await this.#fulfil(obs, p.need);
        continue;
      }
      if (isEmptyPlan(p)) return requeue(p);
      const { apiKey, refused } = await this.#apply(obs, p);
      if (refused === undefined) return requeue(p);
      obs = { ...obs, apiKey, consumerRefused: refused };
    }
    throw new Error(
      `the plan for ApiKey ${start.apiKey.metadata.namespace}/${start.apiKey.metadata.name} did not settle`,
    );
  }

  #policy() {
    return {
      operatorNamespace: this.#ctx.operatorNamespace,
      recordSigningKey: this.#ctx.recordSigningKey,
      expiringSoonMs: this.#ctx.expiringSoonMs(),
      consumerSecretNamespaces: this.#ctx.consumerSecretNamespaces(),
    };
  }

  // --- gather ---

  async #gather(ak: LiveApiKey): Promise<Observed> {
    const ns = ak.metadata.namespace;
    const opNs = this.#ctx.operatorNamespace;
    const hashName = hashSecretName(ak.metadata.name);
    const deliveryName = deliverySecretName(ns, ak.metadata.name);
    let hashSecret = this.#cachedSecret(ns, hashName);
    // Absent from the cache while status names a key: deleted, or the cache is behind. Ask.
    if (!hashSecret && ak.status?.keyId) hashSecret = await getSecret(this.#ctx.rest, ns, hashName);
    let delivery = this.#cachedSecret(opNs, deliveryName);
    // A pending copy that vanished was revealed; the cache may be behind, so ask before saying so.
    if (!delivery && ak.status?.delivery?.state === 'Pending')
      delivery = await getSecret(this.#ctx.rest, opNs, deliveryName);
    return { apiKey: ak, hashSecret, delivery };
  }

  #cachedSecret(ns: string, name: string): SecretObject | undefined {
    if (!this.#ctx.cache) return undefined;
    return this.#secrets.view(`${ns}/${name}`, this.#ctx.cache.secret(ns, name));
  }

  /** Everything read live: after a conflict, and for a deletion. Undefined when the ApiKey is gone. */
  async #gatherLive(stale: LiveApiKey): Promise<Observed | undefined> {
    const { rest, operatorNamespace } = this.#ctx;
    const { namespace: ns, name } = stale.metadata;
    let ak: LiveApiKey;
    try {
      ak = await rest.get<LiveApiKey>(apiKeyPath(ns, name));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    if (ak.metadata.uid !== stale.metadata.uid) return undefined; // re-created: its own reconcile follows
    this.#apiKeys.forget(`${ns}/${name}`);
    const ref = ak.spec.delivery?.secretRef;
    const [hashSecret, delivery, consumer] = await Promise.all([
      getSecret(rest, ns, hashSecretName(name)),
      getSecret(rest, operatorNamespace, deliverySecretName(ns, name)),
      ak.metadata.deletionTimestamp && ref ? getSecret(rest, ref.namespace ?? ns, ref.name) : undefined,
    ]);
    return { apiKey: ak, hashSecret, delivery, consumer };
  }

  // --- needs ---

  async #fulfil(obs: Observed, need: Need): Promise<Observed> {
    const ak = obs.apiKey;
    switch (need.kind) {
      case 'drop':
        // Left over from a deleted ApiKey of the same name: never hand it out.
        await this.#deleteSecret(need.secret);
        return { ...obs, delivery: undefined };
      case 'stage': {
        const staged = await this.#stageNewKey(ak, need);
        if (typeof staged === 'string') return { ...obs, recipientError: staged };
        return { ...obs, delivery: staged.secret, plaintext: staged.plaintext, opened: true };
      }
      case 'open':
        return { ...obs, plaintext: await this.#openStaged(ak, need.staged), opened: true };
      case 'seal':
        return { ...obs, revealJwe: await sealForRecipient(need.plaintext, need.request.jwk) };
    }
  }

  /**
   * Mints a key for the generation and writes its delivery Secret: the first write of a mint, so a crash
   * later is repaired from it. Returns a message when spec.delivery.recipient cannot be sealed to.
   */
  async #stageNewKey(
    ak: LiveApiKey,
    need: Extract<Need, { kind: 'stage' }>,
  ): Promise<(StagedKey & { secret: SecretObject }) | string> {
    const { generation } = need;
    const keyId = need.keyId ?? generateKeyId();
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
        return `spec.delivery.recipient is not a usable public JWK: ${(err as Error).message}`;
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
      expiresAt: new Date(this.#ctx.now().getTime() + this.#ctx.deliveryTtlMs).toISOString(),
    };
    const body = deliverySecret(this.#ctx.operatorNamespace, ak, staged);
    // Replacing an older generation's unrevealed copy (its key stops working with this mint) carries the
    // resourceVersion read; a copy there already that we did not see means plan again (it may be this
    // generation's, staged by an earlier run: never a second key for one generation).
    const written = await this.#writeSecret(body, need.existing);
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
  async #openStaged(ak: LiveApiKey, staged: StagedKey): Promise<string | undefined> {
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

  // --- apply ---

  /**
   * Applies a plan in the crash-safe order. `refused`: the secretRef Secret exists and is not ours (the
   * plan then says so in status); the apply stopped before the hash Secret.
   */
  async #apply(obs: Observed, p: Plan): Promise<{ apiKey: LiveApiKey; refused?: string }> {
    let ak = obs.apiKey;
    // The finalizer before any Secret is written (deletion must clean up what we write).
    if (p.addFinalizer) ak = await this.#patchMetadata(ak, p);
    for (const s of p.deleteBefore) if (!(await this.#deleteSecret(s))) throw new Replan();
    if (p.consumer) {
      const refused = await this.#writeConsumerSecret(ak, p.consumer);
      if (refused) return { apiKey: ak, refused };
    }
    if (p.hash) await this.#writeSecret(p.hash.body, p.hash.existing);
    // Labels once the Secrets stand (a refused secretRef must not flip them), before status says the state.
    if (!p.addFinalizer && p.labels) ak = await this.#patchMetadata(ak, p);
    // With a lock, the version our label patch made (or the one read) is the precondition.
    if (p.status)
      await this.#writeStatus(ak, p.status, p.lockVersion ? ak.metadata.resourceVersion : undefined);
    for (const s of p.deleteAfter) await this.#deleteSecret(s);
    for (const s of p.revoke) await this.#revokeSecret(s);
    for (const e of p.events) {
      await this.#ctx.events.record(ak, e);
      const lifecycle =
        e.audit &&
        this.#ctx.audit &&
        lifecycleFromEvent(ak, e, { ignoreManagers: [FIELD_MANAGER], keyId: e.keyId, actor: e.actor });
      if (lifecycle) this.#ctx.audit?.recordLifecycle(lifecycle);
    }
    if (p.removeFinalizer) await this.#removeFinalizer(ak);
    return { apiKey: ak };
  }

  /** Creates the Secret, or replaces `existing` with its resourceVersion as the precondition. */
  async #writeSecret(body: SecretObject, existing: SecretObject | undefined): Promise<SecretObject> {
    const { namespace: ns, name } = body.metadata;
    let written: SecretObject;
    try {
      if (existing) {
        body.metadata.resourceVersion = existing.metadata.resourceVersion;
        written = await this.#ctx.rest.replace<SecretObject>(secretsPath(ns, name), body);
      } else {
        written = await this.#ctx.rest.create<SecretObject>(secretsPath(ns), body);
      }
    } catch (err) {
      // There already (created by someone we did not see), changed, or gone: plan again from live reads.
      if (isConflict(err) || isNotFound(err))
        throw new Replan(`Secret ${ns}/${name}: ${(err as Error).message}`);
      throw err;
    }
    this.#secrets.wrote(`${ns}/${name}`, existing, written);
    return written;
  }

  /** Writes the consumer Secret; a Secret of that name we did not make is never touched (the message says so). */
  async #writeConsumerSecret(ak: LiveApiKey, body: SecretObject): Promise<string | undefined> {
    const ns = body.metadata.namespace;
    try {
      await this.#ctx.rest.create(secretsPath(ns), body);
      return undefined;
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
    const existing = await getSecret(this.#ctx.rest, ns, body.metadata.name);
    if (!existing) throw new Replan(`Secret ${ns}/${body.metadata.name} changed while we wrote it`);
    if (!ownsConsumerSecret(existing, ak)) {
      return `Secret ${ns}/${body.metadata.name} (spec.delivery.secretRef) already exists and was not made by keywarden for this ApiKey; keywarden never overwrites or deletes it: delete or rename it, or re-create the ApiKey with another secretRef`;
    }
    // resourceVersion and uid as preconditions: a Secret replaced or re-created meanwhile is not overwritten.
    await this.#ctx.rest.replace(secretsPath(ns, body.metadata.name), {
      ...body,
      metadata: {
        ...body.metadata,
        resourceVersion: existing.metadata.resourceVersion,
        uid: existing.metadata.uid,
      },
    });
    return undefined;
  }

  /** Deletes that very copy (uid and resourceVersion preconditions); false when it was gone or changed. */
  async #deleteSecret(secret: SecretObject): Promise<boolean> {
    const { namespace: ns, name } = secret.metadata;
    try {
      await this.#ctx.rest.delete(secretsPath(ns, name), {
        apiVersion: 'v1',
        kind: 'DeleteOptions',
        preconditions: { uid: secret.metadata.uid, resourceVersion: secret.metadata.resourceVersion },
      });
      this.#secrets.wrote(`${ns}/${name}`, secret, undefined);
      return true;
    } catch (err) {
      if (isNotFound(err) || isConflict(err)) return false;
      throw err;
    }
  }

  /** Deletion: a Secret we made for the ApiKey goes (uid precondition); gone already is fine. */
  async #revokeSecret(secret: SecretObject): Promise<void> {
    const { namespace: ns, name } = secret.metadata;
    try {
      await this.#ctx.rest.delete(secretsPath(ns, name), {
        apiVersion: 'v1',
        kind: 'DeleteOptions',
        preconditions: { uid: secret.metadata.uid },
      });
    } catch (err) {
      // A uid conflict means it was re-created meanwhile: look again (live) before deciding.
      if (!isNotFound(err)) throw err;
    }
    this.#secrets.forget(`${ns}/${name}`);
  }

  /**
   * The finalizer and labels in one patch. With a lock (a reveal answer) the patch carries the
   * resourceVersion read, so it fails (and the reconcile plans again) if the ApiKey changed since.
   */
  async #patchMetadata(ak: LiveApiKey, p: Plan): Promise<LiveApiKey> {
    const path = apiKeyPath(ak.metadata.namespace, ak.metadata.name);
    let patched: LiveApiKey;
    if (p.lockVersion || !p.addFinalizer) {
      patched = await this.#ctx.rest.patch<LiveApiKey>(
        path,
        {
          metadata: {
            ...(p.labels ? { labels: p.labels } : {}),
            // Under the lock the whole list is safe to send: nobody changed it since we read it.
            ...(p.addFinalizer ? { finalizers: [...(ak.metadata.finalizers ?? []), FINALIZER] } : {}),
            ...(p.lockVersion ? { resourceVersion: p.lockVersion } : {}),
          },
        },
        'merge',
      );
    } else {
      // Appended by JSON Patch: another controller's finalizer added meanwhile is kept.
      const esc = (k: string) => k.replaceAll('~', '~0').replaceAll('/', '~1');
      const labels = p.labels ?? {};
      patched = await this.#ctx.rest.patch<LiveApiKey>(
        path,
        [
          ...(ak.metadata.finalizers ? [] : [{ op: 'add', path: '/metadata/finalizers', value: [] }]),
          { op: 'add', path: '/metadata/finalizers/-', value: FINALIZER },
          ...(ak.metadata.labels || !p.labels
            ? Object.entries(labels).map(([k, v]) => ({
                op: 'add',
                path: `/metadata/labels/${esc(k)}`,
                value: v,
              }))
            : [{ op: 'add', path: '/metadata/labels', value: labels }]),
        ],
        'json',
      );
    }
    this.#apiKeys.wrote(`${ak.metadata.namespace}/${ak.metadata.name}`, ak, patched);
    return patched;
  }

  /**
   * The whole status, by server-side apply. `ifVersion`: apply only if the ApiKey is still that version
   * (a 409 plans again). A reveal answer needs it: a CLI that gave up withdraws its request, and a key
   * sealed to a withdrawn request would be lost.
   */
  async #writeStatus(ak: LiveApiKey, status: ApiKeyStatus, ifVersion?: string): Promise<void> {
    const clean = JSON.parse(JSON.stringify(status)) as ApiKeyStatus;
    // lastUsedAt belongs to the validators: applying a cached copy would move it backwards.
    delete clean.lastUsedAt;
    const written = await this.#ctx.rest.patch<LiveApiKey>(
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
    if (written?.metadata) this.#apiKeys.wrote(`${ak.metadata.namespace}/${ak.metadata.name}`, ak, written);
  }

  async #removeFinalizer(ak: LiveApiKey): Promise<void> {
    const index = ak.metadata.finalizers?.indexOf(FINALIZER) ?? -1;
    if (index < 0) return;
    await this.#ctx.rest.patch(
      apiKeyPath(ak.metadata.namespace, ak.metadata.name),
      [
        { op: 'test', path: `/metadata/finalizers/${index}`, value: FINALIZER },
        { op: 'remove', path: `/metadata/finalizers/${index}` },
      ],
      'json',
    );
    this.#apiKeys.forget(`${ak.metadata.namespace}/${ak.metadata.name}`);
  }
}

const requeue = (p: Plan): ReconcileResult =>
  p.requeueAfterMs !== undefined ? { requeueAfterMs: p.requeueAfterMs } : {};
