import { compactDecrypt, exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { HASH_RECORD_KEY, hashSecretName, parseHashRecord } from '../../../src/api/hash-record.ts';
import { LABELS, REVEAL_ANNOTATIONS } from '../../../src/api/metadata.ts';
import { serializeRevealRequest } from '../../../src/api/reveal.ts';
import { type SecretObject, secretsPath } from '../../../src/controller/delivery.ts';
import { type LiveApiKey, Reconciler } from '../../../src/controller/reconcile.ts';
import { EventRecorder } from '../../../src/kube/events.ts';
import type { KubeRest } from '../../../src/kube/rest.ts';
import { hashKey } from '../../../src/rules/index.ts';
import { apiKey, DAY, KEY, NOW, OP_NS } from '../../support/controller/apikeys.ts';
import { FakeKube } from '../../support/kube/fake-kube.ts';

// The reconcile against FakeKube, a stand-in for the API server that counts calls (the integration
// tests run the same controller against a real one). What is counted is what a user pays for: an
// unchanged key re-reconciled makes no API call at all.

const akPath = (name: string) => `/apis/keywarden.dev/v1alpha1/namespaces/team-a/apikeys/${name}`;

function harness() {
  const kube = new FakeKube();
  // The informers' Secret cache: it shows the fake's Secrets only when the test says the watch delivered.
  const cache = new Map<string, SecretObject>();
  const reconciler = new Reconciler({
    rest: kube,
    events: new EventRecorder(kube as unknown as KubeRest, 'keywarden.dev/controller', 'test'),
    operatorNamespace: OP_NS,
    deliveryTtlMs: DAY,
    recordSigningKey: KEY,
    expiringSoonMs: () => 14 * DAY,
    consumerSecretNamespaces: () => undefined,
    now: () => NOW,
    cache: { secret: (ns, name) => structuredClone(cache.get(`${ns}/${name}`)) },
  });
  const sync = () => {
    cache.clear();
    for (const o of kube.objects.values()) {
      const s = o as unknown as SecretObject;
      if (
        s.kind === 'Secret' &&
        s.metadata.labels?.[LABELS.component] &&
        s.type !== 'keywarden.dev/delivery-key'
      )
        cache.set(`${s.metadata.namespace}/${s.metadata.name}`, s);
    }
  };
  const create = (name: string) =>
    kube.seed(
      akPath(name),
      apiKey({}, { name, finalizers: undefined, labels: undefined, resourceVersion: undefined }),
    );
  const live = (name: string) => kube.peek<LiveApiKey>(akPath(name)) as LiveApiKey;
  const calls = () =>
    kube.calls.map((c) => `${c.method} ${c.path.replace(/^\/apis?\/[^/]+(\/v1\w*)?\//, '')}`);
  /** A user's edit of an ApiKey reaches the API server; the controller reconciles it (calls counted from here). */
  const editAndReconcile = async (ak: LiveApiKey) => {
    kube.seed(akPath(ak.metadata.name), ak);
    kube.calls.length = 0;
    await reconciler.reconcile(live(ak.metadata.name));
  };
  return { kube, reconciler, sync, create, live, calls, cache, editAndReconcile };
}

describe('reconcile: API calls', () => {
  it('a new key costs five writes (finalizer+labels, delivery copy, hash, status, Event); re-reconciled unchanged, none', async () => {
    const h = harness();
    // The namespace's first key also reads and makes its data key, once.
    await h.reconciler.reconcile(h.create('first'));
    expect(h.calls().slice(0, 3)).toEqual([
      'PATCH namespaces/team-a/apikeys/first',
      'GET namespaces/team-a/secrets/keywarden-delivery-key',
      'POST namespaces/team-a/secrets',
    ]);
    h.kube.calls.length = 0;
    const created = h.create('billing');
    await h.reconciler.reconcile(created);
    expect(h.calls()).toEqual([
      'PATCH namespaces/team-a/apikeys/billing',
      'POST namespaces/keywarden-system/secrets',
      'POST namespaces/team-a/secrets',
      'PATCH namespaces/team-a/apikeys/billing/status',
      'POST namespaces/team-a/events',
    ]);
    expect(h.live('billing').status).toMatchObject({ state: 'Active', delivery: { state: 'Pending' } });

    // The informers caught up: the same key again makes no call at all.
    h.sync();
    h.kube.calls.length = 0;
    await h.reconciler.reconcile(h.live('billing'));
    expect(h.kube.calls).toEqual([]);
  });

  it('right after a mint, with informers that have not seen our writes yet, still no call', async () => {
    const h = harness();
    const created = h.create('billing');
    await h.reconciler.reconcile(created);
    h.kube.calls.length = 0;
    // The watch is behind: the cache still holds the ApiKey as created and none of its Secrets.
    await h.reconciler.reconcile(created);
    expect(h.kube.calls).toEqual([]);
  });

  it('a steady-state resync of 200 keys makes no call', async () => {
    const h = harness();
    for (let i = 0; i < 200; i++) await h.reconciler.reconcile(h.create(`k-${i}`));
    h.sync();
    h.kube.calls.length = 0;
    for (let i = 0; i < 200; i++) await h.reconciler.reconcile(h.live(`k-${i}`));
    expect(h.kube.writes).toEqual([]);
    expect(h.kube.calls).toEqual([]);
  });

  it('a change (disable) writes only what changed: hash, label, status, Event', async () => {
    const h = harness();
    await h.reconciler.reconcile(h.create('billing'));
    h.sync();
    const ak = h.live('billing');
    ak.spec.disabled = true;
    await h.editAndReconcile(ak);
    expect(h.calls()).toEqual([
      'PUT namespaces/team-a/secrets/billing.keywarden-hash',
      'PATCH namespaces/team-a/apikeys/billing',
      'PATCH namespaces/team-a/apikeys/billing/status',
      'POST namespaces/team-a/events',
    ]);
    expect(h.live('billing').status?.state).toBe('Inactive');
  });

  it('a stale cached hash Secret: the replace conflicts, the reconcile reads live and plans again (no second key)', async () => {
    const h = harness();
    await h.reconciler.reconcile(h.create('billing'));
    h.sync();
    const stale = structuredClone(h.cache.get(`team-a/${hashSecretName('billing')}`)) as SecretObject;
    // Someone (a previous run) rewrote the hash Secret; the cache has not seen it.
    const path = secretsPath('team-a', hashSecretName('billing'));
    h.kube.seed(path, h.kube.peek(path) as SecretObject);
    const ak = h.live('billing');
    ak.spec.permissions = ['devices:write'];
    h.kube.seed(akPath('billing'), ak);
    h.cache.set(`team-a/${hashSecretName('billing')}`, stale);
    await h.reconciler.reconcile(h.live('billing'));
    const record = parseHashRecord(
      Buffer.from(h.kube.peek<SecretObject>(path)?.data?.[HASH_RECORD_KEY] ?? '', 'base64').toString(),
    );
    expect(record.ok && record.value.permissions).toEqual(['devices:write']);
    expect(record.ok && record.value.keyId).toBe(h.live('billing').status?.keyId);
    expect(h.calls().filter((c) => c.startsWith('GET'))).toContain('GET namespaces/team-a/apikeys/billing');
  });

  it('a crash after the delivery copy was staged: repaired from it, never a second key for the generation', async () => {
    const h = harness();
    const created = h.create('billing');
    await h.reconciler.reconcile(created);
    const staged = h.kube.peek<SecretObject>(secretsPath(OP_NS, 'team-a.billing.delivery'));
    // Lose everything after the staging: hash Secret and status.
    h.kube.objects.delete(secretsPath('team-a', hashSecretName('billing')));
    const ak = h.live('billing');
    delete ak.status;
    h.kube.seed(akPath('billing'), ak);
    // A fresh controller (no memory of its writes) with a synced cache.
    const fresh = harness();
    for (const [k, v] of h.kube.objects) fresh.kube.objects.set(k, v);
    fresh.sync();
    await fresh.reconciler.reconcile(fresh.live('billing'));
    const hash = fresh.kube.peek<SecretObject>(secretsPath('team-a', hashSecretName('billing')));
    const record = parseHashRecord(Buffer.from(hash?.data?.[HASH_RECORD_KEY] ?? '', 'base64').toString());
    expect(record.ok && record.value.hash).toBe(staged?.metadata.annotations?.['keywarden.dev/key-hash']);
    expect(fresh.kube.peek<SecretObject>(secretsPath(OP_NS, 'team-a.billing.delivery'))).toEqual(staged);
  });

  it('a reveal: the copy is opened, sealed to the request, status written on that version, then the copy deleted', async () => {
    const h = harness();
    await h.reconciler.reconcile(h.create('billing'));
    h.sync();
    const { privateKey, publicKey } = await generateKeyPair('ECDH-ES+A256KW', { crv: 'P-256' });
    const jwk = await exportJWK(publicKey);
    const ak = h.live('billing');
    const request = serializeRevealRequest({
      keyId: ak.status?.keyId ?? '',
      generation: 0,
      jwk: { kty: 'EC', crv: 'P-256', x: jwk.x ?? '', y: jwk.y ?? '', kid: 'b25lLXRpbWU' },
    });
    ak.metadata.annotations = { [REVEAL_ANNOTATIONS.request]: request };
    await h.editAndReconcile(ak);
    // The data key is held from the mint: opening the copy reads nothing.
    expect(h.calls()).toEqual([
      'PATCH namespaces/team-a/apikeys/billing/status',
      'DELETE namespaces/keywarden-system/secrets/team-a.billing.delivery',
      'POST namespaces/team-a/events',
    ]);
    const status = h.live('billing').status;
    expect(status?.delivery?.state).toBe('Revealed');
    const { plaintext } = await compactDecrypt(status?.delivery?.jwe ?? '', privateKey);
    const hash = h.kube.peek<SecretObject>(secretsPath('team-a', hashSecretName('billing')));
    const record = parseHashRecord(Buffer.from(hash?.data?.[HASH_RECORD_KEY] ?? '', 'base64').toString());
    expect(record.ok && record.value.hash).toBe(hashKey(new TextDecoder().decode(plaintext)));
  });

  it('a reveal request withdrawn after it was read: the answer is not written (resourceVersion precondition), the copy stays', async () => {
    const h = harness();
    await h.reconciler.reconcile(h.create('billing'));
    h.sync();
    const { publicKey } = await generateKeyPair('ECDH-ES+A256KW', { crv: 'P-256' });
    const jwk = await exportJWK(publicKey);
    const asked = h.live('billing');
    asked.metadata.annotations = {
      [REVEAL_ANNOTATIONS.request]: serializeRevealRequest({
        keyId: asked.status?.keyId ?? '',
        generation: 0,
        jwk: { kty: 'EC', crv: 'P-256', x: jwk.x ?? '', y: jwk.y ?? '', kid: 'b25lLXRpbWU' },
      }),
    };
    const cached = h.kube.seed(akPath('billing'), asked);
    // The CLI gave up and withdrew its request; the informer has not shown that yet.
    const withdrawn = h.live('billing');
    withdrawn.metadata.annotations = {};
    h.kube.seed(akPath('billing'), withdrawn);
    await h.reconciler.reconcile(cached);
    expect(h.live('billing').status?.delivery?.state).toBe('Pending');
    expect(h.kube.peek(secretsPath(OP_NS, 'team-a.billing.delivery'))).toBeDefined();
  });

  it('a deletion reads live, revokes what is ours (uid preconditions), then removes the finalizer', async () => {
    const h = harness();
    await h.reconciler.reconcile(h.create('billing'));
    h.sync();
    const ak = h.live('billing');
    ak.metadata.deletionTimestamp = '2030-01-01T00:00:00Z';
    await h.editAndReconcile(ak);
    expect(h.kube.peek(secretsPath('team-a', hashSecretName('billing')))).toBeUndefined();
    expect(h.kube.peek(secretsPath(OP_NS, 'team-a.billing.delivery'))).toBeUndefined();
    expect(h.live('billing').metadata.finalizers).toEqual([]);
    expect(h.calls().filter((c) => !c.startsWith('GET'))).toEqual([
      'DELETE namespaces/team-a/secrets/billing.keywarden-hash',
      'DELETE namespaces/keywarden-system/secrets/team-a.billing.delivery',
      'POST namespaces/team-a/events',
      'PATCH namespaces/team-a/apikeys/billing',
    ]);
  });

  it('a secretRef naming a Secret someone else made: never overwritten; SecretRefConflict once, not again', async () => {
    const h = harness();
    const foreignPath = secretsPath('consumers', 'billing-key');
    const foreign = h.kube.seed(foreignPath, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'billing-key', namespace: 'consumers' },
      data: { apiKey: 'bWluZQ==' },
    });
    const ak = apiKey(
      { delivery: { secretRef: { name: 'billing-key', namespace: 'consumers' } } },
      { finalizers: undefined, labels: undefined },
    );
    const created = h.kube.seed(akPath('billing'), ak);
    await h.reconciler.reconcile(created);
    expect(h.kube.peek(foreignPath)).toEqual(foreign);
    const status = h.live('billing').status;
    expect(status?.state).toBe('Failed');
    expect(status?.conditions?.find((c) => c.type === 'Ready')?.reason).toBe('SecretRefConflict');
    expect(h.kube.peek(secretsPath('team-a', hashSecretName('billing')))).toBeUndefined();
    h.sync();
    h.kube.calls.length = 0;
    await h.reconciler.reconcile(h.live('billing'));
    // It opens the copy and tries the write again (the Secret may be gone by now); nothing else is written.
    expect(h.calls()).toEqual([
      'POST namespaces/consumers/secrets',
      'GET namespaces/consumers/secrets/billing-key',
    ]);
    expect(h.live('billing').metadata.labels?.['keywarden.dev/state']).toBe('Failed');
    expect(h.kube.peek(foreignPath)).toEqual(foreign);
  });

  it("attack: a tenant's own Secret named keywarden-delivery-key is never overwritten: Failed, DataKeyConflict; renamed, the key is minted", async () => {
    const h = harness();
    const path = secretsPath('team-a', 'keywarden-delivery-key');
    const theirs = h.kube.seed(path, {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      metadata: { name: 'keywarden-delivery-key', namespace: 'team-a' },
      data: { password: 'aHVudGVyMg==' },
    });
    await h.reconciler.reconcile(h.create('billing'));
    expect(h.kube.peek(path)).toEqual(theirs);
    const status = h.live('billing').status;
    expect(status?.state).toBe('Failed');
    expect(status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
      reason: 'DataKeyConflict',
      message: expect.stringMatching(/team-a\/keywarden-delivery-key .*rename that Secret/),
    });
    expect(h.kube.peek(secretsPath(OP_NS, 'team-a.billing.delivery'))).toBeUndefined();
    h.kube.objects.delete(path);
    h.sync();
    await h.reconciler.reconcile(h.live('billing'));
    expect(h.live('billing').status).toMatchObject({ state: 'Active', delivery: { state: 'Pending' } });
  });
});

describe('Reconciler construction', () => {
  it('does not read the record signing key before a reconcile needs it (the controller loads it at start)', () => {
    const kube = new FakeKube();
    const ctx = {
      rest: kube,
      events: new EventRecorder(kube as unknown as KubeRest, 'keywarden.dev/controller', 'test'),
      operatorNamespace: OP_NS,
      deliveryTtlMs: DAY,
      get recordSigningKey(): typeof KEY {
        throw new Error('the record signing key is not loaded yet');
      },
      expiringSoonMs: () => 14 * DAY,
      consumerSecretNamespaces: () => undefined,
      now: () => NOW,
    };
    expect(() => new Reconciler(ctx)).not.toThrow();
  });
});
