import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { queryEvents } from '../../src/audit/query.ts';
import { SIDECAR_NAME, VOLUMES } from '../../src/injector/index.ts';
import { KubeError, KubeRest } from '../../src/kube/rest.ts';
import { KEY_PATTERN, parseKey } from '../../src/rules/index.ts';
import { buildWebhookConfigurations } from '../../src/webhook/configurations.ts';
import { buildHelm, deleteReleases, kubectl, kubectlOk } from '../support/kube/kubectl.ts';
import { KeywardenProcess } from '../support/processes/keywarden-process.ts';
import {
  eventually,
  podInjectionWebhook,
  startWebhookProcess,
  type WebhookProcess,
} from '../support/webhook/harness.ts';

// Actor: the protected app's own container, compromised. It shares the pod, the network and the pod's
// ServiceAccount with the injected validator sidecar. It must never read the JWT signing key (and so
// forge identities), the hash records, the operator namespace, nor patch ApiKey status; and no pod may
// mint identity JWTs for another service's audience.
// Actor: a reader of the operator namespace (get/list on its Secrets). It must never learn a plaintext
// key, nor a tenant's pending key.
// Everything runs on the real control plane with the chart's RBAC really applied (helm template |
// kubectl apply), the real webhook injecting through the API server, the real controller and the real
// CLI; every "no" is checked twice: `kubectl auth can-i --as` and a real call with the account's token.

const ID = randomBytes(3).toString('hex');
const RELEASE = 'kw';
const NS = `adv-sys-${ID}`; // the release (operator) namespace
const TEAM = `adv-team-${ID}`; // the app's namespace
const OTHER = `adv-other-${ID}`; // another tenant's namespace
const SELECTOR = { 'keywarden.dev/adversarial-app': ID };
const CONFIG = `kw-adv-app-${ID}`;
const APP_SA = 'payments-api';
const TENANT_SA = 'tenant';
const CHART = 'charts/keywarden';
const MAIN = 'src/cli/main.ts';
// The chart as a platform team would install it for these two namespaces, with identity JWTs.
const VALUES = [
  `validator.namespaces[0]=${TEAM}`,
  `validator.namespaces[1]=${OTHER}`,
  'injection.validatorSettings.identity.jwt.issuer=keywarden',
  `injection.jwt.audiences.${OTHER}[0]=other-api`,
];

const sa = (ns: string, name: string) => `system:serviceaccount:${ns}:${name}`;
const APP = sa(TEAM, APP_SA);
const VALIDATOR = sa(TEAM, 'keywarden-validator');
const OPS_READER = 'ops-reader';

// biome-ignore lint/suspicious/noExplicitAny: manifests are walked freely
type Json = Record<string, any>;

let webhook: WebhookProcess;
let controller: KeywardenProcess | undefined;
let rendered: Json[] = [];
const admin = () => new KubeRest(loadAdmin());
const loadAdmin = () => {
  const kc = new KubeConfig();
  kc.loadFromFile(inject('kubeconfigPath'));
  return kc;
};

/** A kubeconfig (file and client) that authenticates with a bearer token only: what a pod has. */
function tokenKubeconfig(name: string, token: string): { file: string; rest: KubeRest } {
  const kc = loadAdmin();
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('no cluster in the admin kubeconfig');
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'c',
        cluster: {
          server: cluster.server,
          ...(cluster.caFile
            ? { 'certificate-authority': cluster.caFile }
            : { 'certificate-authority-data': cluster.caData }),
        },
      },
    ],
    users: [{ name, user: { token } }],
    contexts: [{ name: 'x', context: { cluster: 'c', user: name } }],
    'current-context': 'x',
  };
  const file = join(inject('runDir'), `adv-${ID}-${name}.kubeconfig`);
  writeFileSync(file, stringify(doc), { mode: 0o600 });
  const own = new KubeConfig();
  own.loadFromFile(file);
  return { file, rest: new KubeRest(own) };
}

/** The HTTP status of a real call (200 when it succeeds). */
async function statusOf(call: Promise<unknown>): Promise<number> {
  try {
    await call;
    return 200;
  } catch (err) {
    if (err instanceof KubeError) return err.status;
    throw err;
  }
}

const canI = async (user: string, args: string[]) =>
  (await kubectl(['auth', 'can-i', ...args, `--as=${user}`])).stdout.trim();

