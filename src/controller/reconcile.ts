import { deliverySecretName, hashSecretName, type RecordSigningKey } from '../api/hash-record.ts';
import { FINALIZER } from '../api/metadata.ts';
import { type LifecycleEvent, lifecycleFromEvent } from '../audit/index.ts';
import type { EventRecorder } from '../kube/events.ts';
import { isConflict, isNotFound } from '../kube/rest.ts';
import { DataKeys } from './data-keys.ts';
import { getSecret, type SecretObject, sealForRecipient } from './delivery.ts';
import { type MintContext, stageNewKey } from './mint.ts';
import { FIELD_MANAGER } from './options.ts';
import { OwnWrites } from './own-writes.ts';
import { isEmptyPlan, type LiveApiKey, type Need, type Observed, type Plan, plan } from './plan.ts';
import { apiKeyPath, type KubeClient, Replan, Writes } from './writes.ts';

export type { LiveApiKey } from './plan.ts';
export type { KubeClient } from './writes.ts';

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
  readonly #writes: Writes;
  readonly #mint: MintContext;

  constructor(ctx: ReconcileContext) {
    this.#ctx = ctx;
    this.#writes = new Writes(ctx.rest, this.#apiKeys, this.#secrets);
    // Named one by one: spreading ctx would read its getters (the record signing key) before they are set.
    this.#mint = {
      dataKeys: new DataKeys(ctx.rest),
      writes: this.#writes,
      operatorNamespace: ctx.operatorNamespace,
      deliveryTtlMs: ctx.deliveryTtlMs,
      now: ctx.now,
    };
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
          obs = { ...obs, apiKey: await this.#writes.patchMetadata(obs.apiKey, p) };
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
        await this.#writes.deleteSecret(need.secret);
        return { ...obs, delivery: undefined };
      case 'stage': {
        const staged = await stageNewKey(this.#mint, ak, need);
        if ('refused' in staged) return { ...obs, stageRefused: staged.refused };
        return { ...obs, delivery: staged.secret, plaintext: staged.plaintext, opened: true };
      }
      case 'open':
        return { ...obs, plaintext: await this.#mint.dataKeys.open(ak, need.staged), opened: true };
      case 'seal':
        return { ...obs, revealJwe: await sealForRecipient(need.plaintext, need.request.jwk) };
    }
  }

  // --- apply ---

  /**
   * Applies a plan in the crash-safe order. `refused`: the secretRef Secret exists and is not ours (the
   * plan then says so in status); the apply stopped before the hash Secret.
   */
  async #apply(obs: Observed, p: Plan): Promise<{ apiKey: LiveApiKey; refused?: string }> {
    let ak = obs.apiKey;
    // The finalizer before any Secret is written (deletion must clean up what we write).
    if (p.addFinalizer) ak = await this.#writes.patchMetadata(ak, p);
    for (const s of p.deleteBefore) if (!(await this.#writes.deleteSecret(s))) throw new Replan();
    if (p.consumer) {
      const refused = await this.#writes.writeConsumerSecret(ak, p.consumer);
      if (refused) return { apiKey: ak, refused };
    }
    if (p.hash) await this.#writes.writeSecret(p.hash.body, p.hash.existing);
    // Labels once the Secrets stand (a refused secretRef must not flip them), before status says the state.
    if (!p.addFinalizer && p.labels) ak = await this.#writes.patchMetadata(ak, p);
    // With a lock, the version our label patch made (or the one read) is the precondition.
    if (p.status)
      await this.#writes.writeStatus(ak, p.status, p.lockVersion ? ak.metadata.resourceVersion : undefined);
    for (const s of p.deleteAfter) await this.#writes.deleteSecret(s);
    for (const s of p.revoke) await this.#writes.revokeSecret(s);
    for (const e of p.events) {
      await this.#ctx.events.record(ak, e);
      const lifecycle =
        e.audit &&
        this.#ctx.audit &&
        lifecycleFromEvent(ak, e, { ignoreManagers: [FIELD_MANAGER], keyId: e.keyId, actor: e.actor });
      if (lifecycle) this.#ctx.audit?.recordLifecycle(lifecycle);
    }
    if (p.removeFinalizer) await this.#writes.removeFinalizer(ak);
    return { apiKey: ak };
  }
}

const requeue = (p: Plan): ReconcileResult =>
  p.requeueAfterMs !== undefined ? { requeueAfterMs: p.requeueAfterMs } : {};
