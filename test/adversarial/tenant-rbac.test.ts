import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { HASH_RECORD_KEY, type HashRecord, hashSecretName } from '../../src/api/hash-record.ts';
import { SECRET_TYPES } from '../../src/api/metadata.ts';
import { revealKey } from '../../src/client/reveal.ts';
import { DATA_KEY_SECRET_NAME } from '../../src/controller/delivery.ts';
import type { KubeRest } from '../../src/kube/rest.ts';
import { generateKey, hashKey } from '../../src/rules/index.ts';
import { call } from '../support/http/client.ts';
import { apiKeyPath, getApiKey, getRecord, secretExists } from '../support/kube/apikeys.ts';
import { adminRest } from '../support/kube/client.ts';
import { applyCrds, buildHelm, kubectl, kubectlOk } from '../support/kube/kubectl.ts';
import { eventually, KeywardenProcess } from '../support/processes/keywarden-process.ts';
import { type RunningValidator, startValidator, writeConfig } from '../support/validator/cluster.ts';
import {
  deleteConfigurations,
  startAdmissionWebhook,
  type WebhookProcess,
} from '../support/webhook/harness.ts';

// The tenant: a ServiceAccount in team-a holding ONLY the built-in `edit` ClusterRole (with the chart's
// aggregated keywarden rules in it), bound by a RoleBinding in team-a and in its consumer namespace.
// Every request below is made as that ServiceAccount (impersonation, so the webhook sees its userInfo),
// against the real API server with the chart's RBAC, the real webhook and controller processes, and a
// real validator. Each attack asserts the refusal AND that no Secret outside team-a changed.

const suffix = randomBytes(3).toString('hex');
const TEAM_A = `team-a-${suffix}`;
const TEAM_B = `team-b-${suffix}`;
const CONSUMERS = `team-a-consumers-${suffix}`; // the tenant may write here and the policy allows it
const UNLISTED = `team-a-scratch-${suffix}`; // the tenant may write here, the policy does not list it
const FRESH = `team-a-fresh-${suffix}`; // the tenant's second namespace, where no key is made before its test
const OPERATOR = `kw-operator-${suffix}`;
const RELEASE = 'kw-tenant';
const SELECTOR = { 'adversarial-tenant': suffix };
const TENANT = `system:serviceaccount:${TEAM_A}:tenant`;
const WEBHOOK_TLS = 'keywarden-webhook-tls';

let rest: KubeRest;
let webhook: WebhookProcess | undefined;
let controller: KeywardenProcess | undefined;
let validator: RunningValidator | undefined;
let victimKey = '';
let victimKeyId = '';
let previousPolicySpec: unknown;

/** kubectl as the tenant. */
const asTenant = (args: string[], input?: string) => kubectl([`--as=${TENANT}`, ...args], input);

interface SecretMark {
  uid: string;
  resourceVersion: string;
}

/** Every Secret in the cluster: namespace/name -> uid and resourceVersion. */
async function allSecrets(): Promise<Map<string, SecretMark>> {
  const list = await rest.get<{
    items: { metadata: { namespace: string; name: string; uid: string; resourceVersion: string } }[];
  }>('/api/v1/secrets');
  return new Map(
    list.items.map((s) => [
      `${s.metadata.namespace}/${s.metadata.name}`,
      { uid: s.metadata.uid, resourceVersion: s.metadata.resourceVersion },
    ]),
  );
}

/** What changed outside the tenant's own namespace (and its own one-time deliveries), as readable lines. */
function changesOutsideTeamA(before: Map<string, SecretMark>, after: Map<string, SecretMark>): string[] {
  const mine = (key: string) =>
    key.startsWith(`${TEAM_A}/`) ||
    key.startsWith(`${OPERATOR}/${TEAM_A}.`) ||
    key.startsWith(`${CONSUMERS}/mine-`);
  const out: string[] = [];
  for (const [key, mark] of before) {
    if (mine(key)) continue;
    const now = after.get(key);
    if (!now) out.push(`deleted ${key}`);
    else if (now.uid !== mark.uid) out.push(`replaced ${key}`);
    else if (now.resourceVersion !== mark.resourceVersion) out.push(`modified ${key}`);
  }
  for (const key of after.keys()) if (!mine(key) && !before.has(key)) out.push(`created ${key}`);
  return out;
}

