import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';
import {
  HASH_RECORD_KEY,
  type HashRecord,
  hashSecretName,
  parseHashRecord,
} from '../../../src/api/hash-record.ts';
import type { ApiKeySpec } from '../../../src/api/index.ts';
import type { LiveApiKey } from '../../../src/controller/reconcile.ts';
import { isNotFound, type KubeRest } from '../../../src/kube/rest.ts';
import { problemsLine } from '../../../src/rules/index.ts';

const MAIN = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url));
export const OPERATOR_NS = 'keywarden-system';

export const apiKeyPath = (ns: string, name?: string) =>
  `/apis/keywarden.dev/v1alpha1/namespaces/${ns}/apikeys${name ? `/${name}` : ''}`;

export async function ensureNamespace(rest: KubeRest, name: string): Promise<void> {
  try {
    await rest.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  } catch (err) {
    if (!(err as { status?: number }).status || (err as { status: number }).status !== 409) throw err;
  }
}

export function createApiKey(
  rest: KubeRest,
  ns: string,
  name: string,
  spec: Partial<ApiKeySpec> = {},
): Promise<LiveApiKey> {
  return rest.create<LiveApiKey>(apiKeyPath(ns), {
    apiVersion: 'keywarden.dev/v1alpha1',
    kind: 'ApiKey',
    metadata: { name },
    spec: { environment: 'production', permissions: ['devices:read'], ...spec },
  });
}

export function patchSpec(
  rest: KubeRest,
  ns: string,
  name: string,
  spec: Record<string, unknown>,
): Promise<LiveApiKey> {
  return rest.patch<LiveApiKey>(apiKeyPath(ns, name), { spec }, 'merge');
}

export function getApiKey(rest: KubeRest, ns: string, name: string): Promise<LiveApiKey> {
  return rest.get<LiveApiKey>(apiKeyPath(ns, name));
}

export async function getRecord(rest: KubeRest, ns: string, name: string): Promise<HashRecord | undefined> {
  try {
    const s = await rest.get<{ data?: Record<string, string> }>(
      `/api/v1/namespaces/${ns}/secrets/${hashSecretName(name)}`,
    );
    const text = Buffer.from(s.data?.[HASH_RECORD_KEY] ?? '', 'base64').toString('utf8');
    const r = parseHashRecord(text);
    if (!r.ok) throw new Error(problemsLine(r.problems));
    return r.value;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

export async function secretExists(rest: KubeRest, ns: string, name: string): Promise<boolean> {
  try {
    await rest.get(`/api/v1/namespaces/${ns}/secrets/${name}`);
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

/** Runs the real CLI: `keywarden reveal NAME -n NS`. */
export function revealCli(
  ns: string,
  name: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [MAIN, 'reveal', name, '-n', ns, '--operator-namespace', OPERATOR_NS],
      { env: { ...process.env, KUBECONFIG: inject('kubeconfigPath') } },
      (err, stdout, stderr) => {
        const code = err ? ((err as { code?: number }).code ?? 1) : 0;
        resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
      },
    );
  });
}