function runCli(
  args: string[],
  kubeconfig: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [MAIN, ...args],
      { env: { ...process.env, KUBECONFIG: kubeconfig } },
      (err, stdout, stderr) => {
        const code = err ? ((err as { code?: number }).code ?? 1) : 0;
        resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
      },
    );
  });
}

function podYaml(name: string, namespace: string, annotations: Record<string, string> = {}): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace,
      annotations: {
        'keywarden.dev/inject': 'true',
        'keywarden.dev/environment': 'staging',
        'keywarden.dev/upstream-port': '3000',
        'keywarden.dev/routes-configmap': 'routes',
        ...annotations,
      },
    },
    spec: {
      serviceAccountName: APP_SA,
      containers: [{ name: 'app', image: 'example/payments-api:1', ports: [{ containerPort: 3000 }] }],
    },
  });
}

/** Every Secret's data in a namespace, as a reader with get/list sees it (decoded). */
async function readableSecrets(user: string, namespace: string): Promise<string> {
  const out = await kubectlOk(['get', 'secrets', '-n', namespace, '-o', 'json', `--as=${user}`]);
  const items = (JSON.parse(out) as { items: { metadata: Json; data?: Record<string, string> }[] }).items;
  return items
    .map((s) => {
      const data = Object.entries(s.data ?? {}).map(
        ([k, v]) => `${k}=${v} ${Buffer.from(v, 'base64').toString('utf8')}`,
      );
      return `${s.metadata.name} ${JSON.stringify(s.metadata.annotations ?? {})}\n${data.join('\n')}`;
    })
    .join('\n');
}

beforeAll(async () => {
  const helm = buildHelm();
  await kubectlOk(['apply', '--server-side', '-f', 'crds/']);
  await kubectlOk(['wait', '--for=condition=Established', '--timeout=60s', 'crd/apikeys.keywarden.dev']);
  for (const ns of [NS, TEAM, OTHER]) await kubectlOk(['create', 'namespace', ns]);
  for (const ns of [TEAM, OTHER])
    await kubectlOk(['label', 'namespace', ns, ...Object.entries(SELECTOR).map(([k, v]) => `${k}=${v}`)]);

  // The chart's RBAC, accounts and token Secrets, really applied.
  const text = execFileSync(
    helm,
    ['template', RELEASE, CHART, '-n', NS, ...VALUES.flatMap((v) => ['--set', v])],
    {
      encoding: 'utf8',
    },
  );
  rendered = parseAllDocuments(text)
    .map((d) => d.toJSON() as Json)
    .filter(Boolean);
  const access = rendered.filter(
    (d) =>
      ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'].includes(d.kind) ||
      (d.kind === 'Secret' && d.type === 'kubernetes.io/service-account-token'),
  );
  await kubectlOk(
    ['apply', '-f', '-'],
    access.map((d) => stringify({ ...d, metadata: { namespace: NS, ...d.metadata } })).join('---\n'),
  );

  // The app's own account, a tenant who may edit in TEAM only, a reader of the operator namespace.
  await kubectlOk(['create', 'serviceaccount', APP_SA, '-n', TEAM]);
  await kubectlOk(['create', 'serviceaccount', TENANT_SA, '-n', TEAM]);
  await kubectlOk([
    'create',
    'rolebinding',
    'tenant-edit',
    '--clusterrole=edit',
    `--serviceaccount=${TEAM}:${TENANT_SA}`,
    '-n',
    TEAM,
  ]);
  // What the aggregation controller would add to `edit` (this control plane runs none): ApiKeys.
  const aggregated = rendered.find(
    (d) => d.kind === 'ClusterRole' && d.metadata.labels?.['rbac.authorization.k8s.io/aggregate-to-edit'],
  );
  await kubectlOk([
    'create',
    'rolebinding',
    'tenant-apikeys',
    `--clusterrole=${aggregated?.metadata.name}`,
    `--serviceaccount=${TEAM}:${TENANT_SA}`,
    '-n',
    TEAM,
  ]);
  await kubectlOk(['create', 'role', 'ops-read', '--verb=get,list,watch', '--resource=secrets', '-n', NS]);
  await kubectlOk(['create', 'rolebinding', 'ops-read', '--role=ops-read', `--user=${OPS_READER}`, '-n', NS]);

  // Per-namespace signing keys and routes, as docs/install.md says.
  for (const ns of [TEAM, OTHER]) {
    const manifest = execFileSync(
      process.execPath,
      [MAIN, 'validator', 'signing-key', '-n', ns, '--name', 'keywarden-validator-jwt'],
      {
        encoding: 'utf8',
      },
    );
    await kubectlOk(['apply', '-f', '-'], manifest);
    await kubectlOk(['create', 'configmap', 'routes', '-n', ns, '--from-literal=routes.yaml=routes: []']);
  }

  // The webhook: the chart's injector configuration, both ApiKey webhooks and the pod injector.
  const injector = rendered.find((d) => d.kind === 'ConfigMap' && d.data?.['injector.yaml'])?.data[
    'injector.yaml'
  ];
  const injectorFile = join(inject('runDir'), `adv-${ID}-injector.yaml`);
  writeFileSync(injectorFile, injector);
  webhook = await startWebhookProcess({
    operatorNamespace: NS,
    secretName: `kw-adv-${ID}-tls`,
    configurationName: CONFIG,
    extraArgs: [`--injector-config=${injectorFile}`],
  });
  const { mutating, validating } = buildWebhookConfigurations({
    name: CONFIG,
    target: { url: `https://127.0.0.1:${webhook.port}` },
    namespaceSelector: { matchLabels: SELECTOR },
  });
  (mutating as Json).webhooks.push(podInjectionWebhook(webhook.port, SELECTOR));
  await kubectlOk(['apply', '-f', '-'], `${stringify(mutating)}---\n${stringify(validating)}`);
  await eventually(
    'caBundle patched',
    async () => {
      const out = await kubectlOk([
        'get',
        'mutatingwebhookconfiguration',
        CONFIG,
        '-o',
        'jsonpath={.webhooks[*].clientConfig.caBundle}',
      ]);
      return out.split(' ').filter(Boolean).length === (mutating as Json).webhooks.length ? true : undefined;
    },
    30_000,
  );
}, 600_000);

