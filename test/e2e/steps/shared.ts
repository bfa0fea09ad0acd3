import { inject } from 'vitest';
import { SECRET_TYPES } from '../../../src/api/metadata.ts';
import { DEMO_NS, getJson, kubectlOk, OPERATOR_NS } from '../../support/e2e/cluster.ts';

/** Keys revealed by the controller step, used by the request steps after it. */
export const keys = { dev: '', staging: '', burst: '' };
/** The demo API's Service, recorded by the inject step. */
export const demoService = { clusterIp: '', nodePort: 0 };

/**
 * A request from the host to the demo API's NodePort. A connection that fails (no HTTP answer) throws
 * with what the demo namespace looked like just then, so a failure says whether the pod was unready,
 * restarted or had no endpoints.
 */
export async function fromHost(
  path: string,
  key?: string,
  method = 'GET',
): Promise<{ status: number; body: string }> {
  let res: Response;
  try {
    res = await fetch(`http://${inject('nodeAddress')}:${demoService.nodePort}${path}`, {
      method,
      headers: key ? { authorization: `Bearer ${key}` } : {},
      signal: AbortSignal.timeout(5_000),
    });
  } catch (err) {
    const reason = (err as Error & { cause?: Error }).cause?.message ?? (err as Error).message;
    throw new Error(
      `${method} ${path} via NodePort ${demoService.nodePort} failed: ${reason}\n${await demoState()}`,
    );
  }
  return { status: res.status, body: await res.text() };
}

/** The demo namespace's pods (ready, restarts), the demo API's endpoints and the latest Events. */
export async function demoState(): Promise<string> {
  const lines: string[] = [`at ${new Date().toISOString()}:`];
  try {
    const pods = await getJson(['-n', DEMO_NS, 'get', 'pods']);
    for (const p of pods.items) {
      const containers = (p.status?.containerStatuses ?? []).map(
        (c: { name: string; ready: boolean; restartCount: number }) =>
          `${c.name} ready=${c.ready} restarts=${c.restartCount}`,
      );
      lines.push(`pod ${p.metadata.name} ${p.status?.phase}: ${containers.join(', ')}`);
    }
    const slices = await getJson([
      '-n',
      DEMO_NS,
      'get',
      'endpointslices',
      '-l',
      'kubernetes.io/service-name=demo-api',
    ]);
    for (const s of slices.items)
      for (const e of s.endpoints ?? [])
        lines.push(`endpoint ${e.addresses?.join(',')} ready=${e.conditions?.ready} (${e.targetRef?.name})`);
    const events = await getJson(['-n', DEMO_NS, 'get', 'events', '--sort-by=.lastTimestamp']);
    for (const e of events.items.slice(-15))
      lines.push(`event ${e.lastTimestamp} ${e.involvedObject?.name} ${e.reason}: ${e.message}`);
  } catch (err) {
    lines.push(`(could not read the namespace: ${(err as Error).message})`);
  }
  return lines.join('\n');
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
