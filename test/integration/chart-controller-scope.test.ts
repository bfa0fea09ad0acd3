import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { deliverySecretName, hashSecretName } from '../../src/api/hash-record.ts';
import { createApiKey, getApiKey, secretExists } from '../support/kube/apikeys.ts';
import { adminRest } from '../support/kube/client.ts';
import { applyCrds, buildHelm, deleteReleases, kubectl, kubectlOk } from '../support/kube/kubectl.ts';
import { eventually, KeywardenProcess } from '../support/processes/keywarden-process.ts';

// Least privilege when the controller is scoped (controller.watchNamespaces): the chart binds its
// rules with RoleBindings in the watched namespaces and the release namespace only, Secret writes in
// the listed consumer-Secret namespaces, and only the cluster-scoped ApiKeyPolicy read cluster-wide.
// Proven with the API server's own authorizer (kubectl auth can-i) after really applying the RBAC,
// and by running the real controller with that ServiceAccount's token: it works in its namespaces
// and cannot write a Secret anywhere else, whatever an ApiKey asks for.

type Doc = { kind: string; metadata: { name: string; namespace?: string }; [k: string]: unknown };

const CHART = 'charts/keywarden';
const suffix = randomBytes(3).toString('hex');
const NS = `kw-scope-${suffix}`; // release namespace
const TEAM = `kw-scope-team-${suffix}`; // watched
const CONSUMER = `kw-scope-cons-${suffix}`; // consumer Secrets allowed
const OTHER = `kw-scope-other-${suffix}`; // neither
const SCOPED = `kws-${suffix}`;
const WIDE = `kww-${suffix}`;
const sa = (release: string) => `system:serviceaccount:${NS}:${release}-keywarden-controller`;
let helmPath = '';

function helmTemplate(release: string, set: string[]): string {
  return execFileSync(helmPath, ['template', release, CHART, '-n', NS, ...set.flatMap((s) => ['--set', s])], {
    encoding: 'utf8',
  });
}

const RBAC_KINDS = ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'];
function rbacOf(yaml: string): Doc[] {
  return parseAllDocuments(yaml)
    .map((d) => d.toJS() as Doc | null)
    .filter((d): d is Doc => d !== null && RBAC_KINDS.includes(d.kind));
}

/** The controller's objects only: other parts' RBAC is not what this file is about. */
const controllerOnly = (docs: Doc[]) => docs.filter((d) => d.metadata.name.includes('-controller'));

const canI = async (user: string, ...args: string[]) =>
  (await kubectl(['auth', 'can-i', ...args, `--as=${user}`])).stdout.trim();

beforeAll(async () => {
  helmPath = buildHelm();
  await applyCrds();
  for (const ns of [NS, TEAM, CONSUMER, OTHER]) await kubectlOk(['create', 'namespace', ns]);
  const scoped = rbacOf(
    helmTemplate(SCOPED, [
      `controller.watchNamespaces[0]=${TEAM}`,
      `controller.consumerSecretNamespaces[0]=${CONSUMER}`,
    ]),
  );
  const wide = rbacOf(helmTemplate(WIDE, []));
  await kubectlOk(['apply', '-f', '-'], [...scoped, ...wide].map((d) => stringify(d)).join('---\n'));
}, 600_000);

afterAll(async () => {
  await deleteReleases([SCOPED, WIDE], [NS, TEAM, CONSUMER, OTHER]);
});

describe('helm template with controller.watchNamespaces', () => {
  it('binds the controller with RoleBindings only where it works; cluster-wide only the ApiKeyPolicy read', () => {
    const docs = controllerOnly(
      rbacOf(
        helmTemplate(SCOPED, [
          `controller.watchNamespaces[0]=${TEAM}`,
          `controller.consumerSecretNamespaces[0]=${CONSUMER}`,
        ]),
      ),
    );
    const bindings = docs
      .filter((d) => d.kind.endsWith('Binding'))
      .map((d) => `${d.kind} ${d.metadata.namespace ?? '(cluster)'} ${d.metadata.name}`)
      .sort();
    expect(bindings).toEqual(
      [
        `ClusterRoleBinding (cluster) ${SCOPED}-keywarden-controller-policy`,
        `RoleBinding ${TEAM} ${SCOPED}-keywarden-controller`,
        `RoleBinding ${NS} ${SCOPED}-keywarden-controller-delivery`,
        `RoleBinding ${NS} ${SCOPED}-keywarden-controller-leader`,
        `RoleBinding ${CONSUMER} ${SCOPED}-keywarden-controller-consumer-secrets`,
      ].sort(),
    );
    const policy = docs.find(
      (d) => d.metadata.name === `${SCOPED}-keywarden-controller-policy` && d.kind === 'ClusterRole',
    );
    expect(policy?.rules).toEqual([
      { apiGroups: ['keywarden.dev'], resources: ['apikeypolicies'], verbs: ['get', 'list', 'watch'] },
    ]);
  });
});

