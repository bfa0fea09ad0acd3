import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { type ParquetAuditSink, registerAuditMetrics } from '../../src/audit/index.ts';
import { ControllerMetrics } from '../../src/controller/metrics.ts';
import {
  composeValidatorConfig,
  computeInjection,
  INJECT_PATH,
  INJECT_WEBHOOK_NAME,
  parseInjectorConfig,
} from '../../src/injector/index.ts';
import { WorkQueue } from '../../src/kube/workqueue.ts';
import { parseConfig } from '../../src/validator/config/load.ts';
import type { KeyStore } from '../../src/validator/key-store.ts';
import { ValidatorMetrics } from '../../src/validator/metrics.ts';
import { buildWebhookConfigurations } from '../../src/webhook/configurations.ts';
import { MUTATE_MATCH_CONDITIONS } from '../../src/webhook/match-conditions.ts';
import { WebhookMetrics } from '../../src/webhook/metrics.ts';
import { applyCrds, buildHelm, deleteReleases, kubectl, kubectlOk } from '../support/kube/kubectl.ts';
import { PROMTOOL } from '../support/metrics/promtool.ts';
import { POD_CREATE_RULES } from '../support/webhook/harness.ts';

// The Helm chart against the real API server: helm lint, helm template for the main option sets
// accepted by a server-side dry run, the CRDs taken from the repository's one copy, and least
// privilege proven with the API server's own authorizer after really applying the RBAC objects.

type Doc = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  // biome-ignore lint/suspicious/noExplicitAny: rendered manifests are walked freely in assertions
  [k: string]: any;
};

const CHART = 'charts/keywarden';
const suffix = randomBytes(3).toString('hex');
const RELEASE = `kwt-${suffix}`;
const FULLNAME = `${RELEASE}-keywarden`;
const NS = `kw-chart-${suffix}`; // release (operator) namespace
const TEAM = `kw-team-${suffix}`; // a namespace validators serve
const OTHER = `kw-other-${suffix}`; // one they do not
let helmPath = '';

