import { describe, expect, it } from 'vitest';
import { HASH_RECORD_KEY, HASH_RECORD_SIGNATURE_KEY, parseHashRecord } from '../../../src/api/hash-record.ts';
import { serializeRevealRequest } from '../../../src/api/reveal.ts';
import type { SecretObject } from '../../../src/controller/delivery.ts';
import { isEmptyPlan, type Observed, type Plan, plan } from '../../../src/controller/plan.ts';
import { problemsLine } from '../../../src/rules/index.ts';
import {
  apiKey,
  at,
  DAY,
  H0,
  H1,
  hashSecret,
  mintedStatus,
  NOW,
  OP_NS,
  policy,
  signingKey,
  stagedCopy,
} from '../../support/controller/apikeys.ts';

// plan(observed, policy, now) is the reconcile's every decision with no I/O: each row is an ApiKey with
// its Secrets as observed, and what the controller must do about it.

const recordOf = (s: SecretObject | undefined) => {
  const r = parseHashRecord(Buffer.from(s?.data?.[HASH_RECORD_KEY] ?? '', 'base64').toString('utf8'));
  if (!r.ok) throw new Error(problemsLine(r.problems));
  return r.value;
};
const reasons = (p: Plan) => p.events.map((e) => e.reason);
const ready = (p: Plan) => p.status?.conditions?.find((c) => c.type === 'Ready');
const run = (obs: Observed, now = NOW) => plan(obs, policy(), now);

const REQUEST_JWK = { kty: 'EC', crv: 'P-256', x: 'eA', y: 'eQ', kid: 'a2lk' } as const;
const revealRequest = (keyId: string, generation: number) => ({
  'keywarden.dev/reveal-request': serializeRevealRequest({ keyId, generation, jwk: REQUEST_JWK }),
  'keywarden.dev/reveal-requested-by': 'alice',
});

/** A minted key, its plaintext still pending delivery, with a reveal request for it: what is observed. */
const pendingReveal = (more: Partial<Observed> = {}): Observed => {
  const ak = apiKey(
    {},
    { annotations: revealRequest('KEYID0000001', 0) },
    mintedStatus({ delivery: { state: 'Pending', expiresAt: at(DAY) } }),
  );
  return { apiKey: ak, hashSecret: hashSecret(ak), delivery: stagedCopy(ak), ...more };
};

/** A minted key delivered to consumers/billing-key, being deleted. */
const deletingKey = () =>
  apiKey(
    { delivery: { secretRef: { name: 'billing-key', namespace: 'consumers' } } },
    { deletionTimestamp: at(0) },
    mintedStatus(),
  );

interface Row {
  name: string;
  obs: () => Observed;
  now?: Date;
  expect: (p: Plan, obs: Observed) => void;
}

const steady = apiKey({}, {}, mintedStatus());