/** Runs an attack and asserts that no Secret outside team-a changed while it (and the controller) ran. */
async function outsideUnchanged(attack: () => Promise<void>, settleMs = 3_000): Promise<void> {
  const before = await allSecrets();
  await attack();
  await new Promise((r) => setTimeout(r, settleMs)); // give the controller time to act on whatever got in
  expect(changesOutsideTeamA(before, await allSecrets())).toEqual([]);
}

function apiKeyManifest(
  name: string,
  spec: Record<string, unknown>,
  { namespace = TEAM_A, annotations }: { namespace?: string; annotations?: Record<string, string> } = {},
): string {
  return stringify({
    apiVersion: 'keywarden.dev/v1alpha1',
    kind: 'ApiKey',
    metadata: { name, namespace, ...(annotations ? { annotations } : {}) },
    spec: { environment: 'production', permissions: ['devices:read'], ...spec },
  });
}

async function createOpaqueSecret(ns: string, name: string, value: string): Promise<void> {
  await rest.create(`/api/v1/namespaces/${ns}/secrets`, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name },
    type: 'Opaque',
    stringData: { value },
  });
}

async function secretValue(ns: string, name: string): Promise<string | undefined> {
  try {
    const s = await rest.get<{ data?: Record<string, string> }>(`/api/v1/namespaces/${ns}/secrets/${name}`);
    return Buffer.from(s.data?.value ?? s.data?.apiKey ?? '', 'base64').toString('utf8');
  } catch {
    return undefined;
  }
}

async function waitActive(ns: string, name: string): Promise<void> {
  await eventually(
    async () => ((await getApiKey(rest, ns, name)).status?.state === 'Active' ? true : undefined),
    30_000,
  );
}

