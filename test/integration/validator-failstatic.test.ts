import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKubeConfig } from '../../src/kube/config.ts';
import { KubeRest } from '../../src/kube/rest.ts';
import { LocalControlPlane } from '../../src/localcluster/cluster.ts';
import { kubeconfigYaml } from '../../src/localcluster/kubeconfig.ts';
import { freePort } from '../../src/localcluster/ports.ts';
import { ManagedProcess } from '../../src/localcluster/processes.ts';
import { call } from '../support/http/client.ts';
import {
  apiKeyPath,
  createApiKey,
  ensureNamespace,
  getApiKey,
  OPERATOR_NS,
  patchSpec,
} from '../support/kube/apikeys.ts';
import { eventually, KeywardenProcess } from '../support/processes/keywarden-process.ts';
import { type RunningValidator, startValidator, writeConfig } from '../support/validator/cluster.ts';

// Fail-static: the validator keeps answering from its cache while its API server is stopped, and
// serves the changes made meanwhile once it is back. This file runs its own control plane with two
// kube-apiservers on one etcd (as in an HA cluster): the validator talks to A, which the test stops;
// the controller and the test talk to B, so keys can change while A is down.

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const ns = `fs-${randomBytes(3).toString('hex')}`;
let plane: LocalControlPlane;
let apiB: ManagedProcess;
let kubeconfigB = '';
let restB: KubeRest;
let controller: KeywardenProcess;
let v: RunningValidator;

async function startSecondApiServer(): Promise<string> {
  const pki = join(plane.runDir, 'pki');
  const port = await freePort();
  apiB = new ManagedProcess(
    'kube-apiserver-b',
    join(plane.binDir, 'kube-apiserver'),
    [
      `--etcd-servers=${plane.etcdUrl}`,
      `--cert-dir=${pki}`,
      `--tls-cert-file=${join(pki, 'apiserver.crt')}`,
      `--tls-private-key-file=${join(pki, 'apiserver.key')}`,
      `--client-ca-file=${join(pki, 'ca.crt')}`,
      `--secure-port=${port}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      '--service-cluster-ip-range=10.0.0.0/24',
      '--allow-privileged=true',
      '--authorization-mode=RBAC',
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${join(pki, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(pki, 'sa.key')}`,
      '--disable-admission-plugins=ServiceAccount',
    ],
    plane.runDir,
  );
  const file = join(plane.runDir, 'kubeconfig-b');
  writeFileSync(file, kubeconfigYaml(`https://127.0.0.1:${port}`, plane.admin), { mode: 0o600 });
  return file;
}

function run(
  bin: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(bin, args, { env: { ...process.env, ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function mint(name: string): Promise<string> {
  await createApiKey(restB, ns, name, { permissions: ['devices:read'] });
  await eventually(
    async () => ((await getApiKey(restB, ns, name)).status?.state === 'Active' ? true : undefined),
    30_000,
    50,
  );
  const out = await eventually(
    async () => {
      const r = await run(
        process.execPath,
        [MAIN, 'reveal', name, '-n', ns, '--operator-namespace', OPERATOR_NS],
        { KUBECONFIG: kubeconfigB },
      );
      return r.code === 0 ? r : undefined;
    },
    30_000,
    100,
  );
  return out.stdout.trim();
}

const authz = async (key: string) => {
  const r = await call(v.port, {
    path: '/authz/traefik',
    headers: { 'x-api-key': key, 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/v1/devices/1' },
  });
  return r.status === 200 ? 'ok' : (r.json<{ error: { code: string } }>().error.code as string);
};

beforeAll(async () => {
  plane = await LocalControlPlane.start({ controllerManager: false, log: () => {} });
  kubeconfigB = await startSecondApiServer();
  restB = new KubeRest(loadKubeConfig(kubeconfigB));
  await eventually(async () => ((await restB.get<string>('/readyz')) ? true : undefined), 90_000, 250);
  const applied = await run(plane.kubectlPath, ['apply', '--server-side', '-f', 'crds/'], {
    KUBECONFIG: kubeconfigB,
  });
  if (applied.code !== 0) throw new Error(applied.stderr);
  await run(
    plane.kubectlPath,
    ['wait', '--for=condition=Established', '--timeout=60s', 'crd/apikeys.keywarden.dev'],
    { KUBECONFIG: kubeconfigB },
  );
  await ensureNamespace(restB, OPERATOR_NS);
  await ensureNamespace(restB, ns);
  controller = new KeywardenProcess(
    ['controller', '--operator-namespace', OPERATOR_NS, '--namespaces', ns, '--admin-port', '0'],
    { KUBECONFIG: kubeconfigB },
  );
  await controller.waitForLog('became leader');
  const config = writeConfig(`
environment: production
keyStore: { namespaces: [${ns}] }
unmappedRoutes: allow
lastUsed: { enabled: false }
`);
  v = await startValidator(config, { KUBECONFIG: plane.kubeconfigPath });
}, 300_000);

afterAll(async () => {
  await v?.proc.stop();
  await controller?.stop();
  await apiB?.stop();
  await plane?.stop();
});

describe('validator with its API server stopped', () => {
  it('keeps passing valid keys, stays ready, and serves changes made meanwhile once the API server is back', async () => {
    const steady = await mint('steady');
    const toDisable = await mint('to-disable');
    const toDelete = await mint('to-delete');
    for (const k of [steady, toDisable, toDelete]) {
      expect(await eventually(async () => ((await authz(k)) === 'ok' ? 'ok' : undefined), 10_000, 50)).toBe(
        'ok',
      );
    }

    await plane.stopProcess('kube-apiserver');
    // Changes made through the other API server while the validator's is down.
    await patchSpec(restB, ns, 'to-disable', { disabled: true });
    await restB.delete(apiKeyPath(ns, 'to-delete'));
    const fresh = await mint('fresh');
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline) {
      expect(await authz(steady)).toBe('ok');
      await new Promise((r) => setTimeout(r, 250));
    }
    // Fail-static: still the last state it saw; ready all along.
    expect(await authz(toDisable)).toBe('ok');
    expect(await authz(fresh)).toBe('key_unknown');
    expect((await call(v.adminPort, { path: '/readyz' })).status).toBe(200);
    expect((await call(v.adminPort, { path: '/healthz' })).status).toBe(200);
    const metrics = (await call(v.adminPort, { path: '/metrics' })).body;
    // The age of the store's last word from the API server, as the alert computes it (time() - ...).
    const lastUpdate = Number(
      /keywarden_validator_key_store_last_update_timestamp_seconds ([0-9.e+]+)/.exec(metrics)?.[1],
    );
    expect(Date.now() / 1000 - lastUpdate).toBeGreaterThan(4);

    await plane.startProcess('kube-apiserver');
    const restA = new KubeRest(loadKubeConfig(plane.kubeconfigPath));
    await eventually(async () => ((await restA.get<string>('/readyz')) ? true : undefined), 90_000, 250);
    await eventually(
      async () => ((await authz(toDisable)) === 'key_disabled' ? true : undefined),
      60_000,
      200,
    );
    expect(
      await eventually(async () => ((await authz(fresh)) === 'ok' ? 'ok' : undefined), 30_000, 200),
    ).toBe('ok');
    expect(
      await eventually(
        async () => ((await authz(toDelete)) === 'key_unknown' ? 'gone' : undefined),
        30_000,
        200,
      ),
    ).toBe('gone');
    expect(await authz(steady)).toBe('ok');
  });
});
