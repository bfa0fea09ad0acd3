import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addOneCalendarYear } from '../../src/rules/index.ts';
import { applyCrds, createNamespace, kubectl, kubectlOk } from '../support/kube/kubectl.ts';
import { promtoolCheckMetrics } from '../support/metrics/promtool.ts';
import {
  apiKeyYaml,
  createSelectedNamespace,
  deleteConfigurations,
  replaceDefaultPolicy,
  rfc3339,
  sleep,
  startAdmissionWebhook,
  type WebhookProcess,
} from '../support/webhook/harness.ts';

// The admission rules as a user meets them: the real API server calls the webhook over TLS, driven
// by the real kubectl. The webhook runs as `node src/cli/main.ts webhook` with a bootstrapped CA.

const RUN = randomBytes(3).toString('hex');
const SELECTOR = { 'keywarden.dev/webhook-test': `rules-${RUN}` };
const CONFIG = `keywarden-test-rules-${RUN}`;
const POLICY = {
  apiVersion: 'keywarden.dev/v1alpha1',
  kind: 'ApiKeyPolicy',
  metadata: { name: 'default' },
  spec: {
    strictCatalogue: false,
    expiringSoonDays: 14,
    maxGracePeriod: '24h',
    permissions: [
      { name: 'sessions:create', publicSafe: true },
      { name: 'tickets:read', description: 'private only' },
    ],
  },
};

let ns = '';
let system = '';
let webhook: WebhookProcess;
let restorePolicy: () => Promise<void> = async () => {};

const apply = (name: string, spec: Record<string, unknown>, ...flags: string[]) =>
  kubectl(['apply', '-n', ns, ...flags, '-f', '-'], apiKeyYaml(name, spec));
const exists = async (name: string) => (await kubectl(['get', 'apikey', name, '-n', ns])).code === 0;
const getKey = async (name: string) =>
  JSON.parse(await kubectlOk(['get', 'apikey', name, '-n', ns, '-o', 'json'])) as {
    metadata: { labels: Record<string, string> };
    spec: Record<string, unknown>;
  };
const denial = (stderr: string) =>
  /denied the request: (.*)/s.exec(stderr)?.[1]?.trim() ?? `(no denial) ${stderr}`;

beforeAll(async () => {
  await applyCrds();
  restorePolicy = await replaceDefaultPolicy(POLICY);
  system = await createNamespace('kw-webhook-sys');
  ns = await createSelectedNamespace('kw-webhook', SELECTOR);
  webhook = await startAdmissionWebhook({
    operatorNamespace: system,
    secretName: 'keywarden-webhook-tls',
    configurationName: CONFIG,
    selector: SELECTOR,
    activeIn: ns,
  });
}, 180_000);

afterAll(async () => {
  await deleteConfigurations(CONFIG);
  await webhook?.stop();
  await restorePolicy();
  await kubectl(['delete', 'namespace', ns, system, '--wait=false', '--ignore-not-found']);
});