/** The chart's RBAC, rendered by helm and applied for real (workloads and webhook configurations left out). */
async function installChartRbac(): Promise<void> {
  const helm = buildHelm();
  const rendered = execFileSync(helm, ['template', RELEASE, 'charts/keywarden', '-n', OPERATOR], {
    encoding: 'utf8',
  });
  const rbacKinds = ['ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'ServiceAccount'];
  const docs = parseAllDocuments(rendered)
    .map((d) => d.toJS() as { kind?: string } | null)
    .filter((d): d is { kind: string } => !!d && rbacKinds.includes(d.kind ?? ''));
  expect(
    docs.some((d) => (d as { metadata?: { name?: string } }).metadata?.name === `${RELEASE}-keywarden-edit`),
  ).toBe(true);
  await kubectlOk(['apply', '-f', '-'], docs.map((d) => `---\n${stringify(d)}`).join(''));
}

beforeAll(async () => {
  rest = adminRest();
  await applyCrds();
  for (const ns of [TEAM_A, TEAM_B, CONSUMERS, UNLISTED, FRESH, OPERATOR]) {
    await kubectlOk(['create', 'namespace', ns]);
    await kubectlOk(['label', 'namespace', ns, ...Object.entries(SELECTOR).map(([k, v]) => `${k}=${v}`)]);
  }
  await installChartRbac();
  // The tenant: only `edit`, in its two own namespaces and the two it may write consumer Secrets to.
  await kubectlOk(['create', 'serviceaccount', 'tenant', '-n', TEAM_A]);
  for (const ns of [TEAM_A, CONSUMERS, UNLISTED, FRESH]) {
    await kubectlOk([
      'create',
      'rolebinding',
      'tenant-edit',
      '-n',
      ns,
      '--clusterrole=edit',
      `--serviceaccount=${TEAM_A}:tenant`,
    ]);
  }
  // The aggregation controller fills edit with the chart's rules; wait until the tenant can create ApiKeys.
  await eventually(async () => {
    const r = await asTenant(['auth', 'can-i', 'create', 'apikeys.keywarden.dev', '-n', TEAM_A]);
    return r.stdout.trim() === 'yes' ? true : undefined;
  }, 60_000);

  // The policy: consumer Secrets only in team-a-consumers-… and team-b (where the tenant may not write:
  // there the SubjectAccessReview refuses).
  const previous = await kubectl(['get', 'apikeypolicy', 'default', '-o', 'json']);
  previousPolicySpec =
    previous.code === 0 ? (JSON.parse(previous.stdout) as { spec: unknown }).spec : undefined;
  await kubectlOk(
    ['apply', '-f', '-'],
    stringify({
      apiVersion: 'keywarden.dev/v1alpha1',
      kind: 'ApiKeyPolicy',
      metadata: { name: 'default' },
      spec: { consumerSecretNamespaces: [`team-a-consumers-${suffix}`, TEAM_B] },
    }),
  );

  const name = `adversarial-tenant-${suffix}`;
  webhook = await startAdmissionWebhook({
    operatorNamespace: OPERATOR,
    secretName: WEBHOOK_TLS,
    configurationName: name,
    selector: SELECTOR,
    activeIn: TEAM_A,
  });

  controller = new KeywardenProcess([
    'controller',
    '--operator-namespace',
    OPERATOR,
    '--namespaces',
    [TEAM_A, TEAM_B, FRESH].join(','),
    '--admin-port',
    '0',
    '--lease-name',
    `adversarial-tenant-${suffix}`,
  ]);
  await controller.waitForLog('became leader');

  // The victim: a key in team-b, revealed by its owner (here: as admin, through the sealed reveal path).
  await rest.create(apiKeyPath(TEAM_B), {
    apiVersion: 'keywarden.dev/v1alpha1',
    kind: 'ApiKey',
    metadata: { name: 'victim' },
    spec: { environment: 'production', permissions: ['devices:read'] },
  });
  await waitActive(TEAM_B, 'victim');
  victimKeyId = (await getApiKey(rest, TEAM_B, 'victim')).status?.keyId ?? '';
  victimKey = await revealKey(rest, TEAM_B, 'victim');
  expect(victimKey).toContain(victimKeyId);

  // A validator serving both teams (keys of either team work at one protected API).
  validator = await startValidator(
    writeConfig(`
environment: production
keyStore:
  namespaces: [${TEAM_A}, ${TEAM_B}]
  recordKeys: { configMap: { namespace: ${OPERATOR}, name: keywarden-record-keys } }
routes:
  - { path: /v1/devices, methods: [GET], permission: devices:read }
lastUsed: { enabled: false }
`),
  );
  // Foreign Secrets the tenant must never get deleted or overwritten.
  await createOpaqueSecret('kube-system', `precious-${suffix}`, 'cluster secret');
  await createOpaqueSecret(CONSUMERS, 'app-config', 'made by the app team, not keywarden');
}, 600_000);

afterAll(async () => {
  await validator?.proc.stop();
  await controller?.stop();
  await webhook?.stop();
  await deleteConfigurations(`adversarial-tenant-${suffix}`);
  if (previousPolicySpec === undefined)
    await kubectl(['delete', 'apikeypolicy', 'default', '--ignore-not-found']);
  else
    await kubectl([
      'patch',
      'apikeypolicy',
      'default',
      '--type=json',
      '-p',
      JSON.stringify([{ op: 'replace', path: '/spec', value: previousPolicySpec }]),
    ]);
  await kubectl(['delete', 'secret', '-n', 'kube-system', `precious-${suffix}`, '--ignore-not-found']);
  for (const ns of [TEAM_A, TEAM_B, CONSUMERS, UNLISTED, FRESH, OPERATOR]) {
    // Finalizers would hold the namespaces once the controller is gone.
    const names = (await kubectl(['get', 'apikeys', '-n', ns, '-o', 'name'])).stdout.split('\n');
    for (const n of names.filter(Boolean))
      await kubectl(['patch', n, '-n', ns, '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
    await kubectl(['delete', 'namespace', ns, '--wait=false', '--ignore-not-found']);
  }
});

/** The validator's verify API: which ApiKey the key belongs to, or undefined when it is refused. */
async function verify(key: string): Promise<string | undefined> {
  const r = await call(validator?.port ?? 0, {
    method: 'POST',
    path: '/v1/keys/verify',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ key, permission: 'devices:read' }),
  });
  const body = r.json<{ valid?: boolean; apiKey?: { namespace: string; name: string } }>();
  return body.valid ? `${body.apiKey?.namespace}/${body.apiKey?.name}` : undefined;
}

describe('a tenant with only `edit` in its namespace (chart RBAC, real API server)', () => {
  it('cannot point spec.delivery.secretRef into kube-system: refused by the webhook, nothing written or deleted there', async () => {
    await outsideUnchanged(async () => {
      const r = await asTenant(
        ['apply', '-f', '-'],
        apiKeyManifest('into-kube-system', {
          delivery: { secretRef: { namespace: 'kube-system', name: `precious-${suffix}` } },
        }),
      );
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/denied the request/);
      expect(r.stderr).toMatch(/kube-system/);
      // Had it been admitted, deleting it would have made the controller delete the Secret: try anyway.
      await asTenant([
        'delete',
        'apikey',
        'into-kube-system',
        '-n',
        TEAM_A,
        '--ignore-not-found',
        '--wait=false',
      ]);
    });
    expect(await secretValue('kube-system', `precious-${suffix}`)).toBe('cluster secret');
  });

  it("cannot point spec.delivery.secretRef into keywarden's own namespace (the webhook TLS Secret): refused", async () => {
    await outsideUnchanged(async () => {
      const r = await asTenant(
        ['apply', '-f', '-'],
        apiKeyManifest('into-operator', {
          delivery: { secretRef: { namespace: OPERATOR, name: WEBHOOK_TLS } },
        }),
      );
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(new RegExp(`denied the request.*${OPERATOR}`, 's'));
      await asTenant([
        'delete',
        'apikey',
        'into-operator',
        '-n',
        TEAM_A,
        '--ignore-not-found',
        '--wait=false',
      ]);
    });
    expect(await secretExists(rest, OPERATOR, WEBHOOK_TLS)).toBe(true);
  });

  it('cannot point spec.delivery.secretRef into a namespace it cannot write (team-b): refused by the SubjectAccessReview', async () => {
    await outsideUnchanged(async () => {
      const r = await asTenant(
        ['apply', '-f', '-'],
        apiKeyManifest('into-team-b', { delivery: { secretRef: { namespace: TEAM_B, name: 'stolen' } } }),
      );
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/may not create, update, delete Secrets in namespace/);
    });
  });

  it('cannot point spec.delivery.secretRef into a namespace it can write but the ApiKeyPolicy does not list', async () => {
    const r = await asTenant(
      ['apply', '-f', '-'],
      apiKeyManifest('into-unlisted', { delivery: { secretRef: { namespace: UNLISTED, name: 'k' } } }),
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/ApiKeyPolicy allows consumer Secrets only in/);
  });

  it('cannot take over or get deleted a Secret it did not make (a pre-existing Secret named by secretRef)', async () => {
    const before = await rest.get<{ metadata: { uid: string; resourceVersion: string } }>(
      `/api/v1/namespaces/${CONSUMERS}/secrets/app-config`,
    );
    await outsideUnchanged(async () => {
      await asTenant(
        ['apply', '-f', '-'],
        apiKeyManifest('takeover', { delivery: { secretRef: { namespace: CONSUMERS, name: 'app-config' } } }),
      );
      // The controller refuses to overwrite it and says so on the ApiKey.
      const ready = await eventually(async () => {
        const c = (await getApiKey(rest, TEAM_A, 'takeover')).status?.conditions?.find(
          (x) => x.type === 'Ready',
        );
        return c?.reason === 'SecretRefConflict' ? c : undefined;
      }, 20_000);
      expect(ready.message).toMatch(/was not made by keywarden for this ApiKey/);
      // Deleting the ApiKey does not delete it either.
      await asTenant(['delete', 'apikey', 'takeover', '-n', TEAM_A, '--wait=true', '--timeout=30s']);
    });
    const after = await rest.get<{ metadata: { uid: string; resourceVersion: string } }>(
      `/api/v1/namespaces/${CONSUMERS}/secrets/app-config`,
    );
    expect(after.metadata).toMatchObject({
      uid: before.metadata.uid,
      resourceVersion: before.metadata.resourceVersion,
    });
    expect(await secretValue(CONSUMERS, 'app-config')).toBe('made by the app team, not keywarden');
  });

  it('cannot change spec.delivery after create (immutable), so the access check cannot be sidestepped', async () => {
    await asTenant(['apply', '-f', '-'], apiKeyManifest('plain', {}));
    await waitActive(TEAM_A, 'plain');
    await outsideUnchanged(async () => {
      const r = await asTenant([
        'patch',
        'apikey',
        'plain',
        '-n',
        TEAM_A,
        '--type=merge',
        '-p',
        JSON.stringify({
          spec: { delivery: { secretRef: { namespace: 'kube-system', name: `precious-${suffix}` } } },
        }),
      ]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/spec.delivery is immutable/);
    });
  });

  it("cannot read another tenant's pending key or hash records (team-b, the operator namespace)", async () => {
    await outsideUnchanged(async () => {
      for (const args of [
        ['get', 'secret', `${TEAM_B}.victim.delivery`, '-n', OPERATOR, '-o', 'json'],
        ['get', 'secrets', '-n', OPERATOR],
        ['get', 'secret', hashSecretName('victim'), '-n', TEAM_B, '-o', 'json'],
        ['get', 'secrets', '-A'],
      ]) {
        const r = await asTenant(args);
        expect(r.code, args.join(' ')).not.toBe(0);
        expect(r.stderr).toMatch(/forbidden/i);
        expect(r.stdout).not.toContain(victimKey);
      }
    });
  });

  it("cannot write apikeys/status (its own or team-b's): forbidden", async () => {
    await outsideUnchanged(async () => {
      for (const ns of [TEAM_A, TEAM_B]) {
        const name = ns === TEAM_A ? 'plain' : 'victim';
        const r = await asTenant([
          'patch',
          'apikey',
          name,
          '-n',
          ns,
          '--subresource=status',
          '--type=merge',
          '-p',
          JSON.stringify({ status: { keyId: victimKeyId, state: 'Active' } }),
        ]);
        expect(r.code, `${ns}/${name}`).not.toBe(0);
        expect(r.stderr).toMatch(/forbidden/i);
      }
      for (const verb of ['patch', 'update']) {
        const can = await asTenant([
          'auth',
          'can-i',
          verb,
          'apikeys.keywarden.dev',
          '--subresource=status',
          '-n',
          TEAM_A,
        ]);
        expect(can.stdout.trim(), verb).toBe('no');
      }
    });
  });

  it("cannot squat the victim's key id with a forged hash Secret: the victim still works, the forgery is ignored and counted", async () => {
    expect(await verify(victimKey)).toBe(`${TEAM_B}/victim`);
    // The tenant's own ApiKey gives it a real owner uid and a real hash Secret to rewrite.
    await asTenant(['apply', '-f', '-'], apiKeyManifest('squatter', {}));
    await waitActive(TEAM_A, 'squatter');
    const own = (await getApiKey(rest, TEAM_A, 'squatter')).metadata;
    const forgedKey = generateKey({ type: 'private', environment: 'production', keyId: victimKeyId });
    const real = await getRecord(rest, TEAM_A, 'squatter');
    const forged: HashRecord = {
      ...(real as HashRecord),
      keyId: victimKeyId,
      hash: hashKey(forgedKey),
      permissions: ['devices:read', 'admin:*'],
    };
    delete (forged as { signature?: unknown }).signature;
    const secret = (name: string, apiKeyName: string, uid: string, record: HashRecord) =>
      stringify({
        apiVersion: 'v1',
        kind: 'Secret',
        type: 'keywarden.dev/key-hash',
        metadata: {
          name,
          namespace: TEAM_A,
          labels: {
            'keywarden.dev/component': 'key-hash',
            'keywarden.dev/environment': 'production',
            'app.kubernetes.io/managed-by': 'keywarden',
          },
          ownerReferences: [{ apiVersion: 'keywarden.dev/v1alpha1', kind: 'ApiKey', name: apiKeyName, uid }],
        },
        data: { [HASH_RECORD_KEY]: Buffer.from(JSON.stringify(record)).toString('base64') },
      });
    const refusedBefore = await refusedRecords();
    await outsideUnchanged(async () => {
      // 1. Overwrite the controller's hash Secret of its own ApiKey with the victim's key id.
      const r1 = await asTenant(
        ['apply', '-f', '-'],
        secret(hashSecretName('squatter'), 'squatter', own.uid, {
          ...forged,
          apiKey: { namespace: TEAM_A, name: 'squatter', uid: own.uid },
        }),
      );
      expect(r1.code, r1.stderr).toBe(0);
      // 2. A second forged record next to it, for an ApiKey name that does not exist (owner: its own ApiKey's uid).
      const r2 = await asTenant(
        ['apply', '-f', '-'],
        secret(hashSecretName('ghost'), 'squatter', own.uid, {
          ...forged,
          apiKey: { namespace: TEAM_A, name: 'ghost', uid: own.uid },
        }),
      );
      expect(r2.code, r2.stderr).toBe(0);
      await new Promise((r) => setTimeout(r, 2_000)); // the validator's watch delivers both
    });
    // The victim's key still works, the forged one never does.
    expect(await verify(victimKey)).toBe(`${TEAM_B}/victim`);
    expect(await verify(forgedKey)).toBeUndefined();
    expect(await refusedRecords()).toBeGreaterThan(refusedBefore);
    // The controller never adopts the victim's key id for the squatter's ApiKey either.
    await new Promise((r) => setTimeout(r, 2_000));
    expect((await getApiKey(rest, TEAM_A, 'squatter')).status?.keyId).not.toBe(victimKeyId);
    expect(await verify(victimKey)).toBe(`${TEAM_B}/victim`);
  });

  it("cannot make the controller write its Secret by taking the data key's name (keywarden-delivery-key): never overwritten, keys still minted", async () => {
    // A key minted first: the namespace's data key exists and the controller holds it.
    await asTenant(['apply', '-f', '-'], apiKeyManifest('before-plant', {}));
    await waitActive(TEAM_A, 'before-plant');
    // The tenant replaces the namespace's data-key Secret with one of its own under the same name.
    expect((await asTenant(['delete', 'secret', DATA_KEY_SECRET_NAME, '-n', TEAM_A])).code).toBe(0);
    const before = await plantDataKeySecret(TEAM_A);
    await asTenant(['apply', '-f', '-'], apiKeyManifest('after-plant', {}));
    await waitActive(TEAM_A, 'after-plant');
    for (const name of ['before-plant', 'after-plant'])
      await asTenant(['delete', 'apikey', name, '-n', TEAM_A, '--wait=true', '--timeout=30s']);
    expect(await dataKeySecret(TEAM_A)).toEqual(before);
  });

  it("cannot make the controller write its Secret by taking the data key's name before the namespace's first key: Failed with DataKeyConflict, minted once the tenant moves it away", async () => {
    // No key was ever made in FRESH, so the controller holds no data key for it and must read this one.
    const before = await plantDataKeySecret(FRESH);
    expect(
      (await asTenant(['apply', '-f', '-'], apiKeyManifest('first', {}, { namespace: FRESH }))).code,
    ).toBe(0);
    const failed = await eventually(async () => {
      const k = await getApiKey(rest, FRESH, 'first');
      return k.status?.state === 'Failed' ? k : undefined;
    }, 30_000);
    // What the tenant reads: why, and what to do.
    expect(failed.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'False',
      reason: 'DataKeyConflict',
      message: expect.stringContaining('rename that Secret'),
    });
    expect(await dataKeySecret(FRESH)).toEqual(before);
    expect(await secretExists(rest, OPERATOR, `${FRESH}.first.delivery`)).toBe(false);
    // The tenant moves its Secret away and touches the ApiKey: the key is minted with a data key of ours.
    expect((await asTenant(['delete', 'secret', DATA_KEY_SECRET_NAME, '-n', FRESH])).code).toBe(0);
    expect(
      (
        await asTenant(
          ['apply', '-f', '-'],
          apiKeyManifest('first', {}, { namespace: FRESH, annotations: { 'example.com/retry': '1' } }),
        )
      ).code,
    ).toBe(0);
    await waitActive(FRESH, 'first');
    const ours = await dataKeySecret(FRESH);
    expect(ours.type).toBe(SECRET_TYPES.deliveryKey);
    expect(ours.uid).not.toBe(before.uid);
  });
});