function run(
  cmd: string,
  args: string[],
  input?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = execFile(cmd, args, { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) =>
      done({ code: err ? Number((err as { code?: number }).code ?? 1) || 1 : 0, stdout, stderr }),
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

async function helm(args: string[]): Promise<string> {
  const r = await run(helmPath, args);
  if (r.code !== 0) throw new Error(`helm ${args.join(' ')} failed (${r.code}):\n${r.stderr}`);
  return r.stdout;
}

/** `helm template` for one option set, rendered into the test's release namespace. */
async function render(set: string[] = [], extra: string[] = []): Promise<string> {
  return helm(['template', RELEASE, CHART, '-n', NS, ...set.flatMap((s) => ['--set', s]), ...extra]);
}

const docs = (yaml: string): Doc[] =>
  parseAllDocuments(yaml)
    .map((d) => d.toJS() as Doc | null)
    .filter((d): d is Doc => d !== null);

const find = (all: Doc[], kind: string, name: string): Doc => {
  const d = all.find((x) => x.kind === kind && x.metadata.name === name);
  if (!d)
    throw new Error(`no ${kind} ${name} in: ${all.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}`);
  return d;
};

const OPTION_SETS: Record<string, string[]> = {
  default: [],
  'cert-manager TLS': ['webhook.tls.mode=cert-manager'],
  'cert-manager TLS with an existing ClusterIssuer': [
    'webhook.tls.mode=cert-manager',
    'webhook.tls.certManager.issuerRef.name=corp-ca',
    'webhook.tls.certManager.issuerRef.kind=ClusterIssuer',
    'webhook.tls.certManager.issuerRef.group=cert-manager.io',
  ],
  'monitoring on': [
    'monitoring.serviceMonitor.enabled=true',
    'monitoring.podMonitor.enabled=true',
    'monitoring.prometheusRule.enabled=true',
    'monitoring.grafanaDashboard.enabled=true',
  ],
  'injection off': ['injection.enabled=false'],
  'validators and JWT audiences': [
    `validator.namespaces[0]=${TEAM}`,
    `injection.jwt.audiences.${TEAM}[0]=payments-api`,
    'injection.failurePolicy=Fail',
    `injection.excludeNamespaces[0]=${OTHER}`,
  ],
  // Least privilege when scoped: chart-controller-scope.test.ts proves it with auth can-i.
  'controller scoped': [
    `controller.watchNamespaces[0]=${TEAM}`,
    `controller.consumerSecretNamespaces[0]=${OTHER}`,
  ],
  // What scripts/kind-e2e.sh installs (its demo namespace here is TEAM).
  'the kind script': [...readFileSync('scripts/kind-e2e.sh', 'utf8').matchAll(/--set "?([^"\s]+)"?/g)].map(
    (m) => (m[1] as string).replace('$demo_ns', TEAM),
  ),
};

beforeAll(async () => {
  helmPath = buildHelm();
  await applyCrds();
  await kubectlOk([
    'apply',
    '--server-side',
    '--force-conflicts',
    '-f',
    'test/support/fixtures/stand-in-crds/',
  ]);
  await kubectlOk([
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    'crd',
    '-l',
    'keywarden.dev/stand-in=true',
  ]);
  for (const ns of [NS, TEAM, OTHER]) await kubectlOk(['create', 'namespace', ns]);
}, 600_000);

afterAll(async () => {
  await deleteReleases([RELEASE], [NS, TEAM, OTHER]);
});

describe('helm lint', () => {
  it.each(Object.entries(OPTION_SETS))('is clean with --strict: %s', async (_name, set) => {
    const r = await run(helmPath, ['lint', '--strict', CHART, '-n', NS, ...set.flatMap((s) => ['--set', s])]);
    expect(r.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
    expect(r.stdout).not.toMatch(/\[(WARNING|ERROR)\]/);
    expect(r.code).toBe(0);
  });

  it('refuses bad values with the schema or a clear message', async () => {
    const bad = async (set: string[]) =>
      (await run(helmPath, ['template', RELEASE, CHART, '-n', NS, ...set.flatMap((s) => ['--set', s])]))
        .stderr;
    expect(await bad(['webhook.tls.mode=certmanager'])).toContain(
      "at '/webhook/tls/mode': value must be one of 'bootstrap', 'cert-manager'",
    );
    expect(await bad(['webhook.timeoutSeconds=10'])).toContain('/webhook/timeoutSeconds');
    expect(await bad(['controlller.replicas=1'])).toContain(
      "additional properties 'controlller' not allowed",
    );
    expect(await bad([`validator.namespaces[0].name=${NS}`])).toContain(
      `validator.namespaces must not contain the release namespace ${NS}: the one-time delivery Secrets (plaintext keys) live there`,
    );
    expect(await bad(['controller.leaderElection.enabled=false'])).toContain(
      'controller.replicas > 1 needs controller.leaderElection.enabled',
    );
    expect(await bad(['injection.validatorSettings.environment=production'])).toContain(
      '/injection/validatorSettings',
    );
  });
});

describe('the CRDs come from the one copy in crds/', () => {
  it('charts/keywarden/crds is a link to ../../crds, not a copy', () => {
    expect(lstatSync(`${CHART}/crds`).isSymbolicLink()).toBe(true);
    expect(resolve(CHART, readlinkSync(`${CHART}/crds`))).toBe(resolve('crds'));
  });

  it('helm template --include-crds and helm package carry exactly the files in crds/', async () => {
    const files = readdirSync('crds')
      .filter((f) => f.endsWith('.yaml'))
      .sort();
    expect(files.length).toBeGreaterThan(0);
    const fromRepo = files.map((f) => parse(readFileSync(`crds/${f}`, 'utf8')));
    const rendered = docs(await helm(['template', RELEASE, CHART, '-n', NS, '--include-crds'])).filter(
      (d) => d.kind === 'CustomResourceDefinition',
    );
    expect(rendered.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))).toEqual(
      fromRepo.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name)),
    );
    const out = mkdtempSync(join(tmpdir(), 'kw-chart-'));
    await helm(['package', CHART, '-d', out]);
    const tgz = readdirSync(out).find((f) => f.endsWith('.tgz')) as string;
    for (const f of files) {
      const packed = execFileSync('tar', ['-xzOf', join(out, tgz), `keywarden/crds/${f}`], {
        encoding: 'utf8',
      });
      expect(packed).toBe(readFileSync(`crds/${f}`, 'utf8'));
    }
  });

  it('no other copy of the keywarden.dev CRDs exists in the repository', () => {
    let out = '';
    try {
      out = execFileSync(
        'git',
        [
          'grep',
          '-l',
          '--untracked',
          '-e',
          'group: keywarden.dev',
          '--',
          '*.yaml',
          '*.yml',
          '*.json',
          ':!crds/',
        ],
        {
          encoding: 'utf8',
        },
      );
    } catch (err) {
      if ((err as { status?: number }).status !== 1) throw err; // 1: nothing found
    }
    const copies = out
      .split('\n')
      .filter(
        (f) => f && lstatSync(f).isFile() && readFileSync(f, 'utf8').includes('CustomResourceDefinition'),
      );
    expect(copies).toEqual([]);
  });
});

describe('helm template output is accepted by the real API server (kubectl apply --dry-run=server)', () => {
  it.each(Object.entries(OPTION_SETS))('%s', async (_name, set) => {
    const out = await render(set);
    const r = await kubectl(['apply', '--dry-run=server', '-f', '-'], out);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // Every object was checked by the server, none skipped.
    expect(r.stdout.trim().split('\n')).toHaveLength(docs(out).length);
  });
});