describe('the one-year cap, enforced by the API server', () => {
  it('refuses one year plus one hour with the message naming the value and the limit', async () => {
    const t0 = Date.now();
    const expiresAt = rfc3339(addOneCalendarYear(new Date(t0)).getTime() + 3600_000);
    for (const flags of [[], ['--dry-run=server']]) {
      const r = await apply('too-long', { expiresAt }, ...flags);
      expect(r.code).not.toBe(0);
      const message = denial(r.stderr);
      const m = /^spec\.expiresAt (\S+) is more than one year ahead; the latest allowed now is (\S+)$/.exec(
        message,
      );
      expect(m?.[1], message).toBe(expiresAt);
      // The limit is one calendar year from the webhook's clock at admission time.
      const latest = Date.parse(m?.[2] ?? '');
      expect(latest).toBeGreaterThanOrEqual(addOneCalendarYear(new Date(t0 - 1000)).getTime());
      expect(latest).toBeLessThanOrEqual(addOneCalendarYear(new Date()).getTime());
    }
    expect(await exists('too-long')).toBe(false);
  });

  it('accepts one year minus one minute', async () => {
    const expiresAt = rfc3339(addOneCalendarYear(new Date()).getTime() - 60_000);
    const dry = await apply('almost-a-year', { expiresAt }, '--dry-run=server');
    expect(dry.code, dry.stderr).toBe(0);
    expect(await exists('almost-a-year')).toBe(false);
    await kubectlOk(['apply', '-n', ns, '-f', '-'], apiKeyYaml('almost-a-year', { expiresAt }));
    expect((await getKey('almost-a-year')).spec.expiresAt).toBe(expiresAt);
  });

  it('defaults a missing expiry to one year, and sets type, labels and normal forms', async () => {
    const spec = {
      permissions: ['tickets:read', 'sessions:create', 'tickets:read'],
      allowedSources: ['10.1.2.3', '10.0.0.0/8', '10.1.2.3'],
    };
    const dry = await kubectlOk(
      ['apply', '-n', ns, '--dry-run=server', '-o', 'json', '-f', '-'],
      apiKeyYaml('defaulted', spec),
    );
    expect((JSON.parse(dry) as { spec: { expiresAt?: string } }).spec.expiresAt).toBeDefined();
    expect(await exists('defaulted')).toBe(false);

    const before = Date.now();
    await kubectlOk(['apply', '-n', ns, '-f', '-'], apiKeyYaml('defaulted', spec));
    const key = await getKey('defaulted');
    const expiresAt = Date.parse(String(key.spec.expiresAt));
    expect(expiresAt).toBeGreaterThanOrEqual(addOneCalendarYear(new Date(before)).getTime() - 1000);
    expect(expiresAt).toBeLessThanOrEqual(addOneCalendarYear(new Date()).getTime());
    expect(key.spec.type).toBe('private');
    expect(key.spec.permissions).toEqual(['sessions:create', 'tickets:read']);
    expect(key.spec.allowedSources).toEqual(['10.1.2.3/32', '10.0.0.0/8']);
    // No labels from the webhook (the controller, not running here, sets them): selecting by type
    // works at once through the CRD's selectable fields.
    expect(key.metadata.labels?.['keywarden.dev/type']).toBeUndefined();
    expect(
      (
        await kubectlOk(['get', 'apikeys', '-n', ns, '--field-selector', 'spec.type=private', '-o', 'name'])
      ).split('\n'),
    ).toContain('apikey.keywarden.dev/defaulted');
    expect(
      await kubectlOk([
        'get',
        'apikeys',
        '-n',
        ns,
        '--field-selector',
        'spec.environment=production',
        '-o',
        'name',
      ]),
    ).not.toContain('apikey.keywarden.dev/defaulted');
  });

  it('re-applying a manifest without expiresAt keeps the expiry instead of extending it', async () => {
    const first = (await getKey('defaulted')).spec.expiresAt;
    await sleep(1100);
    await kubectlOk(
      ['apply', '-n', ns, '-f', '-'],
      apiKeyYaml('defaulted', { permissions: ['tickets:read'] }),
    );
    expect((await getKey('defaulted')).spec.expiresAt).toBe(first);
  });

  it('refuses to enable an expired key again without a new expiry, and accepts one within the cap', async () => {
    // An expiry a few seconds ahead is allowed; wait until it has passed.
    const soon = rfc3339(Date.now() + 4_000);
    const created = await apply('expired', { expiresAt: soon, disabled: true });
    expect(created.code, created.stderr).toBe(0);
    await sleep(Math.max(0, Date.parse(soon) - Date.now()) + 1_500);

    const enable = { expiresAt: soon, disabled: false };
    for (const flags of [['--dry-run=server'], []]) {
      const r = await apply('expired', enable, ...flags);
      expect(denial(r.stderr)).toMatch(
        new RegExp(
          `^spec\\.expiresAt ${soon} has passed: enabling an expired key again needs a new spec\\.expiresAt, at most one year ahead \\(the latest allowed now is \\S+\\)$`,
        ),
      );
    }
    expect((await getKey('expired')).spec.disabled).toBe(true);

    const tooFar = await apply('expired', {
      expiresAt: rfc3339(addOneCalendarYear(new Date()).getTime() + 3600_000),
      disabled: false,
    });
    expect(denial(tooFar.stderr)).toMatch(/is more than one year ahead/);

    const renewed = rfc3339(Date.now() + 30 * 86_400_000);
    const ok = await apply('expired', { expiresAt: renewed, disabled: false });
    expect(ok.code, ok.stderr).toBe(0);
    expect((await getKey('expired')).spec).toMatchObject({ expiresAt: renewed, disabled: false });
  });

  it('never refuses a status update (the status subresource does not go through the webhook)', async () => {
    await apply('status-only', { expiresAt: rfc3339(Date.now() + 3_000) });
    await sleep(4_000);
    await kubectlOk([
      'patch',
      'apikey',
      'status-only',
      '-n',
      ns,
      '--subresource=status',
      '--type=merge',
      '-p',
      '{"status":{"state":"Expired"}}',
    ]);
    // A metadata-only change of the now-expired key passes too (the controller adds finalizers so).
    await kubectlOk(['label', 'apikey', 'status-only', '-n', ns, 'team=a']);
  });
});

