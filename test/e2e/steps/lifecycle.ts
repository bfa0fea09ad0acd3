// Steps 11-13 and 15: failover, least privilege, upgrade and uninstall.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { chartInstallArgs } from '../../../src/cli/dev/demo.ts';
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
} from '../../support/e2e/cluster.ts';
import { applyKey, demoState, fromHost, hashSecrets, keys, leaseHolder, waitKeysReady } from './shared.ts';

// The chart on main before the node e2e work (issue 13): the release the upgrade step starts from.
const PREVIOUS_CHART_REF = '197fec429b9e452793586c2efc0beea4a5d12e2a';

/** The leader pod is killed: another takes the lease, no key lost or minted twice. */
export async function controllerFailover(): Promise<void> {
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
}

/** Pods run with only their chart ServiceAccounts, which cannot reach beyond their business. */
export async function chartAccountsOnly(): Promise<void> {
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
}

/** helm upgrade from the chart on main while a client keeps calling with a live key. */
export async function upgradeFromMain(): Promise<void> {
  const ref = process.env.KEYWARDEN_E2E_PREVIOUS_REF ?? PREVIOUS_CHART_REF;
  const dir = mkdtempSync(join(tmpdir(), 'keywarden-chart-'));
  try {
    execFileSync('bash', ['-c', `git -C "${ROOT}" archive "${ref}" charts crds | tar -x -C "${dir}"`]);
    const before = await hashSecrets();
    // Keys stay live: a client calls the demo API from the host all along.
    const statuses: number[] = [];
    // What each refused or failed request met (a failed connection carries the namespace's state).
    const failures: string[] = [];
    let live = true;
    const traffic = (async () => {
      while (live) {
        const status = await fromHost('/v1/devices/1', keys.dev).then(
          (r) => r.status,
          (err: Error) => {
            failures.push(err.message);
            return 0;
          },
        );
        statuses.push(status);
        if (status !== 0 && status !== 200 && failures.length < 5)
          failures.push(`status ${status} at ${new Date().toISOString()}\n${await demoState()}`);
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
      `every request during the upgrade was allowed; what the failed ones met:\n${failures.slice(0, 3).join('\n---\n')}`,
    ).toEqual([]);
    await eventually('the key still validates', 60_000, async () =>
      (await fromHost('/v1/devices/1', keys.dev)).status === 200 ? true : undefined,
    );
    const history = await helmOk(['history', RELEASE, '-n', OPERATOR_NS, '-o', 'json']);
    expect(JSON.parse(history).length).toBeGreaterThanOrEqual(3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** helm uninstall leaves only what docs/install.md documents. */
export async function uninstallClean(): Promise<void> {
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
}
