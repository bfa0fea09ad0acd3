import { CompactEncrypt } from 'jose';
import { describe, expect, it } from 'vitest';
import { DataKeys } from '../../../src/controller/data-keys.ts';
import {
  atRestBinding,
  DATA_KEY_SECRET_NAME,
  dataKeySecret,
  legacyDataKeySecretName,
  ownerReference,
  readDataKey,
  type SecretObject,
  sealAtRest,
  secretsPath,
} from '../../../src/controller/delivery.ts';
import type { LiveApiKey } from '../../../src/controller/reconcile.ts';
import { apiKey } from '../../support/controller/apikeys.ts';
import { FakeKube } from '../../support/kube/fake-kube.ts';

// DataKeys against FakeKube (a stand-in for the API server that counts calls): one data key per
// namespace, made once, held in memory; a replaced or foreign Secret never opens a copy with the wrong key.

const KEY = 'kwsk_stg_AbCdEfGh1234_secretsecretsecretsecretsecretsec123456';
const keyPath = (ns: string) => secretsPath(ns, DATA_KEY_SECRET_NAME);

function setup() {
  const kube = new FakeKube();
  const ak = apiKey({}, { name: 'billing' }) as LiveApiKey;
  const staged = { apiKeyUid: ak.metadata.uid, generation: 0, keyId: 'AbCdEfGh1234', hash: 'h' };
  return { kube, keys: new DataKeys(kube), ak, staged };
}

describe('DataKeys', () => {
  it('makes the namespace key once, even when many workers mint at once; later mints make no call', async () => {
    const { kube, keys } = setup();
    const all = await Promise.all(Array.from({ length: 20 }, () => keys.forSealing('team-a')));
    expect(new Set(all).size).toBe(1);
    expect(kube.calls.map((c) => c.method)).toEqual(['GET', 'POST']);
    kube.calls.length = 0;
    await keys.forSealing('team-a');
    expect(kube.calls).toEqual([]);
    // Another namespace has its own key.
    const other = await keys.forSealing('team-b');
    expect(other).not.toEqual(all[0]);
  });

  it('takes the key already in the namespace (another controller made it), without writing', async () => {
    const { kube, keys } = setup();
    kube.seed(keyPath('team-a'), dataKeySecret('team-a', new Uint8Array(32).fill(3)));
    expect(await keys.forSealing('team-a')).toEqual(new Uint8Array(32).fill(3));
    expect(kube.writes).toEqual([]);
  });

  it('opens a copy after a restart (a new process reads the key) and refuses a copy bound to another key', async () => {
    const { kube, keys, ak, staged } = setup();
    const sealed = await sealAtRest(KEY, await keys.forSealing('team-a'), atRestBinding(staged));
    const restarted = new DataKeys(kube);
    expect(await restarted.open(ak, { ...staged, sealed } as never)).toBe(KEY);
    expect(await restarted.open(ak, { ...staged, generation: 1, sealed } as never)).toBeUndefined();
  });

  it('attack: a tenant replaces the namespace key: a copy sealed before is lost (DeliveryLost), never opened wrong', async () => {
    const { kube, keys, ak, staged } = setup();
    const sealed = await sealAtRest(KEY, await keys.forSealing('team-a'), atRestBinding(staged));
    const planted = kube.peek<SecretObject>(keyPath('team-a')) as SecretObject;
    kube.seed(keyPath('team-a'), { ...planted, data: { key: Buffer.alloc(32, 9).toString('base64') } });
    // The held key still opens what it sealed.
    expect(await keys.open(ak, { ...staged, sealed } as never)).toBe(KEY);
    // A controller that restarted reads the planted key: the old copy does not open with it.
    expect(await new DataKeys(kube).open(ak, { ...staged, sealed } as never)).toBeUndefined();
  });

  it('attack: a Secret of that name made by someone else is never overwritten; the mint fails saying so', async () => {
    const { kube, keys } = setup();
    const theirs = kube.seed(keyPath('team-a'), {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      metadata: { name: DATA_KEY_SECRET_NAME, namespace: 'team-a' },
      data: { password: 'aHVudGVyMg==' },
    });
    await expect(keys.forSealing('team-a')).rejects.toThrow(
      /is not keywarden's data key.*rename that Secret/,
    );
    expect(kube.peek(keyPath('team-a'))).toEqual(theirs);
  });

  it('an unreadable key of ours (its field edited away) is replaced on the version read', async () => {
    const { kube, keys } = setup();
    const broken = dataKeySecret('team-a', new Uint8Array(32));
    broken.data = {};
    kube.seed(keyPath('team-a'), broken);
    const key = await keys.forSealing('team-a');
    const stored = kube.peek<SecretObject>(keyPath('team-a')) as SecretObject;
    expect(readDataKey(stored)).toEqual(key);
  });

  it('opens a copy sealed before data keys were per namespace with its ApiKey-owned legacy key, and no other', async () => {
    const { kube, keys, ak, staged } = setup();
    const dataKey = new Uint8Array(32).fill(5);
    const legacySealed = await new CompactEncrypt(new TextEncoder().encode(KEY))
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', kid: atRestBinding(staged) })
      .encrypt(dataKey);
    const legacy = dataKeySecret('team-a', dataKey);
    legacy.metadata.name = legacyDataKeySecretName('billing');
    legacy.metadata.ownerReferences = [ownerReference(ak)];
    kube.seed(secretsPath('team-a', legacy.metadata.name), legacy);
    expect(await keys.open(ak, { ...staged, sealed: legacySealed } as never)).toBe(KEY);
    // Left by a deleted ApiKey of the same name (another uid): it opens nothing.
    const other = { ...ak, metadata: { ...ak.metadata, uid: 'someone-else' } };
    expect(
      await keys.open(other, { ...staged, apiKeyUid: 'someone-else', sealed: legacySealed } as never),
    ).toBeUndefined();
  });
});
