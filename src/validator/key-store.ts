import { EventEmitter } from 'node:events';
import { Informer, objectKey } from '../kube/informer.ts';
import type { KubeRest } from '../kube/rest.ts';
import { type SecretLike, type StoredKey, storedKeyFromSecret } from './stored-key.ts';

// The validator's view of the hash Secrets: fed by list+watch, looked up by key id in O(1). It answers
// from memory, so when the API server goes away it keeps serving what it last saw (fail-static); the
// informer relists when it comes back, and changes made meanwhile arrive then.

export interface KeyStoreEvents {
  changed: [keyId: string];
  refused: [secretRef: string, error: string];
}

export class KeyStore extends EventEmitter<KeyStoreEvents> {
  /** Every key id claimed by at least one Secret; more than one claimant makes the id unusable. */
  readonly #byKeyId = new Map<string, StoredKey[]>();
  readonly #bySecret = new Map<string, StoredKey>();
  readonly #informers: Informer<SecretLike & { metadata: { name: string } }>[] = [];
  #lastUpdateMs = 0;
  refusedCount = 0;

  /** `namespaces` empty: all namespaces. */
  static watching(
    rest: KubeRest,
    opts: { namespaces: string[]; labelSelector: string; onError?: (err: unknown, attempt: number) => void },
  ): KeyStore {
    const store = new KeyStore();
    const scopes = opts.namespaces.length > 0 ? opts.namespaces : [undefined];
    for (const namespace of scopes) {
      const informer = new Informer<SecretLike & { metadata: { name: string } }>(rest, {
        resource: { group: '', version: 'v1', plural: 'secrets' },
        namespace,
        labelSelector: opts.labelSelector,
        onError: opts.onError,
      });
      informer.on('add', (s) => store.upsert(s));
      informer.on('update', (s) => store.upsert(s));
      informer.on('delete', (s) => store.remove(objectKey(s)));
      informer.on('relisted', () => {
        // A relist replaces cached objects whose resourceVersion did not change without an event.
        for (const s of informer.list()) trim(s);
        store.touch();
      });
      store.#informers.push(informer);
    }
    return store;
  }

  start(): void {
    for (const i of this.#informers) i.start();
  }

  stop(): void {
    for (const i of this.#informers) i.stop();
  }

  /** True once every watched scope has been listed at least once. Stays true while the API server is away. */
  get synced(): boolean {
    return this.#informers.every((i) => i.hasSynced);
  }

  async waitForSync(timeoutMs?: number): Promise<void> {
    await Promise.all(this.#informers.map((i) => i.waitForSync(timeoutMs)));
  }

  /** The last time anything arrived from the API server (an event, a bookmark or a list). */
  get lastUpdateMs(): number {
    return Math.max(this.#lastUpdateMs, ...this.#informers.map((i) => i.lastContactAt));
  }

  get size(): number {
    return this.#bySecret.size;
  }

  /** The key with this id, or undefined when none (or, fail closed, when two Secrets claim the id). */
  get(keyId: string): StoredKey | undefined {
    const claims = this.#byKeyId.get(keyId);
    return claims?.length === 1 ? claims[0] : undefined;
  }

  keys(): IterableIterator<StoredKey> {
    return this.#bySecret.values();
  }

  /** Adds or replaces the key a Secret carries; a Secret that no longer parses removes its old key. */
  upsert(secret: SecretLike): void {
    const ref = objectKey(secret as { metadata: { name: string; namespace?: string } });
    const result = storedKeyFromSecret(secret, ref);
    // The parsed record is all we keep: drop the bulky parts of the object the informer caches
    // (managed fields, the base64 record), which would otherwise dominate memory at 100,000 keys.
    trim(secret);
    if (!result.ok) {
      this.remove(ref);
      this.refusedCount++;
      this.emit('refused', ref, result.error);
      return;
    }
    const old = this.#bySecret.get(ref);
    if (old) this.#unclaim(old);
    this.#bySecret.set(ref, result.key);
    const claims = this.#byKeyId.get(result.key.keyId);
    if (claims) claims.push(result.key);
    else this.#byKeyId.set(result.key.keyId, [result.key]);
    this.touch();
    this.emit('changed', result.key.keyId);
  }

  remove(secretRef: string): void {
    const old = this.#bySecret.get(secretRef);
    if (!old) return;
    this.#bySecret.delete(secretRef);
    this.#unclaim(old);
    this.touch();
    this.emit('changed', old.keyId);
  }

  touch(): void {
    this.#lastUpdateMs = Date.now();
  }

  #unclaim(key: StoredKey): void {
    const claims = this.#byKeyId.get(key.keyId);
    if (!claims) return;
    const rest = claims.filter((k) => k !== key);
    if (rest.length === 0) this.#byKeyId.delete(key.keyId);
    else this.#byKeyId.set(key.keyId, rest);
  }
}

/** Keeps only what the informer itself reads: name, namespace and resourceVersion. */
function trim(secret: SecretLike): void {
  const { name, namespace, resourceVersion } = secret.metadata;
  secret.metadata = { name, namespace, resourceVersion };
  delete secret.data;
  delete secret.type;
}
