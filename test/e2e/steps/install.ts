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
  reveal,
} from '../../support/e2e/cluster.ts';
import { applyKey, keys, leaseHolder, waitKeysReady } from './shared.ts';

/** Every pod of the chart runs read-only as uid 1000. */
export async function install(): Promise<void> {
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
}

/** The API server calls the webhook through its Service: defaults, then a refusal. */
export async function webhookAdmits(): Promise<void> {
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
    (await kubectl(['apply', '-f', join(ROOT, 'examples/apikeypolicy.yaml')])).code === 0 ? true : undefined,
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
}

/** Two controller replicas, one lease holder; the example keys become Ready and are revealed. */
export async function controllerLeads(): Promise<void> {
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
}
