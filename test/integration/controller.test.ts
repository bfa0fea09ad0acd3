import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { compactDecrypt, exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { deliverySecretName, hashSecretName } from '../../src/api/hash-record.ts';
import { queryEvents } from '../../src/audit/query.ts';
import { findPlaintextKeys } from '../../src/audit/scan.ts';
import { hashKey, KEY_PATTERN, keyMatchesHash, parseKey } from '../../src/rules/index.ts';
import {
  createApiKey,
  ensureNamespace,
  getApiKey,
  getRecord,
  OPERATOR_NS,
  patchSpec,
  revealCli,
  secretExists,
} from '../support/kube/apikeys.ts';
import { adminRest } from '../support/kube/client.ts';
import { applyCrds } from '../support/kube/kubectl.ts';
import { promtoolCheckMetrics } from '../support/metrics/promtool.ts';
import {
  eventually,
  type KeywardenProcess,
  startControllerProcess,
} from '../support/processes/keywarden-process.ts';

const rest = adminRest();
let ns = '';
let controller: KeywardenProcess;
// Long enough for a reveal (CLI start, request, the controller's sealed answer) on a loaded machine.
const DELIVERY_TTL_S = 15;
const auditDir = () => join(inject('runDir'), `audit-${ns}`);

async function waitState(name: string, state: string, timeoutMs = 15_000) {
  return eventually(
    async () => {
      const ak = await getApiKey(rest, ns, name);
      return ak.status?.state === state ? ak : undefined;
    },
    timeoutMs,
    50,
  );
}

beforeAll(async () => {
  await applyCrds();
  await ensureNamespace(rest, OPERATOR_NS);
  ns = `ctrl-${randomBytes(3).toString('hex')}`;
  await ensureNamespace(rest, ns);
  controller = startControllerProcess(ns, [
    '--delivery-ttl',
    `${DELIVERY_TTL_S}s`,
    '--lease-name',
    `ctrl-test-${ns}`,
    '--audit-dir',
    auditDir(),
  ]);
  await controller.waitForLog('became leader');
});

afterAll(async () => {
  await controller?.stop();
});

describe('the controller', () => {
  it('makes an ApiKey Active with key id and hint; the revealed key verifies; a second reveal is refused', async () => {
    await createApiKey(rest, ns, 'first', { permissions: ['devices:read'], customers: ['acme'] });
    const ak = await waitState('first', 'Active');
    expect(ak.status?.keyId).toMatch(/^[0-9A-Za-z]{12}$/);
    expect(ak.status?.keyHint).toContain(ak.status?.keyId);
    expect(ak.status?.observedGeneration).toBe(ak.metadata.generation);
    expect(ak.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(ak.status?.delivery?.state).toBe('Pending');
    expect(ak.metadata.labels?.['keywarden.dev/state']).toBe('Active');

    const reveal = await revealCli(ns, 'first');
    expect(reveal.code, reveal.stderr).toBe(0);
    const key = reveal.stdout.trim();
    const parsed = parseKey(key);
    expect(parsed.ok).toBe(true);
    if (parsed.ok) expect(parsed.key.keyId).toBe(ak.status?.keyId);
    const record = await getRecord(rest, ns, 'first');
    expect(record && keyMatchesHash(key, record.hash)).toBe(true);
    expect(record?.customers).toEqual(['acme']);
    expect(JSON.stringify(record)).not.toContain(key);

    const again = await revealCli(ns, 'first');
    expect(again.code).toBe(4);
    expect(again.stdout).toBe('');
    expect(again.stderr).toContain('already revealed');
    expect(again.stderr).toContain('kubectl keywarden regenerate first');
    const revealed = await eventually(async () => {
      const a = await getApiKey(rest, ns, 'first');
      return a.status?.delivery?.state === 'Revealed' ? a : undefined;
    });
    expect(revealed.status?.delivery?.state).toBe('Revealed');
  });

  it('destroys an unrevealed delivery after its TTL', async () => {
    await createApiKey(rest, ns, 'unread');
    await waitState('unread', 'Active');
    expect(await secretExists(rest, OPERATOR_NS, deliverySecretName(ns, 'unread'))).toBe(true);
    const ak = await eventually(
      async () => {
        const a = await getApiKey(rest, ns, 'unread');
        return a.status?.delivery?.state === 'Expired' ? a : undefined;
      },
      (DELIVERY_TTL_S + 10) * 1000,
    );
    expect(ak.status?.delivery?.state).toBe('Expired');
    expect(await secretExists(rest, OPERATOR_NS, deliverySecretName(ns, 'unread'))).toBe(false);
    const reveal = await revealCli(ns, 'unread');
    expect(reveal.code).toBe(4);
  });

  it('disables and enables: Inactive with a disabled record, then Active again', async () => {
    await createApiKey(rest, ns, 'toggle');
    await waitState('toggle', 'Active');
    await patchSpec(rest, ns, 'toggle', { disabled: true });
    await waitState('toggle', 'Inactive', 5_000);
    expect((await getRecord(rest, ns, 'toggle'))?.disabled).toBe(true);
    await patchSpec(rest, ns, 'toggle', { disabled: false });
    await waitState('toggle', 'Active', 5_000);
    expect((await getRecord(rest, ns, 'toggle'))?.disabled).toBe(false);
  });

  it('expires a key by itself within a second of expiresAt, with no change to the object', async () => {
    const expiresAt = new Date(Date.now() + 3_000);
    await createApiKey(rest, ns, 'short', { expiresAt: expiresAt.toISOString() });
    await waitState('short', 'Active');
    const ak = await waitState('short', 'Expired', 10_000);
    const seenAt = Date.now();
    expect(seenAt - expiresAt.getTime()).toBeLessThan(1_500);
    expect(ak.status?.conditions?.find((c) => c.type === 'Ready')?.reason).toBe('Expired');
  });

  it('marks a key ExpiringSoon inside the policy window (default 14 days) and records a Warning Event', async () => {
    await createApiKey(rest, ns, 'soon', { expiresAt: new Date(Date.now() + 2 * 86_400_000).toISOString() });
    const ak = await waitState('soon', 'Active');
    const cond = ak.status?.conditions?.find((c) => c.type === 'ExpiringSoon');
    expect(cond?.status).toBe('True');
    const far = await createApiKey(rest, ns, 'far', {
      expiresAt: new Date(Date.now() + 30 * 86_400_000).toISOString(),
    });
    const farAk = await waitState(far.metadata.name, 'Active');
    expect(farAk.status?.conditions?.find((c) => c.type === 'ExpiringSoon')?.status).toBe('False');
    const events = await eventually(async () => {
      const list = await rest.get<{ items: { reason: string; type: string; regarding: { name: string } }[] }>(
        `/apis/events.k8s.io/v1/namespaces/${ns}/events`,
      );
      return list.items.find((e) => e.regarding.name === 'soon' && e.reason === 'ExpiringSoon');
    });
    expect(events.type).toBe('Warning');
  });

  it('moves lastTransitionTime only when a condition changes', async () => {
    await createApiKey(rest, ns, 'stable');
    const first = await waitState('stable', 'Active');
    const t0 = first.status?.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime;
    await new Promise((r) => setTimeout(r, 1_100));
    await patchSpec(rest, ns, 'stable', { description: 'touched' });
    const second = await eventually(async () => {
      const a = await getApiKey(rest, ns, 'stable');
      return a.status?.observedGeneration === a.metadata.generation && a.metadata.generation === 2
        ? a
        : undefined;
    });
    expect(second.status?.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime).toBe(t0);
    await patchSpec(rest, ns, 'stable', { disabled: true });
    const third = await waitState('stable', 'Inactive');
    expect(third.status?.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime).not.toBe(t0);
  });

  it('regenerates with the same key id: the old secret stops at once', async () => {
    await createApiKey(rest, ns, 'rotate', { rotation: { generation: 1 } });
    await waitState('rotate', 'Active');
    const oldKey = (await revealCli(ns, 'rotate')).stdout.trim();
    const before = await getRecord(rest, ns, 'rotate');
    await patchSpec(rest, ns, 'rotate', { rotation: { generation: 2 } });
    const after = await eventually(async () => {
      const r = await getRecord(rest, ns, 'rotate');
      return r && r.rotationGeneration === 2 ? r : undefined;
    });
    expect(after.keyId).toBe(before?.keyId);
    expect(after.hash).not.toBe(hashKey(oldKey));
    expect(after.previous).toBeUndefined();
    const newKey = (
      await eventually(async () => {
        const r = await revealCli(ns, 'rotate');
        return r.code === 0 ? r : undefined;
      })
    ).stdout.trim();
    expect(newKey).not.toBe(oldKey);
    expect(keyMatchesHash(newKey, after.hash)).toBe(true);
    expect((await getApiKey(rest, ns, 'rotate')).status?.rotationGeneration).toBe(2);
  });

  it('regenerates with a 5 s grace period: the old hash works until the cut-off, then is removed', async () => {
    await createApiKey(rest, ns, 'graceful', { rotation: { generation: 0, gracePeriod: '5s' } });
    await waitState('graceful', 'Active');
    const oldKey = (await revealCli(ns, 'graceful')).stdout.trim();
    await patchSpec(rest, ns, 'graceful', { rotation: { generation: 1, gracePeriod: '5s' } });
    const during = await eventually(async () => {
      const r = await getRecord(rest, ns, 'graceful');
      return r && r.rotationGeneration === 1 ? r : undefined;
    });
    expect(during.previous && keyMatchesHash(oldKey, during.previous.hash)).toBe(true);
    const cutoff = Date.parse(during.previous?.validUntil ?? '');
    expect(cutoff - Date.now()).toBeGreaterThan(3_000);
    expect(cutoff - Date.now()).toBeLessThanOrEqual(5_000);
    const afterCutoff = await eventually(async () => {
      const r = await getRecord(rest, ns, 'graceful');
      return r && !r.previous ? r : undefined;
    }, 10_000);
    expect(Date.now()).toBeGreaterThanOrEqual(cutoff);
    expect(keyMatchesHash(oldKey, afterCutoff.hash)).toBe(false);
  });

  it('seals the key for a recipient: the JWE opens with the matching private key only; no plaintext is kept', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ECDH-ES+A256KW', {
      crv: 'P-256',
      extractable: true,
    });
    const other = await generateKeyPair('ECDH-ES+A256KW', { crv: 'P-256' });
    const jwk = await exportJWK(publicKey);
    await createApiKey(rest, ns, 'sealed', {
      delivery: { recipient: { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, kid: 'ops' } },
    });
    const ak = await waitState('sealed', 'Active');
    const jwe = await eventually(async () => (await getApiKey(rest, ns, 'sealed')).status?.delivery?.jwe);
    expect(ak.status?.delivery?.state).toBe('Sealed');
    const opened = new TextDecoder().decode((await compactDecrypt(jwe, privateKey)).plaintext);
    const record = await getRecord(rest, ns, 'sealed');
    expect(record && keyMatchesHash(opened, record.hash)).toBe(true);
    await expect(compactDecrypt(jwe, other.privateKey)).rejects.toThrow();
    await eventually(async () =>
      (await secretExists(rest, OPERATOR_NS, deliverySecretName(ns, 'sealed'))) ? undefined : true,
    );
    const reveal = await revealCli(ns, 'sealed');
    expect(reveal.code).not.toBe(0);
  });

  it('keeps a consumer Secret for spec.delivery.secretRef in another namespace, updated on regenerate', async () => {
    const consumerNs = `${ns}-consumer`;
    await ensureNamespace(rest, consumerNs);
    await createApiKey(rest, ns, 'consumed', {
      delivery: { secretRef: { name: 'billing-key', namespace: consumerNs } },
    });
    await waitState('consumed', 'Active');
    const read = async () => {
      const s = await rest.get<{ data: Record<string, string> }>(
        `/api/v1/namespaces/${consumerNs}/secrets/billing-key`,
      );
      return Buffer.from(s.data.apiKey ?? '', 'base64').toString('utf8');
    };
    const first = await read();
    expect(keyMatchesHash(first, (await getRecord(rest, ns, 'consumed'))?.hash ?? '')).toBe(true);
    await patchSpec(rest, ns, 'consumed', { rotation: { generation: 1 } });
    const second = await eventually(async () => {
      const k = await read();
      return k !== first ? k : undefined;
    });
    const record = await eventually(async () => {
      const r = await getRecord(rest, ns, 'consumed');
      return r?.rotationGeneration === 1 ? r : undefined;
    });
    expect(keyMatchesHash(second, record.hash)).toBe(true);
  });

  it('on delete removes the hash and delivery Secrets and records an Event', async () => {
    await createApiKey(rest, ns, 'doomed');
    await waitState('doomed', 'Active');
    expect(await secretExists(rest, ns, hashSecretName('doomed'))).toBe(true);
    await rest.delete(`/apis/keywarden.dev/v1alpha1/namespaces/${ns}/apikeys/doomed`);
    await eventually(async () => {
      const gone =
        !(await secretExists(rest, ns, hashSecretName('doomed'))) &&
        !(await secretExists(rest, OPERATOR_NS, deliverySecretName(ns, 'doomed')));
      return gone ? true : undefined;
    });
    const events = await eventually(async () => {
      const list = await rest.get<{ items: { reason: string; regarding: { name: string }; note: string }[] }>(
        `/apis/events.k8s.io/v1/namespaces/${ns}/events`,
      );
      const e = list.items.find((i) => i.regarding.name === 'doomed' && i.reason === 'Deleted');
      return e ? list.items : undefined;
    });
    expect(events.find((e) => e.reason === 'Deleted')?.note).toContain('revoked');
  });

  it('never puts a key string in an Event, a status or a label', async () => {
    const pattern = new RegExp(KEY_PATTERN.replace(/\\b/g, ''));
    const events = await rest.get<{ items: unknown[] }>(`/apis/events.k8s.io/v1/namespaces/${ns}/events`);
    expect(events.items.length).toBeGreaterThan(3);
    expect(JSON.stringify(events)).not.toMatch(pattern);
    const keys = await rest.get<{ items: unknown[] }>(
      `/apis/keywarden.dev/v1alpha1/namespaces/${ns}/apikeys`,
    );
    expect(JSON.stringify(keys)).not.toMatch(pattern);
  });

  it('serves /healthz, /readyz and controller-runtime metrics', async () => {
    const started = await controller.waitForLog('controller started');
    const port = started.adminPort as number;
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toMatch(
      /controller_runtime_reconcile_total\{controller="apikey",result="(success|requeue_after)"\} [1-9]/,
    );
    expect(metrics).toMatch(/keywarden_apikeys\{state="Active"\} [1-9]/);
    expect(metrics).toContain('workqueue_depth{name="apikey"}');
    expect(metrics).toMatch(/^# TYPE workqueue_adds_total counter$/m);
    expect(await promtoolCheckMetrics(metrics)).toEqual({ code: 0, text: '' });
    expect(metrics).toMatch(/keywarden_apikey_expiry_timestamp_seconds\{namespace="[^"]+",name="first"/);
    expect(metrics).not.toMatch(/name="doomed"/);
  });
  it('writes every lifecycle change to the Parquet audit trail (flushed on SIGTERM), with no key in it', async () => {
    expect(await controller.stop()).toBe(0);
    const result = await queryEvents({ directory: auditDir(), namespace: ns, eventType: 'lifecycle' });
    const seen = new Set(result.rows.map((r) => `${r.api_key_name}:${r.action}`));
    for (const want of [
      'first:created',
      'first:revealed',
      'toggle:disabled',
      'toggle:enabled',
      'short:expired',
      'rotate:regenerated',
      'doomed:deleted',
    ]) {
      expect(seen, `missing ${want} in ${[...seen].join(', ')}`).toContain(want);
    }
    const scan = await findPlaintextKeys(auditDir());
    expect(scan.files).toBeGreaterThan(0);
    expect(scan.findings).toEqual([]);
  });
});
