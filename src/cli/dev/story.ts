import { API_VERSION } from '../../api/index.ts';
import { revealKey } from '../../client/reveal.ts';
import { revealWhenReady } from '../../console/keys.ts';
import { printTable } from '../output.ts';
import { DEMO_NS } from './demo.ts';
import { type DevCluster, say, shown, step } from './session.ts';
import { eventually } from './wait.ts';

// The steps `keywarden dev` shows the same way whether its parts run as processes or as pods.

const EXAMPLE_KEYS = [
  'apikey-production-private.yaml',
  'apikey-staging-public.yaml',
  'apikey-development.yaml',
];

/** The policy and the example ApiKeys, through the webhook; waits until every key is Active. */
export async function applyExamples({ kubectl }: DevCluster): Promise<void> {
  step('applying the policy and the example ApiKeys (the webhook defaults expiry, labels and sources)');
  // Right after install the webhook may not be reachable yet (caBundle, endpoints): ApiKeys fail closed.
  const policy = ['apply', '-f', 'examples/apikeypolicy.yaml'];
  const applied = await eventually('the policy applies through the webhook', 90_000, async () => {
    const r = await kubectl.attempt(policy);
    return r.code === 0 ? r.stdout : undefined;
  });
  process.stdout.write(`${shown('kubectl', policy)}\n${applied}`);
  for (const f of EXAMPLE_KEYS) await kubectl.show(['apply', '-n', DEMO_NS, '-f', `examples/${f}`]);
  await eventually('every example key to be Active', 90_000, async () => {
    const states = (
      await kubectl.ok(['get', 'apikeys', '-n', DEMO_NS, '-o', 'jsonpath={.items[*].status.state}'])
    ).split(' ');
    return states.length === EXAMPLE_KEYS.length && states.every((s) => s === 'Active') ? true : undefined;
  });
  await kubectl.show(['get', 'apikeys', '-n', DEMO_NS]);
}

/** The API server refusing, on the webhook's and the CRD's word, what the rules forbid. */
export async function showRefusals({ kubectl }: DevCluster): Promise<void> {
  step('the API server refuses what the rules forbid');
  const twoYears = new Date(Date.now() + 730 * 86_400_000).toISOString();
  const attempts: [string, object][] = [
    ['an expiry two years ahead', { spec: { expiresAt: twoYears } }],
    ['a change of environment', { spec: { environment: 'production' } }],
  ];
  for (const [what, patch] of attempts) {
    const r = await kubectl.attempt([
      '-n',
      DEMO_NS,
      'patch',
      'apikey',
      'dev-laptop',
      '--type=merge',
      '-p',
      JSON.stringify(patch),
    ]);
    if (r.code === 0) throw new Error(`the API server accepted ${what}`);
    say(`refused ${what}: ${r.stderr.trim().split('\n')[0]}`);
  }
}

export interface DemoKeys {
  staging: string;
  development: string;
}

/** Reveals the staging and development example keys once; shows that a second reveal is refused. */
export async function revealDemoKeys({ rest }: DevCluster): Promise<DemoKeys> {
  step('revealing keys (each copy can be revealed once)');
  const staging = await revealWhenReady(rest, DEMO_NS, 'webapp-public', 60_000);
  const development = await revealWhenReady(rest, DEMO_NS, 'dev-laptop', 60_000);
  say(`webapp-public: ${staging.slice(0, 24)}… (printed once, copy destroyed)`);
  const second = await revealKey(rest, DEMO_NS, 'webapp-public').then(
    () => 'revealed again (unexpected)',
    (err: Error) => err.message,
  );
  say(`second reveal: ${second.split('\n')[0]}`);
  return { staging, development };
}

export type Call = (
  method: string,
  path: string,
  key?: string,
) => Promise<{ status: number; detail: string }>;