describe('helm install --dry-run=server', () => {
  it('renders the NOTES with the next steps, and warns while no namespace may run validators', async () => {
    const install = (set: string[]) =>
      run(helmPath, [
        'install',
        RELEASE,
        CHART,
        '-n',
        NS,
        '--dry-run=server',
        '--kubeconfig',
        inject('kubeconfigPath'),
        ...set.flatMap((s) => ['--set', s]),
      ]);
    const plain = await install([]);
    expect(plain.stderr.replace(/.*walk\.go.*\n/g, '')).toBe('');
    const notes = plain.stdout.slice(plain.stdout.indexOf('NOTES:'));
    expect(notes).toContain(
      `kubectl -n ${NS} wait --for=condition=Available --timeout=5m deploy -l app.kubernetes.io/instance=${RELEASE}`,
    );
    expect(notes).toContain('keywarden.dev/inject: "true"');
    expect(notes).toContain('WARNING: validator.namespaces is empty');
    const served = await install([
      `validator.namespaces[0].name=${TEAM}`,
      `validator.namespaces[1]=${OTHER}`,
      'injection.enabled=false',
    ]);
    const notes2 = served.stdout.slice(served.stdout.indexOf('NOTES:'));
    expect(notes2).toContain(`Validators may read keys in: ${TEAM}, ${OTHER}.`);
    expect(notes2).toContain('injection is off');
  });
});

