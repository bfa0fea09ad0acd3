import { inject } from 'vitest';
import { SECRET_TYPES } from '../../../src/api/metadata.ts';
import { DEMO_NS, getJson, kubectlOk, OPERATOR_NS } from '../../support/e2e/cluster.ts';

/** Keys revealed by the controller step, used by the request steps after it. */
export const keys = { dev: '', staging: '', burst: '' };
/** The demo API's Service, recorded by the inject step. */
export const demoService = { clusterIp: '', nodePort: 0 };

/** A request from the host to the demo API's NodePort. */
export async function fromHost(
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
export async function hashSecrets(): Promise<Map<string, string>> {
  const secrets = await getJson(['-n', DEMO_NS, 'get', 'secrets']);
  const out = new Map<string, string>();
  for (const s of secrets.items)
    if (s.type === SECRET_TYPES.hash) out.set(s.metadata.name, JSON.stringify(s.data));
  return out;
}

export async function leaseHolder(): Promise<string> {
  const lease = await getJson(['-n', OPERATOR_NS, 'get', 'lease', 'keywarden-controller']);
  return (lease.spec?.holderIdentity ?? '') as string;
}

export async function applyKey(name: string, spec: object): Promise<void> {
  await kubectlOk(
    ['-n', DEMO_NS, 'apply', '-f', '-'],
    JSON.stringify({ apiVersion: 'keywarden.dev/v1alpha1', kind: 'ApiKey', metadata: { name }, spec }),
  );
}

export const waitKeysReady = (...names: string[]) =>
  kubectlOk([
    '-n',
    DEMO_NS,
    'wait',
    '--for=condition=Ready',
    '--timeout=120s',
    ...names.map((n) => `apikey/${n}`),
  ]);
