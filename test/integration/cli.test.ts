import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createApiKey, ensureNamespace, getApiKey, getRecord, OPERATOR_NS } from '../support/kube/apikeys.ts';
import { adminRest } from '../support/kube/client.ts';
import { applyCrds } from '../support/kube/kubectl.ts';
import {
  eventually,
  type KeywardenProcess,
  startControllerProcess,
} from '../support/processes/keywarden-process.ts';

const PLUGIN = fileURLToPath(new URL('../../bin/kubectl-keywarden', import.meta.url));
const rest = adminRest();
let ns = '';
let controller: KeywardenProcess;

/** Runs the kubectl plugin the way kubectl does: `kubectl keywarden ...` finds kubectl-keywarden on PATH. */
function kubectlKeywarden(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const binDir = inject('binDir');
  const pluginDir = fileURLToPath(new URL('../../bin/', import.meta.url));
  return new Promise((resolve) => {
    execFile(
      `${binDir}/kubectl`,
      ['keywarden', ...args],
      {
        env: {
          ...process.env,
          KUBECONFIG: inject('kubeconfigPath'),
          KEYWARDEN_NAMESPACE: OPERATOR_NS,
          PATH: `${pluginDir}:${process.execPath.replace(/\/node$/, '')}:${process.env.PATH}`,
        },
      },
      (err, stdout, stderr) => {
        const code = err ? ((err as { code?: number }).code ?? 1) : 0;
        resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
      },
    );
  });
}

beforeAll(async () => {
  void PLUGIN;
  await applyCrds();
  await ensureNamespace(rest, OPERATOR_NS);
  ns = `cli-${randomBytes(3).toString('hex')}`;
  await ensureNamespace(rest, ns);
  controller = startControllerProcess(ns, ['--no-leader-elect']);
  await controller.waitForLog('controller started');
  await createApiKey(rest, ns, 'prod-admin', {
    environment: 'production',
    type: 'private',
    description: 'Billing back office',
    allowedSources: ['10.0.0.0/8'],
  });
  await createApiKey(rest, ns, 'stg-web', {
    environment: 'staging',
    type: 'public',
    description: 'Web app',
    permissions: [],
  });
  await createApiKey(rest, ns, 'dev-laptop', { environment: 'development', description: 'Laptop' });
  await eventually(async () => {
    const all = await Promise.all(['prod-admin', 'stg-web', 'dev-laptop'].map((n) => getApiKey(rest, ns, n)));
    return all.every((a) => a.status?.state === 'Active' && a.metadata.labels?.['keywarden.dev/state'])
      ? true
      : undefined;
  });
});

afterAll(async () => {
  await controller?.stop();
});

describe('kubectl keywarden', () => {
  it('lists keys as a table with environment, type, state, key hint, expiry and last use', async () => {
    const r = await kubectlKeywarden(['list', '-n', ns]);
    expect(r.code, r.stderr).toBe(0);
    const [header, ...rows] = r.stdout.trim().split('\n');
    expect(header).toMatch(
      /^NAMESPACE\s+NAME\s+ENVIRONMENT\s+TYPE\s+STATE\s+KEY\s+EXPIRES\s+LAST USED\s+DESCRIPTION$/,
    );
    expect(rows).toHaveLength(3);
    expect(r.stdout).toMatch(/prod-admin\s+production\s+private\s+Active\s+kwsk_prod_/);
    expect(r.stdout).toMatch(/stg-web\s+staging\s+public\s+Active\s+kwpk_stg_/);
  });

  it('filters by environment, type and state, and searches id, description and sources', async () => {
    const json = async (args: string[]) => {
      const r = await kubectlKeywarden(['list', '-n', ns, '-o', 'json', ...args]);
      expect(r.code, r.stderr).toBe(0);
      return (JSON.parse(r.stdout) as { name: string }[]).map((k) => k.name).sort();
    };
    expect(await json(['--environment', 'staging'])).toEqual(['stg-web']);
    expect(await json(['--type', 'private'])).toEqual(['dev-laptop', 'prod-admin']);
    expect(await json(['--search', 'back office'])).toEqual(['prod-admin']);
    expect(await json(['--search', '10.0.0.0'])).toEqual(['prod-admin']);
    const id = (await getApiKey(rest, ns, 'dev-laptop')).status?.keyId ?? 'none';
    expect(await json(['--search', id])).toEqual(['dev-laptop']);
    expect(await json(['--state', 'Inactive'])).toEqual([]);
  });

  it('disables and enables a key; the state follows', async () => {
    expect((await kubectlKeywarden(['disable', 'dev-laptop', '-n', ns])).code).toBe(0);
    await eventually(async () =>
      (await getApiKey(rest, ns, 'dev-laptop')).status?.state === 'Inactive' ? true : undefined,
    );
    const listed = await kubectlKeywarden(['list', '-n', ns, '--state', 'Inactive', '-o', 'json']);
    expect(JSON.parse(listed.stdout).map((k: { name: string }) => k.name)).toEqual(['dev-laptop']);
    expect((await kubectlKeywarden(['enable', 'dev-laptop', '-n', ns])).code).toBe(0);
    await eventually(async () =>
      (await getApiKey(rest, ns, 'dev-laptop')).status?.state === 'Active' ? true : undefined,
    );
  });

  it('regenerates: same key id, a new secret to reveal', async () => {
    const before = await getRecord(rest, ns, 'stg-web');
    const r = await kubectlKeywarden(['regenerate', 'stg-web', '-n', ns]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('kubectl keywarden reveal stg-web');
    const after = await eventually(async () => {
      const rec = await getRecord(rest, ns, 'stg-web');
      return rec && rec.rotationGeneration === 1 ? rec : undefined;
    });
    expect(after.keyId).toBe(before?.keyId);
    expect(after.hash).not.toBe(before?.hash);
    const reveal = await eventually(async () => {
      const res = await kubectlKeywarden(['reveal', 'stg-web', '-n', ns]);
      return res.code === 0 ? res : undefined;
    });
    expect(reveal.stdout.trim()).toMatch(/^kwpk_stg_/);
  });

  it('extends the expiry to a chosen number of days', async () => {
    const r = await kubectlKeywarden(['extend', 'prod-admin', '-n', ns, '--days', '30']);
    expect(r.code, r.stderr).toBe(0);
    const ak = await getApiKey(rest, ns, 'prod-admin');
    const days = (Date.parse(ak.spec.expiresAt ?? '') - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29.9);
    expect(days).toBeLessThan(30.1);
  });

  it('exits 3 with a hint for a key that does not exist, 2 for a usage error', async () => {
    const missing = await kubectlKeywarden(['disable', 'nope', '-n', ns]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('kubectl keywarden list');
    const usage = await kubectlKeywarden(['extend', 'prod-admin', '-n', ns, '--days', 'soon']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--days soon');
    const unknown = await kubectlKeywarden(['frobnicate']);
    expect(unknown.code).toBe(2);
  });
});