describe('the key policy and immutable fields', () => {
  it('refuses a public key asking for a private-only permission, and accepts a public-safe one', async () => {
    for (const flags of [['--dry-run=server'], []]) {
      const r = await apply(
        'public',
        { type: 'public', permissions: ['sessions:create', 'tickets:read'] },
        ...flags,
      );
      expect(denial(r.stderr)).toBe(
        'spec.permissions[1] "tickets:read" is not public-safe: a public key may only hold permissions the ApiKeyPolicy marks publicSafe',
      );
    }
    expect(await exists('public')).toBe(false);
    const ok = await apply('public', { type: 'public', permissions: ['sessions:create'] });
    expect(ok.code, ok.stderr).toBe(0);
  });

  it('refuses changing the environment', async () => {
    await kubectlOk(['apply', '-n', ns, '-f', '-'], apiKeyYaml('fixed-env', {}));
    for (const flags of [['--dry-run=server'], []]) {
      const r = await apply('fixed-env', { environment: 'production' }, ...flags);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/spec.environment is immutable/);
    }
    expect((await getKey('fixed-env')).spec.environment).toBe('staging');
  });

  it("refuses a plaintext Secret in the ApiKey's own namespace, saying why", async () => {
    const r = await apply('own-secret', { delivery: { secretRef: { name: 'plain' } } });
    expect(denial(r.stderr)).toBe(
      `spec.delivery.secretRef must name a namespace other than the ApiKey's own (${ns}): validators read the hash Secrets in ${ns} and RBAC cannot filter Secrets by type, so a plaintext copy there would be readable by validators`,
    );
    const ok = await apply(
      'own-secret',
      { delivery: { secretRef: { name: 'plain', namespace: `${ns}-consumers` } } },
      '--dry-run=server',
    );
    expect(ok.code, ok.stderr).toBe(0);
    // keywarden's own namespace never (its CA key and webhook TLS live there), even for an admin.
    const own = await apply('own-secret', { delivery: { secretRef: { name: 'plain', namespace: system } } });
    expect(denial(own.stderr)).toMatch(
      /may not name namespace .*keywarden never writes consumer Secrets into its own namespace/,
    );
  });

  it('warns, without refusing, about a key expiring within the ExpiringSoon window', async () => {
    const r = await apply('short', { expiresAt: rfc3339(Date.now() + 3 * 86_400_000) });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      /Warning: spec\.expiresAt \S+ is within 14 days: the key will stop working then/,
    );
  });

  it('counts admissions and exports the certificate expiry', async () => {
    const text = await webhook.metrics();
    expect(text).toMatch(
      /keywarden_webhook_admissions_total\{webhook="validate",operation="CREATE",result="denied"\} [1-9]/,
    );
    expect(text).toMatch(
      /keywarden_webhook_admissions_total\{webhook="mutate",operation="CREATE",result="patched"\} [1-9]/,
    );
    const expiry = /^keywarden_webhook_certificate_expiry_timestamp_seconds (\S+)$/m.exec(text)?.[1];
    expect(Number(expiry) * 1000).toBeGreaterThan(Date.now());
    expect(await promtoolCheckMetrics(text)).toEqual({ code: 0, text: '' });
  });
});