afterAll(async () => {
  await controller?.stop();
  await kubectl([
    'delete',
    'mutatingwebhookconfiguration,validatingwebhookconfiguration',
    CONFIG,
    '--ignore-not-found',
  ]);
  await webhook?.stop();
  await deleteReleases([RELEASE], [NS, TEAM, OTHER]);
});

describe('the app container (compromised) next to an injected sidecar', () => {
  let pod: Json;
  let appToken = '';

  beforeAll(async () => {
    await kubectlOk(['apply', '-f', '-'], podYaml('payments-api', TEAM));
    pod = JSON.parse(await kubectlOk(['get', 'pod', 'payments-api', '-n', TEAM, '-o', 'json']));
    // The token kubelet would project into the app container: the pod's own ServiceAccount's.
    appToken = (await kubectlOk(['create', 'token', APP_SA, '-n', TEAM])).trim();
  });

  it("mounts keywarden's credentials and signing key into the sidecar only, never into the app container", () => {
    const volumes = new Map<string, Json>(pod.spec.volumes.map((v: Json) => [v.name, v]));
    const secretsOf = (c: Json) =>
      (c.volumeMounts ?? []).flatMap((m: Json) => {
        const v = volumes.get(m.name) ?? {};
        return [
          v.secret?.secretName,
          ...(v.projected?.sources ?? []).map((s: Json) => s.secret?.name),
        ].filter(Boolean);
      });
    const sidecar = pod.spec.containers.find((c: Json) => c.name === SIDECAR_NAME);
    expect(sidecar, 'the sidecar was injected').toBeDefined();
    expect(secretsOf(sidecar).sort()).toEqual(['keywarden-validator-jwt', 'keywarden-validator-token']);
    for (const c of [...pod.spec.containers, ...(pod.spec.initContainers ?? [])].filter(
      (c: Json) => c.name !== SIDECAR_NAME,
    )) {
      expect(secretsOf(c), `container ${c.name}`).toEqual([]);
      expect(
        (c.volumeMounts ?? []).map((m: Json) => m.name),
        `container ${c.name}`,
      ).not.toContain(VOLUMES.apiAccess);
    }
    // The sidecar's API identity is not the pod's: its token is the keywarden-validator account's.
    const sidecarSa = sidecar.volumeMounts.find(
      (m: Json) => m.mountPath === '/var/run/secrets/kubernetes.io/serviceaccount',
    );
    expect(volumes.get(sidecarSa.name)?.secret?.secretName).toBe('keywarden-validator-token');
  });

  it('kubectl auth can-i: the pod ServiceAccount has no keywarden right anywhere', async () => {
    const refused: string[][] = [
      ['get', 'secret/keywarden-validator-jwt', '-n', TEAM],
      ['get', 'secret/keywarden-validator-token', '-n', TEAM],
      ['list', 'secrets', '-n', TEAM],
      ['watch', 'secrets', '-n', TEAM],
      ['list', 'secrets', '-n', OTHER],
      ['get', 'secret/keywarden-validator-jwt', '-n', OTHER],
      ['list', 'secrets', '-n', NS],
      ['get', 'secrets', '-n', NS],
      ['patch', 'apikeys.keywarden.dev', '--subresource=status', '-n', TEAM],
      ['get', 'apikeys.keywarden.dev', '-n', TEAM],
      ['create', 'serviceaccounts/token', '-n', TEAM],
    ];
    for (const args of refused) expect(await canI(APP, args), args.join(' ')).toBe('no');
    // The sidecar's own account does have what the validator needs (so the "no"s above are not vacuous).
    expect(await canI(VALIDATOR, ['list', 'secrets', '-n', TEAM])).toBe('yes');
    expect(
      await canI(VALIDATOR, ['patch', 'apikeys.keywarden.dev', '--subresource=status', '-n', TEAM]),
    ).toBe('yes');
  });

  it("real calls with the pod ServiceAccount's token are refused (403)", async () => {
    const { rest } = tokenKubeconfig('app', appToken);
    await admin().create(`/apis/keywarden.dev/v1alpha1/namespaces/${TEAM}/apikeys`, {
      apiVersion: 'keywarden.dev/v1alpha1',
      kind: 'ApiKey',
      metadata: { name: 'app-target' },
      spec: { environment: 'staging' },
    });
    // Each call is made only when awaited, so a refusal is never an unhandled rejection.
    const calls: [string, () => Promise<unknown>][] = [
      ['get the signing key', () => rest.get(`/api/v1/namespaces/${TEAM}/secrets/keywarden-validator-jwt`)],
      [
        "get the sidecar's token",
        () => rest.get(`/api/v1/namespaces/${TEAM}/secrets/keywarden-validator-token`),
      ],
      [
        'list hash records here',
        () => rest.get(`/api/v1/namespaces/${TEAM}/secrets?labelSelector=keywarden.dev/component%3Dkey-hash`),
      ],
      ['list hash records elsewhere', () => rest.get(`/api/v1/namespaces/${OTHER}/secrets`)],
      [
        "get another namespace's signing key",
        () => rest.get(`/api/v1/namespaces/${OTHER}/secrets/keywarden-validator-jwt`),
      ],
      ['list the operator namespace', () => rest.get(`/api/v1/namespaces/${NS}/secrets`)],
      [
        'patch ApiKey status',
        () =>
          rest.patch(
            `/apis/keywarden.dev/v1alpha1/namespaces/${TEAM}/apikeys/app-target/status`,
            { status: { lastUsedAt: '2030-01-01T00:00:00Z' } },
            'merge',
          ),
      ],
      [
        'mint a token for the validator account',
        () =>
          rest.create(`/api/v1/namespaces/${TEAM}/serviceaccounts/keywarden-validator/token`, {
            apiVersion: 'authentication.k8s.io/v1',
            kind: 'TokenRequest',
            spec: {},
          }),
      ],
    ];
    for (const [what, call] of calls) expect(await statusOf(call()), what).toBe(403);

    // Positive control: the token the chart made for the sidecar works for what the sidecar does.
    const token = await eventually(
      'the token controller to fill keywarden-validator-token',
      async () => {
        const s = await admin().get<Json>(`/api/v1/namespaces/${TEAM}/secrets/keywarden-validator-token`);
        return s.data?.token ? Buffer.from(s.data.token, 'base64').toString('utf8') : undefined;
      },
      30_000,
    );
    const sidecar = tokenKubeconfig('sidecar', token).rest;
    expect(await statusOf(sidecar.get(`/api/v1/namespaces/${TEAM}/secrets`))).toBe(200);
    expect(await statusOf(sidecar.get(`/api/v1/namespaces/${NS}/secrets`))).toBe(403);
  });

  it('no pod mints identity JWTs for an audience outside its namespace allow-list', async () => {
    // TEAM asking for OTHER's service audience, or OTHER's namespace audience: refused at admission.
    for (const aud of ['other-api', OTHER]) {
      const r = await kubectl(
        ['apply', '-f', '-'],
        podYaml(`aud-${aud}`, TEAM, { 'keywarden.dev/jwt-audience': aud }),
      );
      expect(r.code, `audience ${aud} from ${TEAM}`).not.toBe(0);
      expect(r.stderr).toContain(`is not an audience pods in namespace ${TEAM} may use`);
    }
    // Without the annotation the audience is the pod's namespace; OTHER may use its allow-listed one.
    const settingsOf = (p: Json) =>
      p.spec.initContainers
        .find((c: Json) => c.name === 'keywarden-config')
        .env.find((e: Json) => e.name === 'KEYWARDEN_VALIDATOR_SETTINGS').value as string;
    expect(settingsOf(pod)).toMatch(new RegExp(`audience: ${TEAM}\\b`));
    await kubectlOk(
      ['apply', '-f', '-'],
      podYaml('other-api', OTHER, { 'keywarden.dev/jwt-audience': 'other-api' }),
    );
    const other = JSON.parse(await kubectlOk(['get', 'pod', 'other-api', '-n', OTHER, '-o', 'json']));
    expect(settingsOf(other)).toMatch(/audience: other-api\b/);
    // And the signing key is a file from the pod's own namespace, never an API read of a shared Secret.
    expect(settingsOf(other)).toContain('file: /etc/keywarden/jwt/signing-key.pem');
  });
});