describe('kubectl auth can-i on the real API server', () => {
  it('scoped: Secrets in the watched and release namespaces, writes in the consumer namespace, nothing elsewhere', async () => {
    const c = sa(SCOPED);
    await eventually(
      async () => ((await canI(c, 'get', 'secrets', '-n', TEAM)) === 'yes' ? true : undefined),
      10_000,
    );
    // The issue's own check: no Secret in kube-system (was "yes" with the ClusterRoleBinding).
    expect(await canI(c, 'get', 'secrets', '-n', 'kube-system')).toBe('no');
    expect(await canI(c, 'list', 'secrets', '--all-namespaces')).toBe('no');
    for (const verb of ['get', 'list', 'watch', 'create', 'update', 'delete'])
      expect(await canI(c, verb, 'secrets', '-n', TEAM), `${verb} secrets in ${TEAM}`).toBe('yes');
    for (const verb of ['get', 'list', 'watch', 'create', 'delete'])
      expect(await canI(c, verb, 'secrets', '-n', NS), `${verb} secrets in ${NS}`).toBe('yes');
    for (const verb of ['get', 'create', 'update', 'delete'])
      expect(await canI(c, verb, 'secrets', '-n', CONSUMER), `${verb} secrets in ${CONSUMER}`).toBe('yes');
    // Consumer Secrets are written by name: the namespace's other Secrets cannot be listed.
    expect(await canI(c, 'list', 'secrets', '-n', CONSUMER)).toBe('no');
    for (const ns of [OTHER, 'kube-system', 'default']) {
      for (const verb of ['get', 'list', 'create', 'update', 'delete'])
        expect(await canI(c, verb, 'secrets', '-n', ns), `${verb} secrets in ${ns}`).toBe('no');
      expect(await canI(c, 'list', 'apikeys.keywarden.dev', '-n', ns)).toBe('no');
      expect(await canI(c, 'create', 'events.events.k8s.io', '-n', ns)).toBe('no');
    }
    expect(await canI(c, 'patch', 'apikeys.keywarden.dev', '--subresource=status', '-n', TEAM)).toBe('yes');
    expect(await canI(c, 'create', 'events.events.k8s.io', '-n', TEAM)).toBe('yes');
    expect(await canI(c, 'watch', 'apikeypolicies.keywarden.dev')).toBe('yes');
    expect(await canI(c, 'update', 'leases.coordination.k8s.io/keywarden-controller', '-n', NS)).toBe('yes');
  });

  it('unscoped: unchanged, the controller serves every namespace (Secrets included, by design)', async () => {
    const c = sa(WIDE);
    await eventually(
      async () => ((await canI(c, 'get', 'secrets', '-n', TEAM)) === 'yes' ? true : undefined),
      10_000,
    );
    expect(await canI(c, 'get', 'secrets', '-n', 'kube-system')).toBe('yes');
    expect(await canI(c, 'list', 'secrets', '--all-namespaces')).toBe('yes');
    expect(await canI(c, 'list', 'apikeys.keywarden.dev', '--all-namespaces')).toBe('yes');
    expect(await canI(c, 'delete', 'apikeys.keywarden.dev', '-n', TEAM)).toBe('no');
  });
});

describe('the real controller with the scoped ServiceAccount', () => {
  let controller: KeywardenProcess | undefined;

  afterAll(async () => {
    await controller?.stop();
  });

  it('mints keys in its namespace with only those rights, and cannot write a Secret outside them', async () => {
    // A kubeconfig with the ServiceAccount's own token: the controller runs as the chart would run it.
    const token = (
      await kubectlOk(['create', 'token', `${SCOPED}-keywarden-controller`, '-n', NS, '--duration=1h'])
    ).trim();
    const admin = JSON.parse(await kubectlOk(['config', 'view', '--raw', '--minify', '-o', 'json'])) as {
      clusters: { cluster: Record<string, string> }[];
    };
    const dir = mkdtempSync(join(tmpdir(), 'kw-scope-'));
    const kubeconfig = join(dir, 'kubeconfig.json');
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: admin.clusters[0]?.cluster }],
        users: [{ name: 'controller', user: { token } }],
        contexts: [{ name: 'c', context: { cluster: 'c', user: 'controller' } }],
        'current-context': 'c',
      }),
    );
    controller = new KeywardenProcess([
      'controller',
      '--kubeconfig',
      kubeconfig,
      '--operator-namespace',
      NS,
      '--namespaces',
      TEAM,
      '--no-leader-elect',
      '--admin-port',
      '0',
    ]);
    await controller.waitForLog('caches synced', 90_000);
    const logTail = () => controller?.lines.slice(-20).join('\n');

    try {
      const rest = adminRest();
      await createApiKey(rest, TEAM, 'consumed', {
        delivery: { secretRef: { name: 'app-key', namespace: CONSUMER } },
      });
      // A tenant who may edit ApiKeys in TEAM asks for a consumer Secret in a namespace outside the scope.
      await createApiKey(rest, TEAM, 'grabby', {
        delivery: { secretRef: { name: 'planted', namespace: OTHER } },
      });
      await eventually(
        async () => ((await getApiKey(rest, TEAM, 'consumed')).status?.state === 'Active' ? true : undefined),
        60_000,
        250,
      );
      expect(await secretExists(rest, TEAM, hashSecretName('consumed'))).toBe(true);
      expect(await secretExists(rest, NS, deliverySecretName(TEAM, 'consumed'))).toBe(true);
      expect(await secretExists(rest, CONSUMER, 'app-key')).toBe(true);
      // The out-of-scope write is refused by the API server (the controller retries with backoff).
      await eventually(
        async () =>
          controller?.lines.some((l) => l.includes(`namespaces/${OTHER}/secrets`) && /forbidden/i.test(l))
            ? true
            : undefined,
        60_000,
        250,
      );
      expect(await secretExists(rest, OTHER, 'planted')).toBe(false);
      expect((await getApiKey(rest, TEAM, 'grabby')).status?.state).not.toBe('Active');
      // Nothing else was refused: the scoped rights are enough for the watched namespace's work.
      const refused = controller.lines.filter(
        (l) => /forbidden/i.test(l) && !l.includes(`namespaces/${OTHER}/secrets`),
      );
      expect(refused).toEqual([]);
      expect(controller.child.exitCode).toBeNull();
    } catch (err) {
      throw new Error(`${(err as Error).message}\ncontroller log:\n${logTail()}`);
    }
  }, 180_000);
});
