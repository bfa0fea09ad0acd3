import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, test } from 'vitest';
import { SECRET_TYPES } from '../../src/api/metadata.ts';
import {
  chartInstallArgs,
  demoApiManifests,
  forwardAuthValidatorManifests,
  list,
  nginxManifests,
} from '../../src/cli/dev/demo.ts';
import { SIDECAR_NAME } from '../../src/injector/inject.ts';
import {
  createKey,
  injectCa,
  loadedByEveryPod,
  StandInIssuer,
  servedSerials,
  setCaBundle,
  upgradeToCertManagerMode,
  WEBHOOK_CERTIFICATE,
  webhookPods,
} from './cert-manager.ts';
import { E2E_STEPS } from './steps.ts';
import {
  DEMO_NS,
  eventually,
  getJson,
  helmOk,
  kubectl,
  kubectlOk,
  OPERATOR_NS,
  RELEASE,
  ROOT,
  reveal,
  runInPod,
} from './support.ts';

// One suite, one cluster, steps in order (E2E_STEPS): each step builds on the one before, as a user's
// install does. A failed step fails the ones after it quickly (their preconditions are missing).
const [
  INSTALL,
  WEBHOOK,
  CONTROLLER,
  INJECT,
  CLIENT,
  NODEPORT,
  DISABLE,
  NGINX,
  METRICS,
  AUDIT,
  FAILOVER,
  RBAC,
  UPGRADE,
  CERT_MANAGER,
  UNINSTALL,
] = E2E_STEPS;

// The chart on main before the node e2e work (issue 13): the release the upgrade step starts from.
const PREVIOUS_CHART_REF = '197fec429b9e452793586c2efc0beea4a5d12e2a';

const keys = { dev: '', staging: '', burst: '' };
let demoService = { clusterIp: '', nodePort: 0 };

/** A request from the host to the demo API's NodePort. */
async function fromHost(
  path: string,
  key?: string,
  method = 'GET',
): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://${inject('nodeAddress')}:${demoService.nodePort}${path}`, {
    method,
    headers: key ? { authorization: `Bearer ${key}` } : {},
    signal: AbortSignal.timeout(5_000),
  });
  return { status: res.status, body: await res.text() };
}

/** Hash Secrets of the demo namespace: name -> resourceVersion and record (no plaintext in them). */
async function hashSecrets(): Promise<Map<string, string>> {
  const secrets = await getJson(['-n', DEMO_NS, 'get', 'secrets']);
  const out = new Map<string, string>();
  for (const s of secrets.items)
    if (s.type === SECRET_TYPES.hash) out.set(s.metadata.name, JSON.stringify(s.data));
  return out;
}

async function leaseHolder(): Promise<string> {
  const lease = await getJson(['-n', OPERATOR_NS, 'get', 'lease', 'keywarden-controller']);
  return (lease.spec?.holderIdentity ?? '') as string;
}

async function applyKey(name: string, spec: object): Promise<void> {
  await kubectlOk(
    ['-n', DEMO_NS, 'apply', '-f', '-'],
    JSON.stringify({ apiVersion: 'keywarden.dev/v1alpha1', kind: 'ApiKey', metadata: { name }, spec }),
  );
}

const waitKeysReady = (...names: string[]) =>
  kubectlOk([
    '-n',
    DEMO_NS,
    'wait',
    '--for=condition=Ready',
    '--timeout=120s',
    ...names.map((n) => `apikey/${n}`),
  ]);

