import type { KeyObject } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { parseRecordKeySet, RECORD_KEYS_KEY, type RecordKeySet } from '../api/hash-record.ts';
import { Informer, objectKey } from '../kube/informer.ts';
import { CONFIGMAPS, SECRETS } from '../kube/resources.ts';
import type { KubeRest } from '../kube/rest.ts';
import { problemsLine } from '../rules/index.ts';
import { KeyIdClaims } from './key-id-claims.ts';
import {
  readHashSecret,
  type SecretLike,
  type SignedRecord,
  type StoredKey,
  signatureRefusal,
} from './stored-key.ts';

/** A read record whose signature is still to be verified. */
interface Waiting {
  readonly ref: string;
  readonly key: StoredKey;
  readonly signed: SignedRecord;
}

/** Signatures verified per turn of the event loop by the background pass (~5 ms: requests keep flowing). */
const VERIFY_BATCH = 64;

// The validator's view of the hash Secrets: fed by list+watch, looked up by key id in O(1). It answers
// from memory, so when the API server goes away it keeps serving what it last saw (fail-static); the
// informer relists when it comes back, and changes made meanwhile arrive then.
//
// Record signatures are verified after the rest of the checks, off the load's path: an Ed25519
// verification costs more than listing, parsing and checking a record together, so 100,000 of them
// would keep a starting validator unready for seconds (minutes on a fraction of a core). A record
// waits unverified, believed by nothing, until the background pass (from the end of the first list
// on) or the first lookup of its key id verifies it: a lookup verifies every waiting claimant of its
// id first, so a forgery is never believed and never blocks the real key (issue 14, DECISIONS).

/** Where the controller's record verification keys come from (validator config keyStore.recordKeys). */
export type RecordKeysSource = { configMap: { namespace: string; name: string } } | { file: string };

interface ConfigMapLike {
  metadata: { name: string; namespace?: string; resourceVersion?: string };
  data?: Record<string, string>;
}

export interface KeyStoreEvents {
  changed: [keyId: string];
  refused: [secretRef: string, error: string];
}

export class KeyStore extends EventEmitter<KeyStoreEvents> {
  readonly #claims = new KeyIdClaims();
  readonly #bySecret = new Map<string, StoredKey>();
  /** Read, checked, signature not verified yet: by Secret, and the Secrets by the key id they claim. */
  readonly #waiting = new Map<string, Waiting>();
  readonly #waitingByKeyId = new Map<string, Set<string>>();
  #verifying: NodeJS.Immediate | undefined;
  #stopped = false;
  #verified: (() => void)[] = [];
  readonly #informers: Informer<SecretLike & { metadata: { name: string } }>[] = [];
  #lastUpdateMs = 0;
  refusedCount = 0;

  /**
   * Verification keys of the controller's record signatures. Set: only records signed by one of them
   * count (anything else is refused, however it is labelled and owned). Unset (a store made without a
   * `recordKeys` source): records are believed unsigned, as before records were signed.
   */
  recordKeys: Map<string, KeyObject> | undefined;
  readonly #keysInformer: Informer<ConfigMapLike> | undefined;
  #keysLoaded: () => void = () => {};
  readonly #keysReady: Promise<void>;

  constructor(opts: { recordKeys?: RecordKeySet; keysInformer?: Informer<ConfigMapLike> } = {}) {
    super();
    this.recordKeys = opts.recordKeys ? new Map(opts.recordKeys) : undefined;
    this.#keysInformer = opts.keysInformer;
    this.#keysReady = opts.keysInformer ? new Promise((r) => (this.#keysLoaded = r)) : Promise.resolve();
  }