interface SecretIdentity {
  type: string;
  uid: string;
  resourceVersion: string;
}

/** The namespace's data-key Secret as the test compares it: type, uid, resourceVersion. */
async function dataKeySecret(ns: string): Promise<SecretIdentity> {
  const s = await rest.get<{ type: string; metadata: { uid: string; resourceVersion: string } }>(
    `/api/v1/namespaces/${ns}/secrets/${DATA_KEY_SECRET_NAME}`,
  );
  return { type: s.type, uid: s.metadata.uid, resourceVersion: s.metadata.resourceVersion };
}

/** As the tenant: an Opaque Secret of its own under the data key's name. */
async function plantDataKeySecret(ns: string): Promise<SecretIdentity> {
  const planted = await asTenant(
    ['apply', '-f', '-'],
    stringify({
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      metadata: { name: DATA_KEY_SECRET_NAME, namespace: ns },
      stringData: { key: 'the tenant chose this' },
    }),
  );
  expect(planted.code, planted.stderr).toBe(0);
  const secret = await dataKeySecret(ns);
  expect(secret.type).toBe('Opaque');
  return secret;
}

async function refusedRecords(): Promise<number> {
  const r = await call(validator?.adminPort ?? 0, { path: '/metrics' });
  const m = r.body.match(/^keywarden_validator_refused_records_total (\d+)/m);
  return Number(m?.[1] ?? 0);
}

describe('what the tenant may do still works', () => {
  it('a secretRef into a namespace it can write and the policy allows gets the key; deleting the ApiKey deletes that Secret', async () => {
    await outsideUnchanged(async () => {
      const r = await asTenant(
        ['apply', '-f', '-'],
        apiKeyManifest('consumer', {
          delivery: { secretRef: { namespace: CONSUMERS, name: 'mine-consumer' } },
        }),
      );
      expect(r.code, r.stderr).toBe(0);
      await waitActive(TEAM_A, 'consumer');
      const key = await eventually(async () => secretValue(CONSUMERS, 'mine-consumer'), 20_000);
      expect(key).toMatch(/^kwsk_prod_/);
      expect(await verify(key)).toBe(`${TEAM_A}/consumer`);
      const d = await asTenant([
        'delete',
        'apikey',
        'consumer',
        '-n',
        TEAM_A,
        '--wait=true',
        '--timeout=30s',
      ]);
      expect(d.code, d.stderr).toBe(0);
      expect(await secretExists(rest, CONSUMERS, 'mine-consumer')).toBe(false);
    });
  });
});