describe('keywarden on a real node: image, chart and pods', () => {
  test(INSTALL, async () => {
    await kubectl(['create', 'namespace', DEMO_NS]);
    await helmOk(chartInstallArgs());
    const pods = await getJson(['-n', OPERATOR_NS, 'get', 'pods']);
    for (const pod of pods.items) {
      // Every container runs read-only as uid 1000 (the image's user), as the chart says.
      for (const c of pod.spec.containers) {
        expect(c.securityContext?.readOnlyRootFilesystem, `${pod.metadata.name}/${c.name}`).toBe(true);
      }
      expect(pod.spec.securityContext?.runAsUser ?? 1000, pod.metadata.name).toBe(1000);
    }
  });

  test(WEBHOOK, async () => {
    // The webhook published its bootstrapped CA into its configurations.
    const mutating = await getJson([
      'get',
      'mutatingwebhookconfigurations',
      '-l',
      `app.kubernetes.io/instance=${RELEASE}`,
    ]);
    for (const cfg of mutating.items)
      for (const w of cfg.webhooks) expect(w.clientConfig.caBundle, w.name).toBeTruthy();
    // The example policy and keys: the API server calls the webhook through its Service for each.
    await eventually('the policy applies through the webhook', 60_000, async () =>
      (await kubectl(['apply', '-f', join(ROOT, 'examples/apikeypolicy.yaml')])).code === 0
        ? true
        : undefined,
    );
    for (const f of ['apikey-development.yaml', 'apikey-staging-public.yaml']) {
      await kubectlOk(['-n', DEMO_NS, 'apply', '-f', join(ROOT, 'examples', f)]);
    }
    const dev = await getJson(['-n', DEMO_NS, 'get', 'apikey', 'dev-laptop']);
    expect(dev.spec.expiresAt, 'the webhook defaulted the expiry').toBeTruthy();
    // And it refuses what the policy forbids, with its own message.
    const twoYears = new Date(Date.now() + 2 * 366 * 86_400_000).toISOString().replace(/\.\d+Z$/, 'Z');
    const refused = await kubectl(
      ['-n', DEMO_NS, 'apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'keywarden.dev/v1alpha1',
        kind: 'ApiKey',
        metadata: { name: 'too-long' },
        spec: { environment: 'development', permissions: ['devices:read'], expiresAt: twoYears },
      }),
    );
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/admission webhook .*keywarden/i);
  });

  test(CONTROLLER, async () => {
    const deploy = await getJson(['-n', OPERATOR_NS, 'get', 'deploy', `${RELEASE}-controller`]);
    expect(deploy.status.readyReplicas).toBe(2);
    const holder = await eventually(
      'a controller holds the lease',
      60_000,
      async () => (await leaseHolder()) || undefined,
    );
    const pods = await getJson([
      '-n',
      OPERATOR_NS,
      'get',
      'pods',
      '-l',
      'app.kubernetes.io/component=controller',
    ]);
    const names: string[] = pods.items.map((p: { metadata: { name: string } }) => p.metadata.name);
    expect(names.some((n) => holder.startsWith(`${n}_`))).toBe(true);
    await applyKey('burst-key', {
      environment: 'development',
      permissions: ['devices:read'],
      rateLimit: { requests: 2, period: '1m', burst: 2 },
    });
    await waitKeysReady('dev-laptop', 'webapp-public', 'burst-key');
    keys.dev = await reveal(DEMO_NS, 'dev-laptop');
    keys.staging = await reveal(DEMO_NS, 'webapp-public');
    keys.burst = await reveal(DEMO_NS, 'burst-key');
    expect(keys.dev).toMatch(/^kwsk_dev_/);
  });

  test(INJECT, async () => {
    await kubectlOk(['-n', DEMO_NS, 'apply', '-f', '-'], list(demoApiManifests('development')));
    await kubectlOk(['-n', DEMO_NS, 'rollout', 'status', 'deploy/demo-api', '--timeout=180s']);
    const pods = await getJson(['-n', DEMO_NS, 'get', 'pods', '-l', 'app=demo-api']);
    const containers = pods.items[0].spec.containers.map((c: { name: string }) => c.name);
    expect(containers).toContain(SIDECAR_NAME);
    const svc = await getJson(['-n', DEMO_NS, 'get', 'svc', 'demo-api']);
    demoService = { clusterIp: svc.spec.clusterIP, nodePort: svc.spec.ports[0].nodePort };
  });

  test(CLIENT, async () => {
    const tampered = keys.dev.slice(0, -1) + (keys.dev.endsWith('A') ? 'B' : 'A');
    const out = await runInPod(
      DEMO_NS,
      `
const base = 'http://${demoService.clusterIp}';
const call = async (method, path, key) => {
  const res = await served(base + path, { method, headers: key ? { authorization: 'Bearer ' + key } : {} });
  return { status: res.status, body: await res.text(), retryAfter: res.headers.get('retry-after') };
};
const e = process.env;
const out = {
  allowed: await call('GET', '/v1/devices/42', e.DEV),
  noPermission: await call('POST', '/v1/tickets', e.DEV),
  noKey: await call('GET', '/v1/devices/42'),
  mistyped: await call('GET', '/v1/devices/42', e.TAMPERED),
  otherEnvironment: await call('GET', '/v1/devices/42', e.STAGING),
  unmapped: await call('GET', '/admin', e.DEV),
  burst: [],
};
for (let i = 0; i < 4; i++) out.burst.push(await call('GET', '/v1/devices/1', e.BURST));
console.log(JSON.stringify(out));
`,
      { DEV: keys.dev, STAGING: keys.staging, BURST: keys.burst, TAMPERED: tampered },
    );
    const r = JSON.parse(out.trim().split('\n').pop() as string);
    expect(r.allowed.status).toBe(200);
    const identity = JSON.parse(r.allowed.body).identity;
    expect(identity['x-keywarden-apikey-name']).toBe('dev-laptop');
    expect(identity['x-keywarden-apikey-namespace']).toBe(DEMO_NS);
    expect(identity['x-keywarden-environment']).toBe('development');
    expect(r.noPermission.status).toBe(403);
    expect(r.noKey.status).toBe(401);
    expect(r.mistyped.status).toBe(401);
    expect(r.otherEnvironment.status).toBe(401);
    expect(r.unmapped.status).toBe(403);
    expect(r.burst.map((b: { status: number }) => b.status)).toEqual([200, 200, 429, 429]);
    expect(Number(r.burst[2].retryAfter)).toBeGreaterThan(0);
    // No answer carries the key.
    expect(out).not.toContain(keys.dev);
  });

  test(NODEPORT, async () => {
    const allowed = await fromHost('/v1/devices/7', keys.dev);
    expect(allowed.status).toBe(200);
    expect(JSON.parse(allowed.body).identity['x-keywarden-apikey-name']).toBe('dev-laptop');
    expect((await fromHost('/v1/devices/7')).status).toBe(401);
    expect((await fromHost('/v1/tickets', keys.dev, 'POST')).status).toBe(403);
  });

  test(DISABLE, async () => {
    await applyKey('short-lived', { environment: 'development', permissions: ['devices:read'] });
    await waitKeysReady('short-lived');
    const key = await reveal(DEMO_NS, 'short-lived');
    await eventually('the new key works', 30_000, async () =>
      (await fromHost('/v1/devices/1', key)).status === 200 ? true : undefined,
    );
    await kubectlOk([
      '-n',
      DEMO_NS,
      'patch',
      'apikey',
      'short-lived',
      '--type=merge',
      '-p',
      '{"spec":{"disabled":true}}',
    ]);
    const t0 = Date.now();
    while ((await fromHost('/v1/devices/1', key)).status !== 401) {
      expect(Date.now() - t0, 'refused within 2 s of disabled: true').toBeLessThan(2_000);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(Date.now() - t0).toBeLessThan(2_000);
  });

  test(NGINX, async () => {
    // Next to a reverse proxy the public port serves only the app, so nginx asks a standalone validator.
    await kubectlOk(
      ['-n', DEMO_NS, 'apply', '-f', '-'],
      list(forwardAuthValidatorManifests(OPERATOR_NS, DEMO_NS)),
    );
    await kubectlOk(['-n', DEMO_NS, 'rollout', 'status', 'deploy/forward-auth', '--timeout=180s']);
    const validator = await getJson(['-n', DEMO_NS, 'get', 'svc', 'forward-auth']);
    await kubectlOk(
      ['-n', DEMO_NS, 'apply', '-f', '-'],
      list(nginxManifests(`${validator.spec.clusterIP}:8080`)),
    );
    await kubectlOk(['-n', DEMO_NS, 'rollout', 'status', 'deploy/nginx', '--timeout=120s']);
    const nginx = await getJson(['-n', DEMO_NS, 'get', 'svc', 'nginx']);
    const out = await runInPod(
      DEMO_NS,
      `
const call = async (path, key) => {
  const res = await served('http://${nginx.spec.clusterIP}:8080' + path, { headers: key ? { authorization: 'Bearer ' + key } : {} });
  return { status: res.status, keyName: res.headers.get('x-seen-key-name'), body: await res.text() };
};
console.log(JSON.stringify({
  allowed: await call('/v1/devices/1', process.env.DEV),
  noKey: await call('/v1/devices/1'),
  noPermission: await call('/v1/tickets/9', process.env.DEV),
}));
`,
      { DEV: keys.dev },
    );
    const r = JSON.parse(out.trim().split('\n').pop() as string);
    expect(r.allowed.status).toBe(200);
    expect(r.allowed.body).toContain('protected content');
    expect(r.allowed.keyName).toBe('dev-laptop');
    expect(r.noKey.status).toBe(401);
    expect(r.noPermission.status).toBe(403);
  });

  test(METRICS, async () => {
    const podIp = async (ns: string, selector: string) =>
      (await getJson(['-n', ns, 'get', 'pods', '-l', selector])).items[0].status.podIP as string;
    const targets = {
      validator: `http://${await podIp(DEMO_NS, 'app=demo-api')}:9180/metrics`,
      controller: `http://${await podIp(OPERATOR_NS, 'app.kubernetes.io/component=controller')}:8081/metrics`,
      webhook: `http://${await podIp(OPERATOR_NS, 'app.kubernetes.io/component=webhook')}:8082/metrics`,
    };
    const out = await runInPod(
      DEMO_NS,
      `
const targets = JSON.parse(process.env.TARGETS);
const out = {};
for (const [name, url] of Object.entries(targets)) out[name] = await (await fetch(url)).text();
console.log(JSON.stringify(out));
`,
      { TARGETS: JSON.stringify(targets) },
    );
    const scraped = JSON.parse(out.trim().split('\n').pop() as string) as Record<string, string>;
    expect(scraped.validator).toMatch(/^keywarden_validator_\w+/m);
    expect(scraped.validator).toMatch(
      /^keywarden_validator_decisions_total\{[^}]*result="deny"[^}]*\} [1-9]/m,
    );
    expect(scraped.controller).toMatch(/^keywarden_\w+/m);
    expect(scraped.webhook).toMatch(/^keywarden_\w+/m);
    for (const text of Object.values(scraped)) expect(text).not.toContain(keys.dev);
  });

  test(AUDIT, async () => {
    const pod = (await getJson(['-n', DEMO_NS, 'get', 'pods', '-l', 'app=demo-api'])).items[0].metadata.name;
    // Files become readable when the writer finishes them: every 5 s here (rotate.age in values.yaml).
    const rows = await eventually('decisions in the audit trail', 60_000, async () => {
      const out = await kubectlOk([
        '-n',
        DEMO_NS,
        'exec',
        pod,
        '-c',
        SIDECAR_NAME,
        '--',
        'node',
        '/app/src/cli/main.ts',
        'audit',
        'events',
        '--dir',
        '/var/lib/keywarden/audit',
        '--limit',
        '0',
        '-o',
        'json',
      ]);
      const parsed = JSON.parse(out) as { status?: number }[];
      return parsed.some((r) => r.status === 401) && parsed.some((r) => r.status === 200)
        ? parsed
        : undefined;
    });
    expect(JSON.stringify(rows)).not.toContain(keys.dev);
  });

  test(FAILOVER, async () => {
    const before = await hashSecrets();
    const holder = await leaseHolder();
    const leaderPod = holder.split('_')[0] as string;
    await kubectlOk(['-n', OPERATOR_NS, 'delete', 'pod', leaderPod, '--grace-period=0', '--force']);
    await applyKey('after-failover', { environment: 'development', permissions: ['devices:read'] });
    const newHolder = await eventually('another controller took the lease', 90_000, async () => {
      const h = await leaseHolder();
      return h && !h.startsWith(`${leaderPod}_`) ? h : undefined;
    });
    expect(newHolder).not.toBe(holder);
    await waitKeysReady('after-failover');
    const after = await hashSecrets();
    // No key lost and none minted twice: every hash Secret is unchanged, one new one for the new key.
    for (const [name, data] of before) expect(after.get(name), name).toBe(data);
    expect(after.size).toBe(before.size + 1);
    expect((await fromHost('/v1/devices/1', keys.dev)).status).toBe(200);
  });

  test(RBAC, async () => {
    const pods = await getJson(['-n', OPERATOR_NS, 'get', 'pods']);
    const chartAccounts = new Set([`${RELEASE}-controller`, `${RELEASE}-webhook`]);
    for (const pod of pods.items) {
      expect(chartAccounts.has(pod.spec.serviceAccountName), pod.metadata.name).toBe(true);
      const text = JSON.stringify(pod.spec);
      expect(text).not.toMatch(/kubeconfig/i);
    }
    // The controller's account cannot grant itself more, nor read what is not its business.
    const canI = async (sa: string, ...args: string[]) =>
      (await kubectl(['auth', 'can-i', `--as=system:serviceaccount:${sa}`, ...args])).stdout.trim();
    expect(await canI(`${OPERATOR_NS}:${RELEASE}-controller`, 'create', 'clusterrolebindings')).toBe('no');
    expect(await canI(`${OPERATOR_NS}:${RELEASE}-webhook`, 'list', 'secrets', '-n', DEMO_NS)).toBe('no');
    // The injected validator reads hash Secrets of its namespace only, never the operator's.
    expect(await canI(`${DEMO_NS}:keywarden-validator`, 'list', 'secrets', '-n', OPERATOR_NS)).toBe('no');
  });

  test(UPGRADE, async () => {
    const ref = process.env.KEYWARDEN_E2E_PREVIOUS_REF ?? PREVIOUS_CHART_REF;
    const dir = mkdtempSync(join(tmpdir(), 'keywarden-chart-'));
    try {
      execFileSync('bash', ['-c', `git -C "${ROOT}" archive "${ref}" charts crds | tar -x -C "${dir}"`]);
      const before = await hashSecrets();
      // Keys stay live: a client calls the demo API from the host all along.
      const statuses: number[] = [];
      let live = true;
      const traffic = (async () => {
        while (live) {
          statuses.push(
            await fromHost('/v1/devices/1', keys.dev).then(
              (r) => r.status,
              () => 0,
            ),
          );
          await new Promise((r) => setTimeout(r, 200));
        }
      })();
      try {
        // The release goes back to the previous chart (its templates; the image stays this one, so its
        // pods need not become Ready: the Deployments keep the running ones), then up to the working tree.
        await helmOk(chartInstallArgs(join(dir, 'charts/keywarden')).filter((a) => a !== '--wait'));
        await helmOk(chartInstallArgs());
        await kubectlOk([
          '-n',
          OPERATOR_NS,
          'rollout',
          'status',
          `deploy/${RELEASE}-controller`,
          '--timeout=180s',
        ]);
      } finally {
        live = false;
        await traffic;
      }
      expect(await hashSecrets(), 'no hash Secret lost or re-minted').toEqual(before);
      expect(statuses.length).toBeGreaterThan(0);
      expect(
        statuses.filter((s) => s !== 200),
        'every request during the upgrade was allowed',
      ).toEqual([]);
      await eventually('the key still validates', 60_000, async () =>
        (await fromHost('/v1/devices/1', keys.dev)).status === 200 ? true : undefined,
      );
      const history = await helmOk(['history', RELEASE, '-n', OPERATOR_NS, '-o', 'json']);
      expect(JSON.parse(history).length).toBeGreaterThanOrEqual(3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test(CERT_MANAGER, async () => {
    // An upgrade of the live release from bootstrap to cert-manager mode (stand-ins in cert-manager.ts).
    const pods = await upgradeToCertManagerMode();
    const issuer = await StandInIssuer.create('keywarden e2e stand-in cert-manager CA');
    const first = await issuer.issue(OPERATOR_NS, WEBHOOK_CERTIFICATE);
    await injectCa(RELEASE);
    await loadedByEveryPod(pods, first.serial);

    // The API server calls the webhook through its Service with that certificate: the mutating webhook
    // defaults the expiry, the validating one refuses two years with its own message.
    const devKey = { environment: 'development', permissions: ['devices:read'] };
    const admitted = await createKey('cm-admitted', devKey);
    expect(admitted.code, admitted.stderr).toBe(0);
    expect((await getJson(['-n', DEMO_NS, 'get', 'apikey', 'cm-admitted'])).spec.expiresAt).toBeTruthy();
    const twoYears = new Date(Date.now() + 2 * 366 * 86_400_000).toISOString().replace(/\.\d+Z$/, 'Z');
    const refused = await createKey('cm-too-long', { ...devKey, expiresAt: twoYears });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(
      /admission webhook "validate\.apikeys\.keywarden\.dev" denied the request: .*spec\.expiresAt .* is more than .* ahead/,
    );

    // Renewal: new files in the Secret; kubelet refreshes the mount and the webhook reloads them with
    // no restart. A client pod checks what each webhook pod and the Service serve, against the CA.
    const renewed = await issuer.issue(OPERATOR_NS, WEBHOOK_CERTIFICATE);
    await loadedByEveryPod(pods, renewed.serial);
    const service = await getJson(['-n', OPERATOR_NS, 'get', 'svc', `${RELEASE}-webhook`]);
    const targets = [`${service.spec.clusterIP}:443`, ...pods.map((p) => `${p.ip}:9443`)];
    const serials = await servedSerials(targets, issuer.ca.certPem, `${RELEASE}-webhook.${OPERATOR_NS}.svc`);
    for (const target of targets) expect(serials[target]?.toUpperCase(), target).toBe(renewed.serial);
    const after = await webhookPods();
    expect(after.map((p) => [p.uid, p.restarts]).sort()).toEqual(pods.map((p) => [p.uid, p.restarts]).sort());
    const afterRenewal = await createKey('cm-renewed', devKey);
    expect(afterRenewal.code, afterRenewal.stderr).toBe(0);

    // Attack: the webhook serves a certificate the caBundle's CA did not sign (caBundle names another
    // CA, as when an impostor answers behind the Service). failurePolicy Fail: the API server refuses.
    const other = await StandInIssuer.create('a CA that did not sign the webhook certificate');
    await setCaBundle(RELEASE, other.ca.certPem);
    const impostor = await eventually(
      'the API server refuses to call an untrusted webhook',
      30_000,
      async () => {
        const r = await createKey('cm-untrusted', devKey, true);
        return r.code !== 0 ? r : undefined;
      },
    );
    expect(impostor.stderr).toMatch(/failed calling webhook "[a-z.]+keywarden\.dev"/);
    expect(impostor.stderr).toMatch(/x509: certificate signed by unknown authority/);
    // Trust restored by the stand-in cainjector: admitted again.
    await injectCa(RELEASE);
    await eventually('admitted again once caBundle is the issuing CA', 30_000, async () =>
      (await createKey('cm-trusted-again', devKey)).code === 0 ? true : undefined,
    );
  });

  test(UNINSTALL, async () => {
    await kubectlOk(['-n', DEMO_NS, 'delete', 'deploy', 'demo-api', 'nginx', 'forward-auth', '--wait=true']);
    await helmOk(['uninstall', RELEASE, '-n', OPERATOR_NS, '--wait']);
    const leftInRelease = await getJson([
      '-n',
      OPERATOR_NS,
      'get',
      'all,secrets,configmaps,roles,rolebindings,serviceaccounts,leases',
    ]);
    const names = leftInRelease.items
      .map((o: { kind: string; metadata: { name: string } }) => `${o.kind}/${o.metadata.name}`)
      // Made by Kubernetes in every namespace.
      .filter((n: string) => !['ConfigMap/kube-root-ca.crt', 'ServiceAccount/default'].includes(n));
    // Documented in docs/install.md: what stays after helm uninstall.
    const documented = readFileSync(join(ROOT, 'docs/install.md'), 'utf8');
    for (const n of names)
      expect(documented, `${n} is left behind but not documented`).toContain(n.split('/')[0]);
    const cluster = await getJson([
      'get',
      'clusterroles,clusterrolebindings,mutatingwebhookconfigurations,validatingwebhookconfigurations',
      '-l',
      `app.kubernetes.io/instance=${RELEASE}`,
    ]);
    expect(cluster.items.map((o: { metadata: { name: string } }) => o.metadata.name)).toEqual([]);
    // The chart's cert-manager objects go with the release; the Secret cert-manager wrote stays, as
    // cert-manager leaves it by default (documented).
    const certManagerObjects = await getJson([
      '-n',
      OPERATOR_NS,
      'get',
      'certificates.cert-manager.io,issuers.cert-manager.io',
    ]);
    expect(certManagerObjects.items).toEqual([]);
  });
});