describe('what the chart renders', () => {
  it('has the defaults the issue asks for', async () => {
    const all = docs(await render());
    const controller = find(all, 'Deployment', `${FULLNAME}-controller`);
    const webhook = find(all, 'Deployment', `${FULLNAME}-webhook`);
    expect(controller.spec.replicas).toBe(2);
    expect(webhook.spec.replicas).toBe(2);
    const c = controller.spec.template.spec.containers[0];
    expect(c.args).toEqual(
      expect.arrayContaining([
        'controller',
        `--operator-namespace=${NS}`,
        '--lease-name=keywarden-controller',
      ]),
    );
    expect(c.livenessProbe.httpGet.path).toBe('/healthz');
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    for (const d of [controller, webhook]) {
      expect(d.spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true });
      expect(d.spec.template.spec.containers[0].securityContext).toMatchObject({
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      });
    }
    expect(webhook.spec.template.spec.affinity.podAntiAffinity).toBeDefined();
    expect(find(all, 'PodDisruptionBudget', `${FULLNAME}-webhook`).spec.minAvailable).toBe(1);
    expect(find(all, 'ApiKeyPolicy', 'default').metadata.annotations).toEqual({
      'helm.sh/resource-policy': 'keep',
    });
  });

  it('adminPort sets the admin port of the controller and the webhook; the former name healthPort still wins', async () => {
    const adminPorts = async (set: string[]) => {
      const all = docs(await render(set));
      return ['controller', 'webhook'].map((part) => {
        const d = find(all, 'Deployment', `${FULLNAME}-${part}`);
        const c = d.spec.template.spec.containers[0];
        const metricsPorts = all
          .filter(
            (x) =>
              x.kind === 'Service' &&
              (x.metadata.labels as Record<string, string>)?.['app.kubernetes.io/component'] === part,
          )
          .flatMap((x) => x.spec.ports as { name: string; port: number }[])
          .filter((p) => p.name === 'metrics');
        return {
          flag: (c.args as string[]).find((a) => a.startsWith('--admin-port=')),
          containerPort: (c.ports as { name: string; containerPort: number }[]).find(
            (p) => p.name === 'health',
          )?.containerPort,
          servicePorts: metricsPorts.map((p) => p.port),
        };
      });
    };
    const at = (controller: number, webhook: number) => [
      { flag: `--admin-port=${controller}`, containerPort: controller, servicePorts: [controller] },
      { flag: `--admin-port=${webhook}`, containerPort: webhook, servicePorts: [webhook] },
    ];
    expect(await adminPorts([])).toEqual(at(8081, 8082));
    expect(await adminPorts(['controller.adminPort=9101', 'webhook.adminPort=9102'])).toEqual(at(9101, 9102));
    // An upgrade that keeps its old values file keeps its ports.
    expect(await adminPorts(['controller.healthPort=9201', 'webhook.healthPort=9202'])).toEqual(
      at(9201, 9202),
    );
  });

  it('webhook configurations match buildWebhookConfigurations() (src/webhook/configurations.ts)', async () => {
    for (const set of [OPTION_SETS.default, OPTION_SETS['cert-manager TLS']] as string[][]) {
      const all = docs(await render(set));
      const certManager = set.length > 0;
      const want = buildWebhookConfigurations({
        name: FULLNAME,
        target: { service: { namespace: NS, name: `${FULLNAME}-webhook`, port: 443 } },
        ...(certManager
          ? { annotations: { 'cert-manager.io/inject-ca-from': `${NS}/${FULLNAME}-webhook` } }
          : {}),
      });
      for (const w of [want.mutating, want.validating]) {
        const got = find(all, w.kind, FULLNAME);
        expect(got.webhooks).toEqual(w.webhooks);
        expect(got.metadata.annotations).toEqual(w.metadata.annotations);
        expect(got.metadata.labels).toMatchObject(w.metadata.labels ?? {});
      }
      // The CEL written by hand in the template is src's, character for character (also in toEqual above).
      const mutating = find(all, 'MutatingWebhookConfiguration', FULLNAME);
      expect(mutating.webhooks[0].matchConditions).toEqual(MUTATE_MATCH_CONDITIONS);
      expect(
        find(all, 'ValidatingWebhookConfiguration', FULLNAME).webhooks[0].matchConditions,
      ).toBeUndefined();
    }
  });

  it('the pod-injection webhook calls the injector path, skips kube-system and the release namespace', async () => {
    const all = docs(await render(OPTION_SETS['validators and JWT audiences']));
    const cfg = find(all, 'MutatingWebhookConfiguration', `${FULLNAME}-injection`);
    expect(cfg.webhooks).toHaveLength(1);
    expect(cfg.webhooks[0]).toMatchObject({
      name: INJECT_WEBHOOK_NAME,
      clientConfig: { service: { namespace: NS, name: `${FULLNAME}-webhook`, path: INJECT_PATH, port: 443 } },
      rules: POD_CREATE_RULES,
      admissionReviewVersions: ['v1'],
      sideEffects: 'None',
      failurePolicy: 'Fail',
      matchPolicy: 'Equivalent',
      timeoutSeconds: 5,
      namespaceSelector: {
        matchExpressions: [
          { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', NS, OTHER] },
        ],
      },
    });
    expect(
      docs(await render(OPTION_SETS['injection off'])).filter(
        (d) => d.metadata.name === `${FULLNAME}-injection`,
      ),
    ).toEqual([]);
    // Bootstrap TLS: the webhook patches caBundle into all three configurations it is told about.
    const args: string[] = find(all, 'Deployment', `${FULLNAME}-webhook`).spec.template.spec.containers[0]
      .args;
    expect(args).toContain(`--mutating-configuration=${FULLNAME},${FULLNAME}-injection`);
    expect(args).toContain(`--validating-configuration=${FULLNAME}`);
    expect(args).toContain('--injector-config=/etc/keywarden/injector/injector.yaml');
  });

  it('the injector ConfigMap is a valid injector configuration, and an injected pod is a valid Pod for the API server', async () => {
    const all = docs(
      await render([
        'image.repository=registry.local/keywarden',
        'image.tag=1.2.3',
        'injection.trustedProxies[0]=10.0.0.0/8',
      ]),
    );
    const text = find(all, 'ConfigMap', `${FULLNAME}-injector`).data['injector.yaml'];
    const parsed = parseInjectorConfig(text);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
    expect(parsed.value).toMatchObject({
      image: 'registry.local/keywarden:1.2.3',
      port: 8180,
      adminPort: 9180,
      trustedProxies: ['10.0.0.0/8'],
    });

    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'payments-api',
        namespace: TEAM,
        annotations: {
          'keywarden.dev/inject': 'true',
          'keywarden.dev/environment': 'production',
          'keywarden.dev/upstream-port': 'http',
          'keywarden.dev/routes-configmap': 'payments-routes',
        },
      },
      spec: {
        containers: [{ name: 'app', image: 'example/api:1', ports: [{ name: 'http', containerPort: 3000 }] }],
      },
    };
    const outcome = computeInjection(pod, TEAM, parsed.value);
    if (outcome.action !== 'inject') throw new Error(JSON.stringify(outcome));
    const dir = mkdtempSync(join(tmpdir(), 'kw-pod-'));
    writeFileSync(join(dir, 'patch.json'), JSON.stringify(outcome.patch));
    writeFileSync(join(dir, 'pod.yaml'), stringify(pod));
    // kubectl applies the webhook's very JSON Patch locally, then the server validates the result.
    const patched = await kubectlOk([
      'patch',
      '--local',
      '-f',
      join(dir, 'pod.yaml'),
      '--type=json',
      `--patch-file=${join(dir, 'patch.json')}`,
      '-o',
      'yaml',
    ]);
    const r = await kubectl(['apply', '--dry-run=server', '-o', 'json', '-f', '-'], patched);
    expect(r.stderr).toBe('');
    const fromServer = JSON.parse(r.stdout);
    expect(fromServer.spec.containers.map((c: Doc) => c.name)).toEqual(['app', 'keywarden-validator']);
    expect(fromServer.spec.initContainers.map((c: Doc) => c.name)).toEqual(['keywarden-config']);
    expect(fromServer.metadata.annotations['keywarden.dev/status']).toBe('injected');
  });

  it('alerts and dashboard use only metric names the code exports', async () => {
    // What each part's registry really holds (collect callbacks, which read the stores, are not run).
    const registries = [
      new ControllerMetrics(new WorkQueue(), () => []).registry,
      new WebhookMetrics().registry,
      new ValidatorMetrics({} as KeyStore, { perKey: { enabled: true, maxKeys: 10 } }).registry,
    ];
    const auditRegistry = new Registry();
    registerAuditMetrics(auditRegistry, {} as Pick<ParquetAuditSink, 'stats'>);
    registries.push(auditRegistry);
    const exported = new Set(registries.flatMap((r) => r.getMetricsAsArray().map((m) => m.name)));
    const all = docs(await render(OPTION_SETS['monitoring on']));
    const rule = find(all, 'PrometheusRule', FULLNAME);
    const exprs: string[] = rule.spec.groups.flatMap((g: Doc) => g.rules.map((r: Doc) => r.expr as string));
    const dashboard = JSON.parse(find(all, 'ConfigMap', `${FULLNAME}-dashboard`).data['keywarden.json']);
    const walk = (p: Doc): string[] => [
      ...(p.targets ?? []).map((t: Doc) => t.expr),
      ...(p.panels ?? []).flatMap(walk),
    ];
    exprs.push(...dashboard.panels.flatMap(walk));
    const used = new Set<string>();
    for (const e of exprs)
      for (const m of e.matchAll(/\b((?:keywarden|controller_runtime|workqueue)_[a-z_]+)\b/g))
        used.add(m[1] as string);
    expect(used.size).toBeGreaterThan(10);
    const missing = [...used].filter(
      (m) => !exported.has(m) && !exported.has(m.replace(/_(bucket|sum|count)$/, '')),
    );
    expect(missing).toEqual([]);
    // The three alerts the issue names.
    const alerts = rule.spec.groups.flatMap((g: Doc) => g.rules.map((r: Doc) => r.alert));
    expect(alerts).toEqual(
      expect.arrayContaining([
        'KeywardenApiKeyExpiringSoon',
        'KeywardenValidatorKeyStoreStale',
        'KeywardenValidatorDenialsRising',
      ]),
    );
  });

  it.skipIf(!PROMTOOL)('promtool accepts the rules, and the three alerts fire when they should', async () => {
    const rule = find(docs(await render(OPTION_SETS['monitoring on'])), 'PrometheusRule', FULLNAME);
    const dir = mkdtempSync(join(tmpdir(), 'kw-rules-'));
    writeFileSync(join(dir, 'rules.yaml'), stringify({ groups: rule.spec.groups }));
    const check = await run(PROMTOOL, ['check', 'rules', join(dir, 'rules.yaml')]);
    expect(check.stdout + check.stderr).toMatch(/SUCCESS: \d+ rules found/);
    expect(check.code).toBe(0);
    // The firing logic (annotations are checked above, left out of the unit tests).
    const bare = rule.spec.groups.map((g: Doc) => ({
      ...g,
      rules: g.rules.map(({ annotations: _, ...r }: Doc) => r),
    }));
    writeFileSync(join(dir, 'logic.yaml'), stringify({ groups: bare }));
    const series = (s: string, values: string) => ({ series: s, values });
    const tests = {
      rule_files: ['logic.yaml'],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: [
            // promtool's clock starts at 0: one key expires 3 days in, the other a year in.
            series(
              'keywarden_apikey_expiry_timestamp_seconds{namespace="team",name="soon",key_id="a1"}',
              '259200x200',
            ),
            series(
              'keywarden_apikey_expiry_timestamp_seconds{namespace="team",name="later",key_id="b2"}',
              '31536000x200',
            ),
          ],
          alert_rule_test: [
            { eval_time: '30m', alertname: 'KeywardenApiKeyExpiringSoon', exp_alerts: [] },
            {
              eval_time: '90m',
              alertname: 'KeywardenApiKeyExpiringSoon',
              exp_alerts: [
                { exp_labels: { severity: 'warning', namespace: 'team', name: 'soon', key_id: 'a1' } },
              ],
            },
          ],
        },
        {
          interval: '1m',
          input_series: [
            // api-1 last heard from the API server at t=60s; api-2 hears from it every minute;
            // api-3 has never listed (0: the NotSynced alert's case, not this one).
            series(
              'keywarden_validator_key_store_last_update_timestamp_seconds{namespace="team",pod="api-1"}',
              '60x40',
            ),
            series(
              'keywarden_validator_key_store_last_update_timestamp_seconds{namespace="team",pod="api-2"}',
              '0+60x40',
            ),
            series(
              'keywarden_validator_key_store_last_update_timestamp_seconds{namespace="team",pod="api-3"}',
              '0x40',
            ),
          ],
          alert_rule_test: [
            { eval_time: '12m', alertname: 'KeywardenValidatorKeyStoreStale', exp_alerts: [] },
            {
              eval_time: '20m',
              alertname: 'KeywardenValidatorKeyStoreStale',
              exp_alerts: [{ exp_labels: { severity: 'critical', namespace: 'team', pod: 'api-1' } }],
            },
          ],
        },
        {
          interval: '1m',
          input_series: [
            // 0.1 denials/s for 7 hours, then 1/s; steady allows all along.
            series(
              'keywarden_validator_decisions_total{namespace="team",environment="production",result="deny",reason="key_invalid",door="proxy",pod="api-1"}',
              '0+6x420 2526+60x40',
            ),
            series(
              'keywarden_validator_decisions_total{namespace="team",environment="production",result="allow",reason="ok",door="proxy",pod="api-1"}',
              '0+600x460',
            ),
          ],
          alert_rule_test: [
            { eval_time: '415m', alertname: 'KeywardenValidatorDenialsRising', exp_alerts: [] },
            {
              eval_time: '450m',
              alertname: 'KeywardenValidatorDenialsRising',
              exp_alerts: [
                { exp_labels: { severity: 'warning', namespace: 'team', environment: 'production' } },
              ],
            },
          ],
        },
      ],
    };
    writeFileSync(join(dir, 'tests.yaml'), stringify(tests));
    const t = await run(PROMTOOL, ['test', 'rules', join(dir, 'tests.yaml')]);
    expect(t.stdout + t.stderr).toContain('SUCCESS');
    expect(t.code).toBe(0);
  });

  it('every flag the chart passes exists in the keywarden CLI', async () => {
    const flagsOf = (cmd: string) =>
      new Set(
        [
          ...execFileSync(process.execPath, ['src/cli/main.ts', cmd, '--help'], {
            encoding: 'utf8',
          }).matchAll(/--[a-z][a-z-]+/g),
        ].map((m) => m[0]),
      );
    for (const set of [
      OPTION_SETS.default,
      OPTION_SETS['cert-manager TLS'],
      OPTION_SETS['validators and JWT audiences'],
      OPTION_SETS['controller scoped'],
    ] as string[][]) {
      const all = docs(await render(set));
      for (const component of ['controller', 'webhook']) {
        const [sub, ...args]: string[] = find(all, 'Deployment', `${FULLNAME}-${component}`).spec.template
          .spec.containers[0].args;
        expect(sub).toBe(component);
        const known = flagsOf(component);
        const unknown = args.map((a) => a.split('=')[0] as string).filter((f) => !known.has(f));
        expect(
          unknown,
          `${component}: flags the CLI does not know (wire them, see src/injector/index.ts)`,
        ).toEqual([]);
      }
    }
  });
});

