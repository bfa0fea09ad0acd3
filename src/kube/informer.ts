import { EventEmitter } from 'node:events';
import { Watch } from '@kubernetes/client-node';
import { type KubeRest, resourcePath } from './rest.ts';

// Our own list+watch loop rather than client-node's makeInformer: that one stops for good on any error
// it does not know, asks for no bookmarks and has no watchdog (the "watch that silently dies").
// This one never stops until told to: it rewatches from the last resourceVersion, relists on 410 Gone,
// backs off on errors, relists when nothing at all has arrived for a while, and resyncs periodically.

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }[];
    finalizers?: string[];
    deletionTimestamp?: string;
    creationTimestamp?: string;
  };
}

export interface ResourceRef {
  group: string;
  version: string;
  plural: string;
}

export interface InformerOptions<T extends KubeObject = KubeObject> {
  resource: ResourceRef;
  /** Watch one namespace; all namespaces when absent. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Full relist this often even when all is well (default 10 min). */
  resyncMs?: number;
  /** Relist when nothing, not even a bookmark, arrived for this long (default 3 min). */
  silenceMs?: number;
  /** Longest wait between retries after errors (default 30 s). */
  maxBackoffMs?: number;
  /** Objects per list page (default 500, as client-go's reflector asks). */
  pageSize?: number;
  /**
   * What the cache keeps of an object (events still carry the whole object). Must keep name,
   * namespace and resourceVersion. For large lists whose consumers parse what they need from the
   * events (the validator's key store), so the informer holds no full copy.
   */
  trim?: (obj: T) => T;
  onError?: (err: unknown, attempt: number) => void;
}

interface ListPage<T> {
  metadata: { resourceVersion: string; continue?: string };
  items: T[] | null;
}

export const objectKey = (o: { metadata: { name: string; namespace?: string } }): string =>
  o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;

interface InformerEvents<T> {
  add: [T];
  update: [current: T, previous: T];
  delete: [T];
  synced: [];
  relisted: [];
}

export class Informer<T extends KubeObject> extends EventEmitter<InformerEvents<T>> {
  readonly #rest: KubeRest;
  readonly #watch: Watch;
  readonly #opts: Required<Pick<InformerOptions<T>, 'resyncMs' | 'silenceMs' | 'maxBackoffMs' | 'pageSize'>> &
    InformerOptions<T>;
  readonly #cache = new Map<string, T>();
  #resourceVersion: string | undefined;
  #stopped = true;
  #synced = false;
  #abort: AbortController | undefined;
  #lastContactAt = 0;
  #lastListAt = 0;
  #timer: NodeJS.Timeout | undefined;
  #syncWaiters: (() => void)[] = [];
  /** Count of list calls, for tests and metrics. */
  lists = 0;
  watchRestarts = 0;

  constructor(rest: KubeRest, opts: InformerOptions<T>) {
    super();
    this.#rest = rest;
    this.#watch = new Watch(rest.kc);
    this.#opts = { resyncMs: 600_000, silenceMs: 180_000, maxBackoffMs: 30_000, pageSize: 500, ...opts };
  }

  get hasSynced(): boolean {
    return this.#synced;
  }

  /** False when the API server has not been heard from for longer than the silence limit. */
  get healthy(): boolean {
    return (
      !this.#stopped &&
      Date.now() - this.#lastContactAt < this.#opts.silenceMs + Math.min(30_000, this.#opts.silenceMs)
    );
  }

  get lastContactAt(): number {
    return this.#lastContactAt;
  }

  get(key: string): T | undefined {
    return this.#cache.get(key);
  }

