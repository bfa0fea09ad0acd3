import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPlaintextKeys } from '../../src/audit/scan.ts';
import { generateKey, KEY_PATTERN, parseKey } from '../../src/rules/index.ts';
import { call } from '../support/http/client.ts';
import { apiKeyPath, patchSpec } from '../support/kube/apikeys.ts';
import { adminRest } from '../support/kube/client.ts';
import { kubectlOk } from '../support/kube/kubectl.ts';
import { eventually, type KeywardenProcess } from '../support/processes/keywarden-process.ts';
import { mintKey, type RunningValidator, startControllerAndValidator } from '../support/validator/cluster.ts';

// A full run (controller + validator processes, keys minted, used, refused, regenerated, disabled),
// then a scan of everything it left behind for a plaintext key: every log line of both processes,
// the namespace's Events, the ApiKeys (status included), both /metrics pages, and both audit trails
// (findPlaintextKeys: decoded string columns and raw bytes). Nothing may match KEY_PATTERN.

const rest = adminRest();
const ns = `scan-${randomBytes(3).toString('hex')}`;
const auditValidator = mkdtempSync(join(tmpdir(), 'kw-scan-validator-'));
const auditController = mkdtempSync(join(tmpdir(), 'kw-scan-controller-'));
const KEY_RE = new RegExp(KEY_PATTERN, 'g');
let controller: KeywardenProcess;
let v: RunningValidator;
let controllerHealthPort = 0;
let stop = async () => {};
const keys: string[] = [];
const forged: string[] = [];

beforeAll(async () => {
  ({ controller, controllerHealthPort, v, stop } = await startControllerAndValidator(rest, ns, {
    leaseName: `scan-${ns}`,
    controllerArgs: ['--audit-dir', auditController],
    validatorYaml: (upstreamUrl) => `
environment: production
keyStore: { namespaces: [${ns}] }
upstream: { url: "${upstreamUrl}" }
routes:
  - { path: /v1/devices/**, methods: [GET], permission: devices:read }
identity:
  jwt: { issuer: kw-scan, ttl: 60s, signingKey: { secret: { namespace: ${ns}, name: validator-jwt } } }
lastUsed: { enabled: true, interval: 2s }
metrics: { perKey: { enabled: true, maxKeys: 100 } }
audit: { directory: ${auditValidator}, flushInterval: 1s }
`,
  }));
}, 180_000);

afterAll(async () => {
  await stop();
  rmSync(auditValidator, { recursive: true, force: true });
  rmSync(auditController, { recursive: true, force: true });
});

const get = (key: string, path = '/v1/devices/1', header: 'x-api-key' | 'authorization' = 'authorization') =>
  call(v.port, {
    path,
    headers: header === 'x-api-key' ? { 'x-api-key': key } : { authorization: `Bearer ${key}` },
  });

function matches(text: string): string[] {
  return [...text.matchAll(KEY_RE)].map((m) => m[0]);
}

describe('no plaintext key anywhere after a full run', () => {
  it('logs, Events, ApiKeys, metrics and audit files hold no key', { timeout: 240_000 }, async () => {
    for (const name of ['scan-a', 'scan-b', 'scan-c']) keys.push(await mintKey(rest, ns, name));
    const [a = '', b = '', c = ''] = keys;
    // Keys with a valid shape and checksum that the validator does not know: the right id with a
    // wrong secret, and an unknown id. Refused, and must not be logged either.
    for (const k of [a, b]) {
      const parsed = parseKey(k);
      if (!parsed.ok) throw new Error('minted key does not parse');
      forged.push(generateKey({ type: 'private', environment: 'production', keyId: parsed.key.keyId }));
    }
    forged.push(generateKey({ type: 'private', environment: 'production' }));
    forged.push(generateKey({ type: 'private', environment: 'staging' }));

    for (let i = 0; i < 30; i++) {
      for (const k of keys)
        expect((await get(k, '/v1/devices/1', i % 2 ? 'x-api-key' : 'authorization')).status).toBe(200);
      for (const k of forged) expect((await get(k)).status).toBe(401);
      // Mistyped real keys, a key in the path and in the query string.
      expect((await get(`${a.slice(0, -1)}${a.endsWith('x') ? 'y' : 'x'}`)).status).toBe(401);
      expect((await get(b, `/v1/other/${c}?key=${c}`)).status).toBeGreaterThanOrEqual(400);
    }
    // Lifecycle: regenerate one, disable another; both produce Events and status changes.
    await patchSpec(rest, ns, 'scan-a', { rotation: { generation: 1 } });
    await patchSpec(rest, ns, 'scan-b', { disabled: true });
    await eventually(async () => ((await get(b)).status === 401 ? true : undefined), 30_000, 100);
    await eventually(async () => ((await get(a)).status === 401 ? true : undefined), 30_000, 100);
    // lastUsedAt reports (throttled at 2 s) reach the status.
    await eventually(
      async () => {
        const list = await rest.get<{ items: { status?: { lastUsedAt?: string } }[] }>(apiKeyPath(ns));
        return list.items.some((i) => i.status?.lastUsedAt) ? true : undefined;
      },
      30_000,
      200,
    );

    const validatorMetrics = (await call(v.adminPort, { path: '/metrics' })).body;
    const controllerMetrics = (await call(controllerHealthPort, { path: '/metrics' })).body;
    expect(validatorMetrics).toContain('# TYPE');
    expect(controllerMetrics).toContain('# TYPE');
    const events = await kubectlOk(['get', 'events', '-n', ns, '-o', 'json']);
    const apikeys = await kubectlOk(['get', 'apikeys', '-n', ns, '-o', 'json']);
    const hashSecrets = await kubectlOk([
      'get',
      'secrets',
      '-n',
      ns,
      '-l',
      'keywarden.dev/component=key-hash',
      '-o',
      'json',
    ]);
    expect(JSON.parse(events).items.length).toBeGreaterThan(0);

    // Stop both (SIGTERM: the audit sinks flush and finish their files), then read what they left.
    expect(await v.proc.stop()).toBe(0);
    expect(await controller.stop()).toBe(0);
    const sources: Record<string, string> = {
      'validator logs': v.proc.lines.join('\n'),
      'controller logs': controller.lines.join('\n'),
      'validator /metrics': validatorMetrics,
      'controller /metrics': controllerMetrics,
      Events: events,
      'ApiKeys (spec and status)': apikeys,
      'hash Secrets (base64 decoded)': Buffer.from(
        JSON.parse(hashSecrets)
          .items.map((s: { data?: Record<string, string> }) => Object.values(s.data ?? {}).join(''))
          .join(''),
        'base64',
      ).toString('latin1'),
    };
    expect(v.proc.lines.length).toBeGreaterThan(3);
    expect(controller.lines.length).toBeGreaterThan(3);
    // The scan itself finds keys (a self-check, so an empty result means something).
    expect(matches(`x ${keys.join(' ')} ${forged.join(',')}.`)).toHaveLength(keys.length + forged.length);
    for (const [where, text] of Object.entries(sources)) {
      expect(matches(text), `a key-shaped string in ${where}`).toEqual([]);
      for (const k of [...keys, ...forged]) expect(text.includes(k), `a key in ${where}`).toBe(false);
    }
    const va = await findPlaintextKeys(auditValidator);
    const ca = await findPlaintextKeys(auditController);
    expect(va.files).toBeGreaterThan(0);
    expect(va.rows).toBeGreaterThan(30 * (keys.length + forged.length));
    expect(ca.files).toBeGreaterThan(0);
    expect(va.findings).toEqual([]);
    expect(ca.findings).toEqual([]);
  });
});