const rows: Row[] = [
  // --- minting ---
  {
    name: 'a new ApiKey: finalizer and labels first, then a key is staged (nothing else yet)',
    obs: () => ({ apiKey: apiKey({}, { finalizers: undefined, labels: undefined }) }),
    expect: (p) => {
      expect(p.addFinalizer).toBe(true);
      expect(p.labels).toEqual({
        'keywarden.dev/environment': 'production',
        'keywarden.dev/type': 'private',
        'keywarden.dev/state': 'Active',
      });
      expect(p.need).toEqual({ kind: 'stage', generation: 0, keyId: undefined, existing: undefined });
      expect(p.hash).toBeUndefined();
      expect(p.status).toBeUndefined();
    },
  },
  {
    // The webhook leaves labels alone, so a label a client set (wrongly, or to mislead a selector) is
    // the controller's to correct: it follows the spec, whatever the client wrote.
    name: 'labels that disagree with the spec are set from the spec',
    obs: () => ({
      apiKey: apiKey(
        {},
        {
          labels: {
            'keywarden.dev/environment': 'development',
            'keywarden.dev/type': 'public',
            'keywarden.dev/state': 'Active',
          },
        },
        mintedStatus(),
      ),
    }),
    expect: (p) => {
      expect(p.labels).toEqual({
        'keywarden.dev/environment': 'production',
        'keywarden.dev/type': 'private',
      });
    },
  },
  {
    name: 'a staged key: the signed hash Secret is created, status says Pending, one Created event',
    obs: () => ({ apiKey: apiKey(), delivery: stagedCopy(apiKey()), plaintext: 'kwsk_x', opened: true }),
    expect: (p) => {
      expect(p.need).toBeUndefined();
      expect(p.hash?.existing).toBeUndefined();
      expect(p.hash?.body.data?.[HASH_RECORD_SIGNATURE_KEY]).toBeDefined();
      expect(recordOf(p.hash?.body)).toMatchObject({
        keyId: 'KEYID0000001',
        hash: H0,
        rotationGeneration: 0,
      });
      expect(p.status).toMatchObject({
        keyId: 'KEYID0000001',
        state: 'Active',
        delivery: { state: 'Pending', expiresAt: at(DAY) },
      });
      expect(ready(p)).toMatchObject({ status: 'True', reason: 'Active' });
      expect(reasons(p)).toEqual(['Created']);
      // Back at the delivery TTL (the earliest deadline).
      expect(p.requeueAfterMs).toBe(DAY);
      expect(JSON.stringify(p)).not.toContain('kwsk_x');
    },
  },
  {
    name: 'a copy staged for an older generation is replaced by a new stage (its existing copy named)',
    obs: () => ({ apiKey: apiKey(), delivery: stagedCopy(apiKey(), { generation: -1 }) }),
    expect: (p, obs) =>
      expect(p.need).toMatchObject({ kind: 'stage', generation: 0, existing: obs.delivery }),
  },
  {
    name: 'secretRef: the staged copy is opened, then the consumer Secret is written before the hash',
    obs: () => ({
      apiKey: apiKey({ delivery: { secretRef: { name: 'billing-key', namespace: 'consumers' } } }),
      delivery: stagedCopy(apiKey()),
    }),
    expect: (p) => expect(p.need?.kind).toBe('open'),
  },
  {
    name: 'secretRef with the plaintext in hand: consumer Secret marked with the ApiKey uid',
    obs: () => ({
      apiKey: apiKey({ delivery: { secretRef: { name: 'billing-key', namespace: 'consumers' } } }),
      delivery: stagedCopy(apiKey()),
      plaintext: 'kwsk_x',
      opened: true,
    }),
    expect: (p) => {
      expect(p.consumer?.metadata).toMatchObject({
        name: 'billing-key',
        namespace: 'consumers',
        annotations: { 'keywarden.dev/apikey-uid': 'uid-1' },
      });
      expect(p.hash).toBeDefined();
    },
  },
  {
    name: 'secretRef whose copy can no longer be opened: DeliveryLost, nothing minted again',
    obs: () => ({
      apiKey: apiKey({ delivery: { secretRef: { name: 'billing-key', namespace: 'consumers' } } }),
      delivery: stagedCopy(apiKey()),
      opened: true,
    }),
    expect: (p) => {
      expect(ready(p)).toMatchObject({ status: 'False', reason: 'DeliveryLost' });
      expect(p.status?.state).toBe('Failed');
      expect(p.hash).toBeUndefined();
      expect(reasons(p)).toEqual(['DeliveryLost']);
    },
  },

  // --- rotation ---
  {
    name: 'rotation: a new key is staged under the same key id',
    obs: () => ({
      apiKey: apiKey({ rotation: { generation: 1, gracePeriod: '1h' } }, {}, mintedStatus()),
      hashSecret: hashSecret(apiKey()),
    }),
    expect: (p) => expect(p.need).toMatchObject({ kind: 'stage', generation: 1, keyId: 'KEYID0000001' }),
  },
  {
    name: 'rotation with grace: the previous hash works until now + grace, then a requeue drops it',
    obs: () => {
      const ak = apiKey({ rotation: { generation: 1, gracePeriod: '1h' } }, {}, mintedStatus());
      return {
        apiKey: ak,
        hashSecret: hashSecret(apiKey()),
        delivery: stagedCopy(ak, { generation: 1, hash: H1 }),
        plaintext: 'kwsk_y',
        opened: true,
      };
    },
    expect: (p, obs) => {
      const r = recordOf(p.hash?.body);
      expect(r).toMatchObject({ hash: H1, rotationGeneration: 1, previous: { hash: H0 } });
      expect(Date.parse(r.previous?.validUntil ?? '')).toBe(NOW.getTime() + 3600_000);
      expect(p.hash?.existing).toBe(obs.hashSecret);
      expect(p.status).toMatchObject({
        rotationGeneration: 1,
        previousSecretValidUntil: r.previous?.validUntil,
      });
      expect(reasons(p)).toEqual(['Regenerated']);
      expect(p.requeueAfterMs).toBe(3600_001);
    },
  },
  {
    name: 'rotation without grace: the previous secret stops at once',
    obs: () => {
      const ak = apiKey({ rotation: { generation: 1 } }, {}, mintedStatus());
      return {
        apiKey: ak,
        hashSecret: hashSecret(apiKey()),
        delivery: stagedCopy(ak, { generation: 1, hash: H1 }),
        plaintext: 'kwsk_y',
        opened: true,
      };
    },
    expect: (p) => {
      expect(recordOf(p.hash?.body).previous).toBeUndefined();
      expect(p.events[0]?.note).toContain('stopped at once');
    },
  },
  {
    name: 'grace period over: the record is rewritten without the previous hash',
    obs: () => {
      const ak = apiKey(
        { rotation: { generation: 1, gracePeriod: '1h' } },
        {},
        mintedStatus({ rotationGeneration: 1 }),
      );
      return {
        apiKey: ak,
        hashSecret: hashSecret(ak, {
          hash: H1,
          rotationGeneration: 1,
          previous: { hash: H0, validUntil: at(-1) },
        }),
      };
    },
    expect: (p) => {
      expect(recordOf(p.hash?.body).previous).toBeUndefined();
      expect(p.status?.previousSecretValidUntil).toBeUndefined();
      expect(p.events).toEqual([]);
    },
  },

  // --- disable / enable / expiry ---
  {
    name: 'disable: record says disabled, state Inactive, label follows, one Disabled event',
    obs: () => ({ apiKey: apiKey({ disabled: true }, {}, mintedStatus()), hashSecret: hashSecret(apiKey()) }),
    expect: (p) => {
      expect(recordOf(p.hash?.body).disabled).toBe(true);
      expect(p.status?.state).toBe('Inactive');
      expect(p.labels).toEqual({ 'keywarden.dev/state': 'Inactive' });
      expect(ready(p)).toMatchObject({ status: 'False', reason: 'Disabled', lastTransitionTime: at(0) });
      expect(reasons(p)).toEqual(['Disabled']);
    },
  },
  {
    name: 'enable again: Active, one Enabled event',
    obs: () => {
      const ak = apiKey(
        {},
        { labels: { 'keywarden.dev/state': 'Inactive' } },
        mintedStatus({ state: 'Inactive' }),
      );
      return { apiKey: ak, hashSecret: hashSecret(apiKey({ disabled: true })) };
    },
    expect: (p) => {
      expect(recordOf(p.hash?.body).disabled).toBe(false);
      expect(p.status?.state).toBe('Active');
      expect(reasons(p)).toEqual(['Enabled']);
    },
  },
  {
    name: 'expiry: past spec.expiresAt, state Expired, one Expired event, no requeue',
    obs: () => {
      const ak = apiKey({ expiresAt: at(-1000) }, {}, mintedStatus());
      return { apiKey: ak, hashSecret: hashSecret(ak) };
    },
    expect: (p) => {
      expect(p.hash).toBeUndefined();
      expect(p.status?.state).toBe('Expired');
      expect(ready(p)?.reason).toBe('Expired');
      expect(reasons(p)).toEqual(['Expired']);
      expect(p.requeueAfterMs).toBeUndefined();
    },
  },
  {
    name: 'expiring within the window: ExpiringSoon True and one Warning; back at expiry',
    obs: () => {
      const ak = apiKey({ expiresAt: at(3 * DAY) }, {}, mintedStatus({ expiresAt: at(3 * DAY) }));
      return { apiKey: ak, hashSecret: hashSecret(ak) };
    },
    expect: (p) => {
      expect(p.status?.conditions?.find((c) => c.type === 'ExpiringSoon')?.status).toBe('True');
      expect(reasons(p)).toEqual(['ExpiringSoon']);
      expect(p.requeueAfterMs).toBe(3 * DAY);
    },
  },

  // --- the one-time delivery ---
  {
    name: 'delivery TTL over: the copy is deleted before status says Expired, one DeliveryExpired event',
    obs: () => {
      const ak = apiKey({}, {}, mintedStatus({ delivery: { state: 'Pending', expiresAt: at(-1) } }));
      return { apiKey: ak, hashSecret: hashSecret(ak), delivery: stagedCopy(ak, { expiresAt: at(-1) }) };
    },
    expect: (p, obs) => {
      expect(p.deleteBefore).toEqual([obs.delivery]);
      expect(p.status?.delivery).toEqual({ state: 'Expired', expiresAt: at(-1) });
      expect(reasons(p)).toEqual(['DeliveryExpired']);
    },
  },
  {
    name: 'a pending copy that vanished before its TTL was revealed',
    obs: () => {
      const ak = apiKey({}, {}, mintedStatus({ delivery: { state: 'Pending', expiresAt: at(DAY) } }));
      return { apiKey: ak, hashSecret: hashSecret(ak) };
    },
    expect: (p) => {
      expect(p.status?.delivery).toEqual({ state: 'Revealed' });
      expect(reasons(p)).toEqual(['Revealed']);
    },
  },
  {
    name: 'a pending copy is stated from the copy even when the cached status predates the mint',
    obs: () => {
      const ak = apiKey({}, {}, mintedStatus({ delivery: undefined }));
      return { apiKey: ak, hashSecret: hashSecret(ak), delivery: stagedCopy(ak) };
    },
    expect: (p) => {
      expect(p.status?.delivery).toEqual({ state: 'Pending', expiresAt: at(DAY) });
      expect(p.events).toEqual([]);
    },
  },

  // --- recipient sealing and reveal ---
  {
    name: 'recipient: the staged JWE moves to status (Sealed) and the staging copy goes after it',
    obs: () => {
      const ak = apiKey({}, {}, mintedStatus({ delivery: undefined }));
      return { apiKey: ak, hashSecret: hashSecret(ak), delivery: stagedCopy(ak, { jwe: 'a.b.c.d.e' }) };
    },
    expect: (p, obs) => {
      expect(p.status?.delivery).toEqual({ state: 'Sealed', jwe: 'a.b.c.d.e' });
      expect(p.deleteAfter).toEqual([obs.delivery]);
      expect(p.deleteBefore).toEqual([]);
    },
  },
  {
    name: 'recipient that is not a usable key: InvalidRecipient, state Failed',
    obs: () => ({
      apiKey: apiKey({}, {}, undefined),
      stageRefused: { reason: 'InvalidRecipient', message: 'not a usable public JWK' },
    }),
    expect: (p) => {
      expect(p.status?.state).toBe('Failed');
      expect(ready(p)).toMatchObject({ status: 'False', reason: 'InvalidRecipient' });
      expect(p.hash).toBeUndefined();
      expect(reasons(p)).toEqual(['InvalidRecipient']);
      expect(p.events[0]?.audit).toBe(false);
    },
  },
  {
    name: 'reveal request for this key: open, then seal to the one-time key',
    obs: () => pendingReveal(),
    expect: (p) => expect(p.need?.kind).toBe('open'),
  },
  {
    name: 'reveal request with the plaintext opened: seal',
    obs: () => pendingReveal({ plaintext: 'kwsk_x', opened: true }),
    expect: (p) =>
      expect(p.need).toMatchObject({ kind: 'seal', request: { keyId: 'KEYID0000001', jwk: REQUEST_JWK } }),
  },
  {
    name: 'reveal answered: status Revealed with the JWE, on the version that carried the request; copy deleted after',
    obs: () => pendingReveal({ plaintext: 'kwsk_x', opened: true, revealJwe: 'sealed.to.one.time.key' }),
    expect: (p, obs) => {
      expect(p.status?.delivery).toEqual({ state: 'Revealed', jwe: 'sealed.to.one.time.key' });
      expect(p.lockVersion).toBe('10');
      expect(p.deleteAfter).toEqual([obs.delivery]);
      expect(p.events).toMatchObject([{ reason: 'Revealed', actor: 'alice', audit: true }]);
      expect(JSON.stringify(p)).not.toContain('kwsk_x');
    },
  },
  {
    name: 'a request for another key id or generation is ignored: the copy stays pending',
    obs: () => {
      const ak = apiKey(
        {},
        { annotations: revealRequest('KEYID0000001', 7) },
        mintedStatus({ delivery: { state: 'Pending', expiresAt: at(DAY) } }),
      );
      return { apiKey: ak, hashSecret: hashSecret(ak), delivery: stagedCopy(ak) };
    },
    expect: (p) => {
      expect(p.need).toBeUndefined();
      expect(p.lockVersion).toBeUndefined();
      expect(isEmptyPlan(p)).toBe(true);
    },
  },
  {
    name: 'answered already (copy left by a crash): never sealed twice, the copy is deleted',
    obs: () => {
      const ak = apiKey(
        {},
        { annotations: revealRequest('KEYID0000001', 0) },
        mintedStatus({ delivery: { state: 'Revealed', jwe: 'first.answer' } }),
      );
      return { apiKey: ak, hashSecret: hashSecret(ak), delivery: stagedCopy(ak) };
    },
    expect: (p, obs) => {
      expect(p.need).toBeUndefined();
      expect(p.status).toBeUndefined();
      expect(p.deleteAfter).toEqual([obs.delivery]);
      expect(p.events).toEqual([]);
    },
  },

  // --- deletion ---
  {
    name: 'deletion: our hash, delivery and consumer Secrets are revoked, then the finalizer goes',
    obs: () => {
      const ak = deletingKey();
      const consumer: SecretObject = {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: {
          name: 'billing-key',
          namespace: 'team-a',
          uid: 'c',
          annotations: { 'keywarden.dev/apikey-uid': 'uid-1' },
        },
      };
      return { apiKey: ak, hashSecret: hashSecret(ak), delivery: stagedCopy(ak), consumer };
    },
    expect: (p, obs) => {
      expect(p.revoke).toEqual([obs.hashSecret, obs.delivery, obs.consumer]);
      expect(reasons(p)).toEqual(['Deleted']);
      expect(p.removeFinalizer).toBe(true);
      expect(p.status).toBeUndefined();
    },
  },
  {
    name: 'deletion without our finalizer: nothing to do',
    obs: () => ({
      apiKey: apiKey({}, { deletionTimestamp: at(0), finalizers: ['other'] }),
      hashSecret: hashSecret(apiKey()),
    }),
    expect: (p) => expect(isEmptyPlan(p)).toBe(true),
  },

  // --- steady state ---
  {
    name: 'an unchanged key: an empty plan (no API call), back before ExpiringSoon',
    obs: () => ({ apiKey: steady, hashSecret: hashSecret(steady) }),
    expect: (p) => {
      expect(isEmptyPlan(p)).toBe(true);
      expect(p.requeueAfterMs).toBe(86 * DAY);
    },
  },
  {
    name: 'an unchanged key whose status carries the validators’ lastUsedAt: still empty',
    obs: () => {
      const ak = apiKey({}, {}, { ...mintedStatus(), lastUsedAt: at(-5) });
      return { apiKey: ak, hashSecret: hashSecret(ak) };
    },
    expect: (p) => expect(isEmptyPlan(p)).toBe(true),
  },
  {
    name: 'a spec change (permissions): only the hash record is rewritten',
    obs: () => {
      const ak = apiKey({ permissions: ['devices:read', 'devices:write'] }, {}, mintedStatus());
      return { apiKey: ak, hashSecret: hashSecret(apiKey()) };
    },
    expect: (p, obs) => {
      expect(recordOf(p.hash?.body).permissions).toEqual(['devices:read', 'devices:write']);
      expect(p.hash?.existing).toBe(obs.hashSecret);
      expect(p.status).toBeUndefined();
      expect(p.events).toEqual([]);
    },
  },
];