describe('a reader of the operator namespace', () => {
  const auditDir = () => join(inject('runDir'), `adv-${ID}-audit`);

  beforeAll(async () => {
    mkdirSync(auditDir(), { recursive: true });
    controller = new KeywardenProcess([
      'controller',
      `--operator-namespace=${NS}`,
      `--namespaces=${TEAM}`,
      '--admin-port=0',
      `--lease-name=adv-${ID}`,
      `--audit-dir=${auditDir()}`,
    ]);
    await controller.waitForLog('became leader');
  });

  it('learns no plaintext and no pending key; the tenant reveals with rights in its own namespace only', async () => {
    const tenant = tokenKubeconfig(
      'tenant',
      (await kubectlOk(['create', 'token', TENANT_SA, '-n', TEAM])).trim(),
    );
    await kubectlOk(
      ['apply', '-f', '-', '--kubeconfig', tenant.file],
      stringify({
        apiVersion: 'keywarden.dev/v1alpha1',
        kind: 'ApiKey',
        metadata: { name: 'victim', namespace: TEAM },
        spec: { environment: 'staging' },
      }),
    );
    await eventually(
      'the key to be pending',
      async () => {
        const ak = await admin().get<Json>(`/apis/keywarden.dev/v1alpha1/namespaces/${TEAM}/apikeys/victim`);
        return ak.status?.delivery?.state === 'Pending' ? true : undefined;
      },
      30_000,
    );
    const before = await readableSecrets(OPS_READER, NS);
    expect(before, 'the pending copy is in the operator namespace').toContain('.victim.delivery');

    // The tenant has no right at all in the operator namespace, and needs none.
    expect(await canI(sa(TEAM, TENANT_SA), ['get', 'secrets', '-n', NS])).toBe('no');
    const first = await runCli(['reveal', 'victim', '-n', TEAM], tenant.file);
    expect(first.code, first.stderr).toBe(0);
    const key = first.stdout.trim();
    expect(parseKey(key).ok).toBe(true);
    const second = await runCli(['reveal', 'victim', '-n', TEAM], tenant.file);
    expect(second.code).toBe(4);

    // What the reader saw while the key was pending, and sees now, holds neither the key nor its base64.
    const after = await readableSecrets(OPS_READER, NS);
    for (const seen of [before, after]) {
      expect(seen).not.toContain(key);
      expect(seen).not.toContain(Buffer.from(key).toString('base64'));
      expect(seen).not.toMatch(new RegExp(KEY_PATTERN));
    }
    // The copy is gone, and the status carries only a JWE sealed to the CLI's discarded key.
    expect(after).not.toContain('.victim.delivery');
    const ak = await admin().get<Json>(`/apis/keywarden.dev/v1alpha1/namespaces/${TEAM}/apikeys/victim`);
    expect(ak.status.delivery.state).toBe('Revealed');
    expect(JSON.stringify(ak)).not.toContain(key);
  });

  it('the revealed audit row names the user who asked', async () => {
    expect(await controller?.stop()).toBe(0);
    controller = undefined;
    const result = await queryEvents({ directory: auditDir(), namespace: TEAM, eventType: 'lifecycle' });
    const revealed = result.rows.filter((r) => r.api_key_name === 'victim' && r.action === 'revealed');
    expect(revealed).toHaveLength(1);
    expect(revealed[0]?.actor).toBe(sa(TEAM, TENANT_SA));
  });
});
