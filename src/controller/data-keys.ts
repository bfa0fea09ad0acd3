import { randomBytes } from 'node:crypto';
import { SECRET_TYPES } from '../api/metadata.ts';
import { isAlreadyExists, isConflict } from '../kube/rest.ts';
import {
  atRestBinding,
  DATA_KEY_SECRET_NAME,
  dataKeySecret,
  getSecret,
  legacyDataKeySecretName,
  openAtRest,
  readDataKey,
  type SecretObject,
  type StagedKey,
  sealedWithNamespaceKey,
  secretsPath,
} from './delivery.ts';
import type { LiveApiKey } from './plan.ts';
import type { KubeClient } from './writes.ts';

/** The namespace's data-key Secret name is taken by a Secret that is not keywarden's. */
export class DataKeyConflict extends Error {}

/**
 * The namespaces' data keys (what delivery copies are sealed with at rest), read or made once per
 * namespace and then held in memory: minting a key in a namespace that has one makes no call for it.
 * Opening a copy the held key does not open reads the Secret again (it was replaced), so a stale
 * memory can only cost a read, never open a copy with the wrong key.
 */
export class DataKeys {
  readonly #rest: KubeClient;
  readonly #byNamespace = new Map<string, Uint8Array>();
  /** First use in a namespace by several workers at once: one read (and at most one create). */
  readonly #settling = new Map<string, Promise<Uint8Array>>();

  constructor(rest: KubeClient) {
    this.#rest = rest;
  }

  /** The key to seal a new copy in `namespace` with (the namespace's Secret is made on first use). */
  forSealing(namespace: string): Promise<Uint8Array> {
    const held = this.#byNamespace.get(namespace);
    if (held) return Promise.resolve(held);
    let settling = this.#settling.get(namespace);
    if (!settling) {
      settling = this.#settle(namespace).finally(() => this.#settling.delete(namespace));
      this.#settling.set(namespace, settling);
    }
    return settling;
  }

  /** Opens a copy sealed at rest; undefined when it cannot be (data key gone or replaced). */
  async open(ak: LiveApiKey, staged: StagedKey): Promise<string | undefined> {
    if (staged.sealed === undefined) return undefined;
    const binding = atRestBinding(staged);
    const ns = ak.metadata.namespace;
    if (!sealedWithNamespaceKey(staged.sealed)) {
      // Sealed before data keys were per namespace: its ApiKey's own data key, if that ApiKey owns it.
      const legacy = await getSecret(this.#rest, ns, legacyDataKeySecretName(ak.metadata.name));
      const key = legacy && readDataKey(legacy, ak.metadata.uid);
      return key && openAtRest(staged.sealed, key, binding);
    }
    const held = this.#byNamespace.get(ns);
    const opened = held && (await openAtRest(staged.sealed, held, binding));
    if (opened !== undefined) return opened;
    const secret = await getSecret(this.#rest, ns, DATA_KEY_SECRET_NAME);
    const key = secret && readDataKey(secret);
    if (!key) return undefined;
    this.#byNamespace.set(ns, key);
    return openAtRest(staged.sealed, key, binding);
  }

  async #settle(namespace: string): Promise<Uint8Array> {
    const path = secretsPath(namespace, DATA_KEY_SECRET_NAME);
    for (let attempt = 0; attempt < 3; attempt++) {
      const existing = await getSecret(this.#rest, namespace, DATA_KEY_SECRET_NAME);
      const key = existing && readDataKey(existing);
      if (key) return this.#hold(namespace, key);
      const fresh = new Uint8Array(randomBytes(32));
      const body = dataKeySecret(namespace, fresh);
      try {
        if (!existing) await this.#rest.create(secretsPath(namespace), body);
        else {
          // Ours but unreadable (its key field edited away): replace it, on the version read. A copy
          // sealed with the old key was lost with it. Someone else's Secret of that name is never touched.
          if (!isOurs(existing)) throw new DataKeyConflict(foreignMessage(namespace));
          body.metadata.resourceVersion = existing.metadata.resourceVersion;
          await this.#rest.replace(path, body);
        }
        return this.#hold(namespace, fresh);
      } catch (err) {
        if (!isAlreadyExists(err) && !isConflict(err)) throw err;
      }
    }
    throw new Error(
      `cannot settle the data key Secret ${namespace}/${DATA_KEY_SECRET_NAME}: it keeps changing`,
    );
  }

  #hold(namespace: string, key: Uint8Array): Uint8Array {
    this.#byNamespace.set(namespace, key);
    return key;
  }
}

/** A Secret's type cannot change, so only one of ours can be replaced by ours. */
const isOurs = (s: SecretObject) => s.type === SECRET_TYPES.deliveryKey;

const foreignMessage = (ns: string) =>
  `the Secret ${ns}/${DATA_KEY_SECRET_NAME} exists and is not keywarden's data key (keywarden keeps the key that seals pending copies under that name): rename that Secret, and the key is minted at the controller's next resync (every 10 minutes by default) or the ApiKey's next change`;