/** A secretRef the controller must not write to: refused, and no consumer Secret planned. */
function secretRefRefused(name: string, secretRef: { name: string; namespace?: string }): Row {
  return {
    name,
    obs: () => ({
      apiKey: apiKey({ delivery: { secretRef } }),
      delivery: stagedCopy(apiKey()),
      plaintext: 'kwsk_x',
      opened: true,
    }),
    expect: (p) => {
      expect(ready(p)?.reason).toBe('SecretRefRefused');
      expect(p.consumer).toBeUndefined();
    },
  };
}

const attacks: Row[] = [
  {
    name: 'a hash Secret not owned by this ApiKey uid is not trusted: a key is minted and the Secret replaced (resourceVersion read)',
    obs: () => {
      const forged = hashSecret(apiKey({}, { uid: 'someone-else' }));
      return {
        apiKey: apiKey(),
        hashSecret: forged,
        delivery: stagedCopy(apiKey()),
        plaintext: 'kwsk_x',
        opened: true,
      };
    },
    expect: (p, obs) => {
      expect(recordOf(p.hash?.body).apiKey.uid).toBe('uid-1');
      expect(p.hash?.existing).toBe(obs.hashSecret);
      expect(reasons(p)).toEqual(['Created']);
    },
  },
  {
    name: 'a record signed by another key naming a victim key id: never a source of the key id',
    obs: () => ({
      apiKey: apiKey(),
      hashSecret: hashSecret(apiKey(), { keyId: 'VICTIMKEY001' }, signingKey()),
    }),
    expect: (p) => expect(p.need).toMatchObject({ kind: 'stage', generation: 0, keyId: undefined }),
  },
  {
    name: 'an unsigned record that status does not vouch for is not trusted',
    obs: () => {
      const unsigned = hashSecret(apiKey(), { keyId: 'VICTIMKEY001' });
      delete unsigned.data?.[HASH_RECORD_SIGNATURE_KEY];
      return { apiKey: apiKey({}, {}, mintedStatus()), hashSecret: unsigned };
    },
    expect: (p) => expect(p.need).toMatchObject({ kind: 'stage', keyId: 'KEYID0000001' }),
  },
  {
    name: 'an unsigned record written before signing, matching status: kept, rewritten signed',
    obs: () => {
      const legacy = hashSecret(steady);
      delete legacy.data?.[HASH_RECORD_SIGNATURE_KEY];
      return { apiKey: steady, hashSecret: legacy };
    },
    expect: (p) => {
      expect(p.need).toBeUndefined();
      expect(p.hash?.body.data?.[HASH_RECORD_SIGNATURE_KEY]).toBeDefined();
      expect(recordOf(p.hash?.body).hash).toBe(H0);
    },
  },
  {
    name: 'a signed record edited afterwards (wider permissions) fails its signature and is not trusted',
    obs: () => {
      const s = hashSecret(steady);
      const r = recordOf(s);
      r.permissions = ['*'];
      s.data = { ...s.data, [HASH_RECORD_KEY]: Buffer.from(JSON.stringify(r)).toString('base64') };
      return { apiKey: steady, hashSecret: s };
    },
    expect: (p) => expect(p.need?.kind).toBe('stage'),
  },
  {
    name: 'a delivery copy left by a deleted ApiKey of the same name (another uid) is dropped, never handed out',
    obs: () => ({
      apiKey: apiKey({}, {}, mintedStatus()),
      hashSecret: hashSecret(steady),
      delivery: stagedCopy(apiKey(), { uid: 'old-uid' }),
    }),
    expect: (p, obs) => expect(p.need).toEqual({ kind: 'drop', secret: obs.delivery }),
  },
  {
    name: 'a secretRef Secret that exists and is not ours: SecretRefConflict, nothing minted over it',
    obs: () => ({
      apiKey: apiKey({ delivery: { secretRef: { name: 'billing-key', namespace: 'consumers' } } }),
      delivery: stagedCopy(apiKey()),
      plaintext: 'kwsk_x',
      opened: true,
      consumerRefused: 'Secret team-a/billing-key already exists and was not made by keywarden',
    }),
    expect: (p) => {
      expect(ready(p)?.reason).toBe('SecretRefConflict');
      expect(p.consumer).toBeUndefined();
      expect(p.hash).toBeUndefined();
    },
  },
  secretRefRefused(
    'a secretRef into the operator namespace (webhook bypassed): SecretRefRefused, no plaintext copy',
    { name: 'x', namespace: OP_NS },
  ),
  secretRefRefused('a secretRef into the ApiKey namespace (validators read it): SecretRefRefused', {
    name: 'x',
  }),
  {
    name: 'deletion: Secrets of our names that we did not make for this uid are left, with SecretNotOwned',
    obs: () => {
      const ak = deletingKey();
      const foreign: SecretObject = {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'billing-key', namespace: 'consumers', uid: 'c' },
      };
      return {
        apiKey: ak,
        hashSecret: hashSecret(apiKey({}, { uid: 'other' })),
        delivery: stagedCopy(ak, { uid: 'other' }),
        consumer: foreign,
      };
    },
    expect: (p) => {
      expect(p.revoke).toEqual([]);
      expect(reasons(p)).toEqual(['SecretNotOwned', 'SecretNotOwned', 'SecretNotOwned', 'Deleted']);
      expect(p.removeFinalizer).toBe(true);
    },
  },
];

describe('plan: what the controller does about an ApiKey', () => {
  it.each(rows)('$name', ({ obs, now, expect: check }) => {
    const o = obs();
    const before = structuredClone(o);
    const p = run(o, now);
    check(p, o);
    // Pure: the observed objects are not changed.
    expect(o).toEqual(before);
  });
});

describe('plan: the attacks the controller already defends', () => {
  it.each(attacks)('$name', ({ obs, now, expect: check }) => {
    const o = obs();
    check(run(o, now), o);
  });
});
