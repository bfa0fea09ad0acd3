import { expect } from 'vitest';
import {
  demoApiManifests,
  forwardAuthValidatorManifests,
  list,
  nginxManifests,
} from '../../../src/cli/dev/demo.ts';
import { SIDECAR_NAME } from '../../../src/injector/inject.ts';
import {
  DEMO_NS,
  eventually,
  getJson,
  kubectlOk,
  OPERATOR_NS,
  reveal,
  runInPod,
} from '../../support/e2e/cluster.ts';
import { applyKey, demoService, fromHost, keys, waitKeysReady } from './shared.ts';

/** The demo API gets the validator sidecar; its Service is recorded for the steps after. */
export async function injectSidecar(): Promise<void> {
  await kubectlOk(['-n', DEMO_NS, 'apply', '-f', '-'], list(demoApiManifests('development')));
  await kubectlOk(['-n', DEMO_NS, 'rollout', 'status', 'deploy/demo-api', '--timeout=180s']);
  const pods = await getJson(['-n', DEMO_NS, 'get', 'pods', '-l', 'app=demo-api']);
  const containers = pods.items[0].spec.containers.map((c: { name: string }) => c.name);
  expect(containers).toContain(SIDECAR_NAME);
  const svc = await getJson(['-n', DEMO_NS, 'get', 'svc', 'demo-api']);
  Object.assign(demoService, { clusterIp: svc.spec.clusterIP, nodePort: svc.spec.ports[0].nodePort });
}

/** A client pod: 200 with identity, 401, 403 and 429, no answer carrying the key. */
export async function requestsFromPod(): Promise<void> {
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
}

/** The host through the NodePort: the same answers. */
export async function requestsFromHost(): Promise<void> {
  const allowed = await fromHost('/v1/devices/7', keys.dev);
  expect(allowed.status).toBe(200);
  expect(JSON.parse(allowed.body).identity['x-keywarden-apikey-name']).toBe('dev-laptop');
  expect((await fromHost('/v1/devices/7')).status).toBe(401);
  expect((await fromHost('/v1/tickets', keys.dev, 'POST')).status).toBe(403);
}

/** disabled: true is refused within 2 s. */
export async function disableRefused(): Promise<void> {
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
}

/** nginx asks a standalone forward-auth validator. */
export async function nginxForwardAuth(): Promise<void> {
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
}