  /** `namespaces` empty: all namespaces. */
  static watching(
    rest: KubeRest,
    opts: {
      namespaces: string[];
      labelSelector: string;
      recordKeys?: RecordKeysSource;
      onError?: (err: unknown, attempt: number) => void;
    },
  ): KeyStore {
    const source = opts.recordKeys;
    let store: KeyStore;
    if (source && 'file' in source) {
      const parsed = parseRecordKeySet(readFileSync(source.file, 'utf8'));
      if (!parsed.ok)
        throw new Error(`keyStore.recordKeys.file ${source.file}: ${problemsLine(parsed.problems)}`);
      store = new KeyStore({ recordKeys: parsed.value });
    } else if (source) {
      const { namespace, name } = source.configMap;
      store = new KeyStore({
        keysInformer: new Informer<ConfigMapLike>(rest, {
          resource: CONFIGMAPS,
          namespace,
          fieldSelector: `metadata.name=${name}`,
          onError: opts.onError,
        }),
      });
    } else {
      store = new KeyStore();
    }
    const scopes = opts.namespaces.length > 0 ? opts.namespaces : [undefined];
    for (const namespace of scopes) {
      const informer = new Informer<SecretLike & { metadata: { name: string } }>(rest, {
        resource: SECRETS,
        namespace,
        labelSelector: opts.labelSelector,
        onError: opts.onError,
        // The parsed record is all we keep: the informer holds only what it reads itself (not managed
        // fields or the base64 record, which would otherwise dominate memory at 100,000 keys).
        trim: trimSecret,
        pageSize: LIST_PAGE_SIZE,
      });
      informer.on('add', (s) => store.upsert(s));
      informer.on('update', (s) => store.upsert(s));
      informer.on('delete', (s) => store.remove(objectKey(s)));
      informer.on('relisted', () => store.listed());
      store.#informers.push(informer);
    }
    return store;
  }