describe('docs/install.md', () => {
  const doc = readFileSync('docs/install.md', 'utf8');
  const yamlBlocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] as string);

  it('the manual sidecar snippet is a valid validator configuration and valid objects for the API server', async () => {
    const section = doc.slice(
      doc.indexOf('<!-- manual-sidecar-begin -->'),
      doc.indexOf('<!-- manual-sidecar-end -->'),
    );
    const yaml = /```yaml\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
    const objects = docs(yaml);
    expect(objects.map((o) => o.kind)).toEqual(['ConfigMap', 'Deployment', 'Service']);
    const loaded = parseConfig(objects[0]?.data['validator.yaml']);
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
    const r = await kubectl(['apply', '--dry-run=server', '-n', TEAM, '-f', '-'], yaml);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('the injection example is injected, and its routes compose into a valid configuration', async () => {
    const example = yamlBlocks
      .map(docs)
      .find((objs) =>
        objs.some(
          (o) =>
            o.kind === 'Deployment' &&
            o.metadata.name === 'payments-api' &&
            o.spec.template.metadata.annotations,
        ),
      );
    if (!example) throw new Error('no injection example in docs/install.md');
    const deployment = example.find((o) => o.kind === 'Deployment') as Doc;
    const routes = (example.find((o) => o.kind === 'ConfigMap') as Doc).data['routes.yaml'];
    const parsed = parseInjectorConfig('image: ghcr.io/keywarden/keywarden:0.1.0');
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
    const outcome = computeInjection(
      { apiVersion: 'v1', kind: 'Pod', ...deployment.spec.template },
      'payments',
      parsed.value,
    );
    if (outcome.action !== 'inject') throw new Error(JSON.stringify(outcome));
    const init = outcome.patch.find((o) => o.path === '/spec/initContainers')?.value as Doc[];
    const composed = composeValidatorConfig(init[0]?.env[0].value, routes, 'ConfigMap payments-routes');
    expect(composed.ok).toBe(true);
    const r = await kubectl(
      ['apply', '--dry-run=server', '-n', TEAM, '-f', '-'],
      example
        .filter((o) => o.kind !== 'Deployment')
        .map((o) => stringify({ ...o, metadata: { ...o.metadata, namespace: TEAM } }))
        .join('---\n'),
    );
    expect(r.stderr).toBe('');
  });
});

describe('least privilege, checked by the API server after really applying the RBAC objects', () => {
  const sa = (ns: string, name: string) => `system:serviceaccount:${ns}:${name}`;
  const VALIDATOR = sa(TEAM, 'keywarden-validator');
  const APP = sa(TEAM, 'payments-api');
  const CONTROLLER = sa(NS, `${FULLNAME}-controller`);
  const WEBHOOK = sa(NS, `${FULLNAME}-webhook`);

  /** Every (group, resource, verb, name) the subject may use in `namespace`, as the server computes it. */
  async function rules(user: string, namespace: string, groups: string[] = []): Promise<string[]> {
    const review = {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SelfSubjectRulesReview',
      spec: { namespace },
    };
    const out = await kubectlOk(
      [
        'create',
        '--validate=false',
        '-o',
        'json',
        '-f',
        '-',
        `--as=${user}`,
        ...groups.map((g) => `--as-group=${g}`),
      ],
      JSON.stringify(review),
    );
    const status = JSON.parse(out).status as {
      resourceRules: {
        verbs: string[];
        apiGroups?: string[];
        resources?: string[];
        resourceNames?: string[];
      }[];
      incomplete: boolean;
    };
    expect(status.incomplete).toBe(false);
    const set = new Set<string>();
    for (const r of status.resourceRules) {
      for (const g of r.apiGroups ?? [''])
        for (const res of r.resources ?? [])
          for (const v of r.verbs)
            for (const n of r.resourceNames?.length ? r.resourceNames : ['*'])
              set.add(`${g || 'core'} ${res} ${v} ${n}`);
    }
    // What every authenticated user may do (system:basic-user): ask about its own permissions.
    return [...set]
      .filter((x) => !/^(authorization|authentication)\.k8s\.io self\w+ create \*$/.test(x))
      .sort();
  }

  const canI = async (user: string, args: string[]) =>
    (await kubectl(['auth', 'can-i', ...args, `--as=${user}`])).stdout.trim();

  beforeAll(async () => {
    const all = docs(await render(OPTION_SETS['validators and JWT audiences']));
    const rbac = all.filter((d) =>
      ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'].includes(d.kind),
    );
    await kubectlOk(['apply', '-f', '-'], rbac.map((d) => stringify(d)).join('---\n'));
  });

  it('the validator reads Secrets in the namespaces it serves and patches ApiKey status there: nothing else', async () => {
    const expected = [
      'core secrets get *',
      'core secrets list *',
      'core secrets watch *',
      'keywarden.dev apikeys get *',
      'keywarden.dev apikeys/status get *',
      'keywarden.dev apikeys/status patch *',
    ];
    await expect.poll(() => rules(VALIDATOR, TEAM), { timeout: 10_000 }).toEqual(expected);
    // The app's own service account (shared by the app container) gets nothing: injected sidecars use
    // the keywarden-validator token, mounted into the sidecar only.
    expect(await rules(APP, TEAM)).toEqual([]);
    // In the release namespace only the public keys hash records are signed with: no signing key, no
    // delivery Secret.
    expect(await rules(VALIDATOR, NS)).toEqual([
      'core configmaps get keywarden-record-keys',
      'core configmaps list keywarden-record-keys',
      'core configmaps watch keywarden-record-keys',
    ]);
    expect(await rules(VALIDATOR, OTHER)).toEqual([]);
  });

  it('kubectl auth can-i agrees, verb by verb', async () => {
    expect(await canI(VALIDATOR, ['list', 'secrets', '-n', TEAM])).toBe('yes');
    expect(await canI(VALIDATOR, ['watch', 'secrets', '-n', TEAM])).toBe('yes');
    expect(
      await canI(VALIDATOR, ['patch', 'apikeys.keywarden.dev', '--subresource=status', '-n', TEAM]),
    ).toBe('yes');
    expect(await canI(VALIDATOR, ['get', 'secret/keywarden-delivery-team-key', '-n', NS])).toBe('no');
    expect(await canI(VALIDATOR, ['list', 'secrets', '-n', NS])).toBe('no');
    expect(await canI(VALIDATOR, ['list', 'secrets', '-n', OTHER])).toBe('no');
    expect(await canI(VALIDATOR, ['list', 'secrets', '--all-namespaces'])).toBe('no');
    expect(await canI(VALIDATOR, ['create', 'secrets', '-n', TEAM])).toBe('no');
    expect(await canI(VALIDATOR, ['update', 'apikeys.keywarden.dev', '-n', TEAM])).toBe('no');
    expect(await canI(VALIDATOR, ['patch', 'apikeys.keywarden.dev', '-n', TEAM])).toBe('no');
    expect(await canI(VALIDATOR, ['get', 'secret/validator-jwt', '-n', NS])).toBe('no');
  });

  it('a list or watch narrowed to one name by a field selector is allowed by resourceNames (as the informers ask)', async () => {
    const hook = await kubectl([
      'get',
      'mutatingwebhookconfigurations',
      '--field-selector',
      `metadata.name=${FULLNAME}-injection`,
      `--as=${WEBHOOK}`,
    ]);
    expect(hook.stderr).not.toMatch(/forbidden/i);
    expect((await kubectl(['get', 'mutatingwebhookconfigurations', `--as=${WEBHOOK}`])).stderr).toMatch(
      /forbidden/i,
    );
  });

  it('the controller: ApiKeys, hash and consumer Secrets and Events everywhere, its Lease only at home', async () => {
    const cluster = [
      'core secrets create *',
      'core secrets delete *',
      'core secrets get *',
      'core secrets list *',
      'core secrets update *',
      'core secrets watch *',
      'events.k8s.io events create *',
      'keywarden.dev apikeypolicies get *',
      'keywarden.dev apikeypolicies list *',
      'keywarden.dev apikeypolicies watch *',
      'keywarden.dev apikeys get *',
      'keywarden.dev apikeys list *',
      'keywarden.dev apikeys patch *',
      'keywarden.dev apikeys update *',
      'keywarden.dev apikeys watch *',
      'keywarden.dev apikeys/finalizers update *',
      'keywarden.dev apikeys/status patch *',
    ];
    await expect.poll(() => rules(CONTROLLER, TEAM), { timeout: 10_000 }).toEqual(cluster);
    expect(await rules(CONTROLLER, NS)).toEqual(
      [
        ...cluster,
        'core configmaps create *',
        'core configmaps get keywarden-record-keys',
        'core configmaps update keywarden-record-keys',
        'coordination.k8s.io leases create *',
        'coordination.k8s.io leases get keywarden-controller',
        'coordination.k8s.io leases update keywarden-controller',
      ].sort(),
    );
    expect(await canI(CONTROLLER, ['delete', 'apikeys.keywarden.dev', '-n', TEAM])).toBe('no');
    expect(await canI(CONTROLLER, ['get', 'leases', '-n', TEAM])).toBe('no');
  });

  it('the webhook: the policy, SubjectAccessReviews, its own TLS Secret and its own webhook configurations', async () => {
    const cluster = [
      'authorization.k8s.io subjectaccessreviews create *',
      'keywarden.dev apikeypolicies get *',
      'keywarden.dev apikeypolicies list *',
      'keywarden.dev apikeypolicies watch *',
      ...['get', 'list', 'patch', 'watch'].flatMap((v) => [
        `admissionregistration.k8s.io mutatingwebhookconfigurations ${v} ${FULLNAME}`,
        `admissionregistration.k8s.io mutatingwebhookconfigurations ${v} ${FULLNAME}-injection`,
        `admissionregistration.k8s.io validatingwebhookconfigurations ${v} ${FULLNAME}`,
      ]),
    ].sort();
    await expect.poll(() => rules(WEBHOOK, TEAM), { timeout: 10_000 }).toEqual(cluster);
    expect(await rules(WEBHOOK, NS)).toEqual(
      [
        ...cluster,
        'core secrets create *',
        `core secrets get ${FULLNAME}-webhook-tls`,
        `core secrets update ${FULLNAME}-webhook-tls`,
      ].sort(),
    );
    expect(await canI(WEBHOOK, ['get', 'secret/keywarden-delivery-x', '-n', NS])).toBe('no');
    expect(await canI(WEBHOOK, ['patch', 'mutatingwebhookconfiguration/someone-elses'])).toBe('no');
  });

  it('revealing needs no right in the release namespace: the edit role patches the ApiKey', async () => {
    const user = 'alice';
    await kubectlOk([
      'create',
      'rolebinding',
      'alice-edit',
      // The chart's role that `edit` aggregates (this control plane runs no aggregation controller).
      `--clusterrole=${FULLNAME}-edit`,
      `--user=${user}`,
      '-n',
      TEAM,
    ]);
    await expect
      .poll(() => canI(user, ['patch', 'apikeys.keywarden.dev', '-n', TEAM]), { timeout: 10_000 })
      .toBe('yes');
    expect(await rules(user, NS)).toEqual([]);
    expect(await canI(user, ['get', 'secrets', '-n', NS])).toBe('no');
  });
});

describe('values removed for security, with the migration in the message', () => {
  it.each([
    [`validator.namespaces[0].name=${TEAM}`, `validator.namespaces[0].serviceAccounts[0]=payments-api`],
    [`validator.signingKeySecret.namespace=${NS}`, 'validator.signingKeySecret.name=validator-jwt'],
    ['reveal.subjects[0].kind=Group', 'reveal.subjects[0].name=key-custodians'],
  ])('%s fails the install', async (...set) => {
    const r = await run(helmPath, [
      'template',
      RELEASE,
      CHART,
      '-n',
      NS,
      ...set.flatMap((x) => ['--set', x]),
    ]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/is gone|no longer/);
  });
});