/** Requests to a validator in front of the demo API at `base`, summed up in one short detail. */
export function demoCall(base: string): Call {
  return async (method, path, key) => {
    const res = await fetch(base + path, {
      method,
      headers: key ? { authorization: `Bearer ${key}` } : {},
      signal: AbortSignal.timeout(10_000),
    });
    const body = await res.text();
    let detail = body.slice(0, 80);
    try {
      const j = JSON.parse(body) as { error?: { code?: string }; identity?: Record<string, string> };
      const name = j.identity?.['x-keywarden-apikey-name'];
      detail = j.error?.code ?? (name ? `upstream saw ApiKey ${name}` : detail);
    } catch {
      // not JSON: the body's start is the detail
    }
    if (res.status === 429) detail += ` (Retry-After: ${res.headers.get('retry-after')})`;
    return { status: res.status, detail };
  };
}

interface Check {
  what: string;
  expect: number;
  got: number;
  detail: string;
}

/**
 * The table of requests through a staging validator: allowed, each kind of refusal, a burst over the
 * rate limit and the key after `disabled: true`. Throws if any answer is not the expected one.
 */
export async function requestChecks(cluster: DevCluster, call: Call, keys: DemoKeys): Promise<void> {
  step('sending requests through the validator');
  const checks: Check[] = [];
  const check = async (what: string, expect: number, method: string, path: string, key?: string) => {
    const r = await call(method, path, key);
    checks.push({ what, expect, got: r.status, detail: r.detail });
  };
  const mistyped = `${keys.staging.slice(0, -1)}${keys.staging.endsWith('x') ? 'y' : 'x'}`;
  await check('public staging key, POST /v1/sessions', 200, 'POST', '/v1/sessions', keys.staging);
  await check('same key, GET /v1/devices/42 (no devices:read)', 403, 'GET', '/v1/devices/42', keys.staging);
  await check('no key at all', 401, 'POST', '/v1/sessions');
  await check('a mistyped key', 401, 'POST', '/v1/sessions', mistyped);
  await check('a development key at a staging validator', 401, 'POST', '/v1/sessions', keys.development);
  await check('an unmapped route', 403, 'GET', '/admin', keys.staging);
  let limited = { status: 0, detail: '' };
  for (let i = 0; i < 30 && limited.status !== 429; i++)
    limited = await call('POST', '/v1/tickets', keys.staging);
  checks.push({
    what: 'a burst over 10 requests/s',
    expect: 429,
    got: limited.status,
    detail: limited.detail,
  });
  await cluster.kubectl.ok([
    '-n',
    DEMO_NS,
    'patch',
    'apikey',
    'webapp-public',
    '--type=merge',
    '-p',
    '{"spec":{"disabled":true}}',
  ]);
  const disabled = await eventually('the disabled key to be refused', 10_000, async () => {
    const r = await call('POST', '/v1/sessions', keys.staging);
    return r.status === 401 ? r : undefined;
  }).catch(() => ({ status: -1, detail: 'still accepted after 10 s' }));
  checks.push({
    what: 'the key after `disabled: true`',
    expect: 401,
    got: disabled.status,
    detail: disabled.detail,
  });
  printTable(
    ['REQUEST', 'EXPECTED', 'GOT', 'DETAIL'],
    checks.map((c) => [
      c.what,
      String(c.expect),
      `${c.got}${c.got === c.expect ? '' : '  <-- unexpected'}`,
      c.detail,
    ]),
  );
  const failed = checks.filter((c) => c.got !== c.expect);
  if (failed.length > 0)
    throw new Error(`${failed.length} request(s) did not get the expected answer (see the table above)`);
}

/** A key left unrevealed for the user to try: its name and the lines that use it. */
export async function tryItKey({ kubectl }: DevCluster, base: string): Promise<string[]> {
  await kubectl.ok(
    ['-n', DEMO_NS, 'apply', '-f', '-'],
    JSON.stringify({
      apiVersion: API_VERSION,
      kind: 'ApiKey',
      metadata: { name: 'try-me' },
      spec: { environment: 'staging', type: 'public', permissions: ['sessions:create'] },
    }),
  );
  await kubectl.ok(['-n', DEMO_NS, 'wait', '--for=condition=Ready', '--timeout=60s', 'apikey/try-me']);
  return [
    `KEY=$(bin/keywarden reveal try-me -n ${DEMO_NS})   # once: the copy is destroyed as it is shown`,
    `curl -sS -i -X POST -H "Authorization: Bearer $KEY" ${base}/v1/sessions`,
  ];
}
