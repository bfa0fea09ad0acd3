import { API_VERSION, APIKEY_RESOURCE, type ApiKeyStatus } from '../api/index.ts';
import { FINALIZER } from '../api/metadata.ts';
import { isAlreadyExists, isConflict, isNotFound, type KubeRest, resourcePath } from '../kube/rest.ts';
import { getSecret, ownsConsumerSecret, type SecretObject, secretsPath } from './delivery.ts';
import { FIELD_MANAGER } from './options.ts';
import type { OwnWrites } from './own-writes.ts';
import type { LiveApiKey, Plan } from './plan.ts';

// The reconcile's writes, each with the precondition that keeps it from overwriting what it did not
// read, and each noted in the own-writes view so the next plan sees it before the informers do.

/** The API calls the reconcile makes (KubeRest, or a stand-in in tests). */
export type KubeClient = Pick<KubeRest, 'get' | 'create' | 'replace' | 'patch' | 'delete'>;

/** A write met a copy other than the one planned from (gone, changed, or there already): plan again from live reads. */
export class Replan extends Error {}

export const apiKeyPath = (ns: string, name: string, sub?: string) =>
  resourcePath(APIKEY_RESOURCE, ns, name, sub);

export class Writes {
  readonly #rest: KubeClient;
  readonly #apiKeys: OwnWrites<LiveApiKey>;
  readonly #secrets: OwnWrites<SecretObject>;

  constructor(rest: KubeClient, apiKeys: OwnWrites<LiveApiKey>, secrets: OwnWrites<SecretObject>) {
    this.#rest = rest;
    this.#apiKeys = apiKeys;
    this.#secrets = secrets;
  }

  /** Creates the Secret, or replaces `existing` with its resourceVersion as the precondition. */
  async writeSecret(body: SecretObject, existing: SecretObject | undefined): Promise<SecretObject> {
    const { namespace: ns, name } = body.metadata;
    let written: SecretObject;
    try {
      if (existing) {
        body.metadata.resourceVersion = existing.metadata.resourceVersion;
        written = await this.#rest.replace<SecretObject>(secretsPath(ns, name), body);
      } else {
        written = await this.#rest.create<SecretObject>(secretsPath(ns), body);
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
  async writeConsumerSecret(ak: LiveApiKey, body: SecretObject): Promise<string | undefined> {
    const ns = body.metadata.namespace;
    try {
      await this.#rest.create(secretsPath(ns), body);
      return undefined;
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
    const existing = await getSecret(this.#rest, ns, body.metadata.name);
    if (!existing) throw new Replan(`Secret ${ns}/${body.metadata.name} changed while we wrote it`);
    if (!ownsConsumerSecret(existing, ak)) {
      return `Secret ${ns}/${body.metadata.name} (spec.delivery.secretRef) already exists and was not made by keywarden for this ApiKey; keywarden never overwrites or deletes it: delete or rename it, or re-create the ApiKey with another secretRef`;
    }
    // resourceVersion and uid as preconditions: a Secret replaced or re-created meanwhile is not overwritten.
    await this.#rest.replace(secretsPath(ns, body.metadata.name), {
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
  async deleteSecret(secret: SecretObject): Promise<boolean> {
    const { namespace: ns, name } = secret.metadata;
    try {
      await this.#rest.delete(secretsPath(ns, name), {
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
  async revokeSecret(secret: SecretObject): Promise<void> {
    const { namespace: ns, name } = secret.metadata;
    try {
      await this.#rest.delete(secretsPath(ns, name), {
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
  async patchMetadata(ak: LiveApiKey, p: Plan): Promise<LiveApiKey> {
    const path = apiKeyPath(ak.metadata.namespace, ak.metadata.name);
    let patched: LiveApiKey;
    if (p.lockVersion || !p.addFinalizer) {
      patched = await this.#rest.patch<LiveApiKey>(
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
      patched = await this.#rest.patch<LiveApiKey>(
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
  async writeStatus(ak: LiveApiKey, status: ApiKeyStatus, ifVersion?: string): Promise<void> {
    const clean = JSON.parse(JSON.stringify(status)) as ApiKeyStatus;
    // lastUsedAt belongs to the validators: applying a cached copy would move it backwards.
    delete clean.lastUsedAt;
    const written = await this.#rest.patch<LiveApiKey>(
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

  async removeFinalizer(ak: LiveApiKey): Promise<void> {
    const index = ak.metadata.finalizers?.indexOf(FINALIZER) ?? -1;
    if (index < 0) return;
    await this.#rest.patch(
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