  start(): void {
    const keys = this.#keysInformer;
    if (!keys) {
      for (const i of this.#informers) i.start();
      return;
    }
    // Hash Secrets are read only once there is a key to verify them with (never believed unsigned).
    const load = (cm: ConfigMapLike) => {
      const parsed = parseRecordKeySet(cm.data?.[RECORD_KEYS_KEY] ?? '');
      if (!parsed.ok) {
        this.emit('refused', `ConfigMap ${objectKey(cm)}`, problemsLine(parsed.problems));
        return;
      }
      const first = this.recordKeys === undefined;
      // Keys are only ever added while running: a rotation publishes the new key next to the old one.
      this.recordKeys = new Map([...(this.recordKeys ?? []), ...parsed.value]);
      if (first) {
        for (const i of this.#informers) i.start();
        this.#keysLoaded();
      }
    };
    keys.on('add', load);
    keys.on('update', load);
    keys.start();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#verifying) clearImmediate(this.#verifying);
    this.#verifying = undefined;
    this.#keysInformer?.stop();
    for (const i of this.#informers) i.stop();
  }

  /** True once every watched scope has been listed at least once. Stays true while the API server is away. */
  get synced(): boolean {
    return (
      (!this.#keysInformer || this.recordKeys !== undefined) && this.#informers.every((i) => i.hasSynced)
    );
  }

  async waitForSync(timeoutMs?: number): Promise<void> {
    await this.#keysReady;
    await Promise.all(this.#informers.map((i) => i.waitForSync(timeoutMs)));
  }

  /** The last time anything arrived from the API server (an event, a bookmark or a list). */
  get lastUpdateMs(): number {
    return Math.max(this.#lastUpdateMs, ...this.#informers.map((i) => i.lastContactAt));
  }

  /** Keys believed (signature verified when record keys are set); records still waiting are not counted. */
  get size(): number {
    return this.#bySecret.size;
  }

  /** Records read and checked whose signature is not verified yet. */
  get unverified(): number {
    return this.#waiting.size;
  }

  /** Resolves once no record waits for its signature to be verified. */
  verified(): Promise<void> {
    if (this.#waiting.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#verified.push(resolve));
  }

  /** The key with this id, or undefined when none (or, fail closed, when two Secrets claim the id). */
  get(keyId: string): StoredKey | undefined {
    // Every waiting claimant of the id is verified before the answer (a forgery then drops out).
    if (this.#waiting.size > 0) this.#verifyClaimants(keyId);
    return this.#claims.get(keyId);
  }

  keys(): IterableIterator<StoredKey> {
    return this.#bySecret.values();
  }

  /** Adds or replaces the key a Secret carries; a Secret that no longer parses removes its old key. */
  upsert(secret: SecretLike): void {
    const ref = objectKey(secret as { metadata: { name: string; namespace?: string } });
    const read = readHashSecret(secret, ref);
    if (!read.ok) {
      this.#refuse(ref, problemsLine(read.problems));
      return;
    }
    // No record keys (keyStore.recordKeys unset): records are believed unsigned.
    if (!this.recordKeys) {
      this.#believe(ref, read.value.key);
      return;
    }
    // What the Secret says now counts once verified; what it said before stops counting now (a
    // listener told of the change looks the key up, which verifies the new record first).
    this.#unwait(ref);
    this.#wait({ ref, ...read.value });
    this.#forget(ref);
    this.touch();
  }

  remove(secretRef: string): void {
    this.#unwait(secretRef);
    this.#forget(secretRef);
    this.#settled();
  }

  /** Stops believing what a Secret said. */
  #forget(ref: string): void {
    const old = this.#bySecret.get(ref);
    if (!old) return;
    this.#bySecret.delete(ref);
    this.#claims.unclaim(old);
    this.touch();
    this.emit('changed', old.keyId);
  }

  #believe(ref: string, key: StoredKey): void {
    const old = this.#bySecret.get(ref);
    if (old) this.#claims.unclaim(old);
    this.#bySecret.set(ref, key);
    this.#claims.claim(key);
    this.touch();
    this.emit('changed', key.keyId);
  }

  #refuse(ref: string, reason: string): void {
    this.remove(ref);
    this.refusedCount++;
    this.emit('refused', ref, reason);
  }

  #wait(w: Waiting): void {
    this.#waiting.set(w.ref, w);
    const refs = this.#waitingByKeyId.get(w.key.keyId);
    if (refs) refs.add(w.ref);
    else this.#waitingByKeyId.set(w.key.keyId, new Set([w.ref]));
    this.#scheduleVerify();
  }

  #unwait(ref: string): Waiting | undefined {
    const w = this.#waiting.get(ref);
    if (!w) return undefined;
    this.#waiting.delete(ref);
    const refs = this.#waitingByKeyId.get(w.key.keyId);
    refs?.delete(ref);
    if (refs?.size === 0) this.#waitingByKeyId.delete(w.key.keyId);
    return w;
  }

  #settled(): void {
    if (this.#waiting.size === 0) for (const resolve of this.#verified.splice(0)) resolve();
  }

  /** Verifies a waiting record: believed when the controller signed it, refused (and counted) when not. */
  #verify(w: Waiting): void {
    this.#unwait(w.ref);
    const refused = this.recordKeys ? signatureRefusal(w.signed, this.recordKeys) : undefined;
    if (refused) this.#refuse(w.ref, problemsLine(refused.problems));
    else this.#believe(w.ref, w.key);
  }

  #verifyClaimants(keyId: string): void {
    const refs = this.#waitingByKeyId.get(keyId);
    if (!refs) return;
    for (const ref of [...refs]) {
      const w = this.#waiting.get(ref);
      if (w) this.#verify(w);
    }
    this.#settled();
  }

  /**
   * The background pass starts once every scope is listed: during the load it would take the CPU the
   * pages need (on a fraction of a core, the load would last as long as verifying them first).
   */
  #scheduleVerify(): void {
    if (this.#verifying || this.#waiting.size === 0 || this.#stopped || !this.synced) return;
    this.#verifying = setImmediate(() => this.#verifyBatch());
  }

  /** The background pass: a batch per turn of the event loop until nothing waits. */
  #verifyBatch(): void {
    this.#verifying = undefined;
    let n = 0;
    for (const w of this.#waiting.values()) {
      if (n++ === VERIFY_BATCH) break;
      this.#verify(w);
    }
    if (this.#waiting.size > 0) this.#scheduleVerify();
    else this.#settled();
  }

  touch(): void {
    this.#lastUpdateMs = Date.now();
  }

  /** A scope's list completed: once all are, the background pass verifies what waits. */
  listed(): void {
    this.touch();
    this.#scheduleVerify();
  }
}

/**
 * Hash Secrets per list page. Each page costs the API server a read from etcd: at 500 (client-go's
 * default) the pages of 100,000 Secrets took the API server about twice as long as one unpaginated
 * LIST; at 5,000 (about 8 MB of JSON a page) about the same.
 */
const LIST_PAGE_SIZE = 5000;

/** What the informer keeps of a hash Secret: what it reads itself (name, namespace, resourceVersion). */
function trimSecret<T extends SecretLike>(secret: T): T {
  const { name, namespace, resourceVersion } = secret.metadata;
  return { metadata: { name, namespace, resourceVersion } } as T;
}