  list(): T[] {
    return [...this.#cache.values()];
  }

  get size(): number {
    return this.#cache.size;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#timer = setInterval(() => this.#watchdog(), Math.min(5_000, this.#opts.silenceMs / 2));
    this.#timer.unref();
    void this.#run();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#abort?.abort();
    for (const w of this.#syncWaiters.splice(0)) w();
  }

  waitForSync(timeoutMs = 60_000): Promise<void> {
    if (this.#synced) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(
        () =>
          reject(new Error(`${this.#opts.resource.plural}: cache not synced after ${timeoutMs / 1000} s`)),
        timeoutMs,
      );
      this.#syncWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** Forces a full relist at the next opportunity (used by the watchdog and by tests). */
  relist(): void {
    this.#resourceVersion = undefined;
    this.#abort?.abort();
  }

  #watchdog(): void {
    const now = Date.now();
    if (now - this.#lastContactAt > this.#opts.silenceMs || now - this.#lastListAt > this.#opts.resyncMs) {
      this.relist();
    }
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (!this.#stopped) {
      try {
        if (this.#resourceVersion === undefined) await this.#list();
        const outcome = await this.#watchOnce();
        if (outcome === 'gone') this.#resourceVersion = undefined;
        failures = 0;
      } catch (err) {
        if (this.#stopped) break;
        failures++;
        this.#opts.onError?.(err, failures);
        // After repeated failures start over from a list: the resourceVersion may be too old.
        if (failures >= 3) this.#resourceVersion = undefined;
        const backoff = Math.min(this.#opts.maxBackoffMs, 250 * 2 ** Math.min(failures, 10));
        await new Promise((r) => setTimeout(r, backoff * (0.5 + Math.random() / 2)));
      }
    }
  }

  #path(): string {
    return resourcePath(this.#opts.resource, this.#opts.namespace);
  }

  /** One page of a paginated list. */
  #page(cont: string | undefined): Promise<ListPage<T>> {
    return this.#rest.request<ListPage<T>>('GET', this.#path(), {
      query: {
        labelSelector: this.#opts.labelSelector,
        fieldSelector: this.#opts.fieldSelector,
        limit: this.#opts.pageSize,
        continue: cont,
      },
      timeoutMs: 60_000,
    });
  }

  async #list(): Promise<void> {
    // Paginated, so a list of 100,000 objects is many short requests rather than one that times out.
    // Each page is applied as it arrives while the next one is being fetched: the API server's time
    // for a page overlaps ours, and no one holds the whole list (with `trim`, only what is kept).
    // Objects applied before a list fails half way are newer than the cache, never older; deletions
    // wait for a complete list.
    const seen = new Set<string>();
    let resourceVersion = '';
    let next: Promise<ListPage<T>> | undefined = this.#page(undefined);
    while (next) {
      const page: ListPage<T> = await next;
      const cont = page.metadata.continue || undefined;
      next = cont ? this.#page(cont) : undefined;
      // Awaited in the next round; if applying this page throws first, its failure must not go unhandled.
      next?.catch(() => {});
      resourceVersion = page.metadata.resourceVersion;
      this.#lastContactAt = Date.now();
      for (const item of page.items ?? []) {
        seen.add(objectKey(item));
        this.#apply('upsert', item);
      }
    }
    this.lists++;
    this.#lastContactAt = this.#lastListAt = Date.now();
    for (const [key, old] of this.#cache) {
      if (!seen.has(key)) {
        this.#cache.delete(key);
        this.emit('delete', old);
      }
    }
    this.#resourceVersion = resourceVersion;
    if (!this.#synced) {
      this.#synced = true;
      for (const w of this.#syncWaiters.splice(0)) w();
      this.emit('synced');
    }
    this.emit('relisted');
  }

  #apply(kind: 'upsert' | 'delete', obj: T): void {
    const key = objectKey(obj);
    const old = this.#cache.get(key);
    if (kind === 'delete') {
      if (old) {
        this.#cache.delete(key);
        this.emit('delete', obj);
      }
      return;
    }
    this.#cache.set(key, this.#opts.trim ? this.#opts.trim(obj) : obj);
    if (!old) this.emit('add', obj);
    else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) this.emit('update', obj, old);
  }

  #watchOnce(): Promise<'closed' | 'gone'> {
    return new Promise((resolve, reject) => {
      let gone = false;
      const done = (err: unknown) => {
        if (gone) return resolve('gone');
        if (this.#stopped) return resolve('closed');
        const e = err as { name?: string; statusCode?: number } | null;
        // Aborted by us (relist) or by client-node's inactivity timer: just go round again.
        if (!e || e.name === 'AbortError' || e.name === 'TimeoutError') return resolve('closed');
        if (e.statusCode === 410) return resolve('gone');
        reject(err);
      };
      const onEvent = (
        phase: string,
        obj: T & { code?: number; metadata?: { resourceVersion?: string } },
      ) => {
        this.#lastContactAt = Date.now();
        if (phase === 'ERROR') {
          if (obj.code === 410) gone = true;
          this.#abort?.abort();
          return;
        }
        const rv = obj.metadata?.resourceVersion;
        if (rv) this.#resourceVersion = rv;
        if (phase === 'ADDED' || phase === 'MODIFIED') this.#apply('upsert', obj);
        else if (phase === 'DELETED') this.#apply('delete', obj);
      };
      this.watchRestarts++;
      this.#watch
        .watch(
          this.#path(),
          {
            resourceVersion: this.#resourceVersion,
            allowWatchBookmarks: true,
            timeoutSeconds: 300,
            labelSelector: this.#opts.labelSelector,
            fieldSelector: this.#opts.fieldSelector,
          },
          onEvent,
          done,
        )
        .then((abort) => {
          this.#abort = abort;
          if (this.#stopped) abort.abort();
          else this.#lastContactAt = Date.now();
        })
        .catch(reject);
    });
  }
}
