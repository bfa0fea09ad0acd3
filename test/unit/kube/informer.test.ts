import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { Informer, type InformerOptions, type KubeObject } from '../../../src/kube/informer.ts';
import type { KubeRest, RequestOptions } from '../../../src/kube/rest.ts';
import { KeyStore } from '../../../src/validator/key-store.ts';
import type { SecretLike } from '../../../src/validator/stored-key.ts';
import { makeKey } from '../../support/validator/keys.ts';

// The informer's paginated list, against a fake API server that answers pages from a list of objects:
// pages are applied as they arrive (the next one already asked for), the cache keeps only what `trim`
// keeps, and deletions wait for a complete list. The watch that follows a list has nowhere to connect
// (port 9): the tests stop the informer once it has synced.

type Secret = SecretLike & KubeObject & { metadata: { managedFields?: unknown } };

class FakeApi {
  objects: Secret[] = [];
  log: string[] = [];
  /** Fail the request for this page number (0-based), once. */
  failPage: number | undefined;
  readonly kc = new KubeConfig();

  constructor() {
    this.kc.loadFromOptions({
      clusters: [{ name: 'c', server: 'https://127.0.0.1:9', skipTLSVerify: true }],
      users: [{ name: 'u' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
  }

  async request<T>(_method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const limit = Number(opts.query?.limit);
    const start = Number(opts.query?.continue ?? 0);
    const page = start / limit;
    this.log.push(`GET page ${page}`);
    expect(path).toBe('/api/v1/namespaces/team-a/secrets');
    expect(limit).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 2));
    if (this.failPage === page) {
      this.failPage = undefined;
      throw new Error('connection reset');
    }
    const items = this.objects.slice(start, start + limit).map((o) => structuredClone(o));
    const more = start + limit < this.objects.length;
    return {
      metadata: { resourceVersion: '42', ...(more ? { continue: String(start + limit) } : {}) },
      items,
    } as T;
  }
}

const running: { stop(): void }[] = [];
afterEach(() => {
  for (const r of running.splice(0)) r.stop();
});

function secrets(n: number): Secret[] {
  return Array.from({ length: n }, (_, i) => {
    const s = makeKey({ name: `k-${i}` }).secret as Secret;
    s.metadata.managedFields = [{ manager: 'controller', fieldsV1: { 'f:data': {} } }];
    return s;
  });
}

/** An informer on team-a's Secrets over a FakeApi holding `count` of them, stopped after the test. */
function secretInformer(count: number, options: Partial<InformerOptions<Secret>> = {}) {
  const api = new FakeApi();
  api.objects = secrets(count);
  const informer = new Informer<Secret>(api as unknown as KubeRest, {
    resource: { group: '', version: 'v1', plural: 'secrets' },
    namespace: 'team-a',
    ...options,
  });
  running.push(informer);
  return { api, informer };
}

describe('informer list', () => {
  it('applies each page as it arrives, with the next page already asked for', async () => {
    const { api, informer } = secretInformer(1200);
    let added = 0;
    informer.on('add', () => {
      if (added++ % 500 === 0) api.log.push(`applying from ${added - 1}`);
    });
    informer.start();
    await informer.waitForSync(10_000);
    expect(informer.size).toBe(1200);
    expect(api.log).toEqual([
      'GET page 0',
      'GET page 1',
      'applying from 0',
      'GET page 2',
      'applying from 500',
      'applying from 1000',
    ]);
  });

  it('caches only what trim keeps, while events carry the whole object', async () => {
    const { informer } = secretInformer(3, {
      trim: (s) =>
        ({ metadata: { name: s.metadata.name, resourceVersion: s.metadata.resourceVersion } }) as Secret,
    });
    const seen: Secret[] = [];
    informer.on('add', (s) => seen.push(s));
    informer.start();
    await informer.waitForSync(10_000);
    expect(seen.map((s) => Object.keys(s.data ?? {}))).toEqual([
      ['record.json'],
      ['record.json'],
      ['record.json'],
    ]);
    for (const s of informer.list()) {
      expect(s).toEqual({ metadata: { name: s.metadata.name, resourceVersion: s.metadata.resourceVersion } });
    }
  });

  it('a list that fails half way applies what it read, deletes nothing, and the next full list does', async () => {
    const { api, informer } = secretInformer(1200, {
      maxBackoffMs: 10,
    });
    const deleted: string[] = [];
    informer.on('delete', (s) => deleted.push(s.metadata.name));
    informer.start();
    await informer.waitForSync(10_000);
    // Two objects go away; the relist fails on its second page, then succeeds.
    const gone = api.objects.splice(1100, 2).map((s) => s.metadata.name);
    api.failPage = 1;
    api.log = [];
    informer.relist();
    await expect.poll(() => deleted, { timeout: 10_000 }).toEqual(gone);
    expect(api.log.slice(0, 2)).toEqual(['GET page 0', 'GET page 1']);
    expect(informer.size).toBe(1198);
  });
});

describe('key store over the informer', () => {
  it('loads every page of hash Secrets into parsed keys', async () => {
    const api = new FakeApi();
    const keys = Array.from({ length: 700 }, (_, i) => makeKey({ name: `k-${i}` }));
    api.objects = keys.map((k) => {
      const s = structuredClone(k.secret) as Secret;
      s.metadata.managedFields = [{ manager: 'controller' }];
      return s;
    });
    const store = KeyStore.watching(api as unknown as KubeRest, {
      namespaces: ['team-a'],
      labelSelector: 'x=y',
    });
    running.push(store);
    store.start();
    await store.waitForSync(10_000);
    expect(store.size).toBe(700);
    for (const k of keys) expect(store.get(k.keyId)?.record.hash).toBe(k.record.hash);
  });
});
