import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditSink } from '../../src/audit/index.ts';
import { addOneCalendarYear, DAY_MS, formatRfc3339, KEY_PATTERN } from '../../src/rules/index.ts';
import { createApiKey, ensureNamespace, getApiKey, OPERATOR_NS } from '../support/kube/apikeys.ts';
import { adminRest } from '../support/kube/client.ts';
import { applyCrds, kubectl, kubectlOk } from '../support/kube/kubectl.ts';
import {
  type ConsoleProcess,
  focused,
  kubeconfigFor,
  launchChromium,
  signIn,
  startConsoleProcess,
  tabTo,
} from '../support/processes/console.ts';
import {
  eventually,
  type KeywardenProcess,
  startControllerProcess,
} from '../support/processes/keywarden-process.ts';
import {
  createSelectedNamespace,
  deleteConfigurations,
  replaceDefaultPolicy,
  startAdmissionWebhook,
  type WebhookProcess,
} from '../support/webhook/harness.ts';

// The API Keys page in a real Chromium, against the real API server, webhook and controller: what a
// person sees and does, with the mouse and with the keyboard alone. Screenshots go to .keywarden/console/
// (ignored by git), or to docs/console/ with KEYWARDEN_UPDATE_SCREENSHOTS=1, so a test run leaves the
// checkout clean.

const SHOTS = fileURLToPath(
  new URL(
    process.env.KEYWARDEN_UPDATE_SCREENSHOTS === '1' ? '../../docs/console/' : '../../.keywarden/console/',
    import.meta.url,
  ),
);
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const SELECTOR = { 'keywarden.dev/test': 'console' };
const CONFIG = 'keywarden-console-test';
const POLICY = {
  apiVersion: 'keywarden.dev/v1alpha1',
  kind: 'ApiKeyPolicy',
  metadata: { name: 'default' },
  spec: {
    expiringSoonDays: 30,
    maxGracePeriod: '24h',
    permissions: [
      { name: 'devices:read', publicSafe: true, description: 'Read devices' },
      { name: 'devices:write', description: 'Change devices' },
      { name: 'billing:read', description: 'Read invoices' },
    ],
  },
};

const rest = adminRest();
let ns = '';
let webhook: WebhookProcess;
let controller: KeywardenProcess;
let consoleProc: ConsoleProcess;
let browser: Browser;
let page: Page;
let restorePolicy: () => Promise<void> = async () => {};

/** expect.poll with a wait fit for a page fed by a watch on a loaded machine. */
const until = <T>(fn: () => Promise<T> | T, opts: { timeout?: number; interval?: number } = {}) =>
  expect.poll(fn, { timeout: 15_000, interval: 100, ...opts });
const row = (p: Page, name: string) => p.locator(`tr[data-key="${ns}/${name}"]`);
const fill = (p: Page, field: string, value: string) =>
  p.locator(`sl-input[data-field="${field}"] input`).fill(value);

async function openCreate(p: Page): Promise<void> {
  await p.getByRole('button', { name: 'Create key' }).click();
  await p.locator('sl-dialog.form-dialog[open]').waitFor();
  await fill(p, 'namespace', ns);
}

async function submitCreate(p: Page): Promise<void> {
  await p.locator('sl-dialog.form-dialog').getByRole('button', { name: 'Create', exact: true }).click();
}

async function revealed(p: Page): Promise<string> {
  const code = p.locator('sl-dialog.reveal code.plaintext');
  await code.waitFor({ timeout: 60_000 });
  return (await code.textContent()) ?? '';
}

async function dismissReveal(p: Page): Promise<void> {
  await p.getByRole('button', { name: 'I have copied it' }).click();
  await p.locator('sl-dialog.reveal').waitFor({ state: 'detached' });
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  await applyCrds();
  restorePolicy = await replaceDefaultPolicy(POLICY);
  await ensureNamespace(rest, OPERATOR_NS);
  ns = await createSelectedNamespace('kw-console', SELECTOR);
  webhook = await startAdmissionWebhook({
    operatorNamespace: OPERATOR_NS,
    secretName: 'keywarden-console-webhook-tls',
    configurationName: CONFIG,
    selector: SELECTOR,
    activeIn: ns,
  });
  controller = startControllerProcess(ns, ['--no-leader-elect']);
  await controller.waitForLog('controller started');
  // Keys made with kubectl's API (admin), so the page has something to show from the start.
  await createApiKey(rest, ns, 'billing-backend', {
    environment: 'production',
    description: 'Billing back office',
    permissions: ['billing:read'],
    allowedSources: ['10.0.0.0/8'],
    customers: ['acme'],
    rateLimit: { requests: 100, period: '1m' },
  });
  await createApiKey(rest, ns, 'web-frontend', {
    environment: 'staging',
    type: 'public',
    description: 'Web app',
    permissions: ['devices:read'],
    expiresAt: formatRfc3339(new Date(Date.now() + 10 * DAY_MS)),
  });
  await eventually(async () => {
    const all = await Promise.all(['billing-backend', 'web-frontend'].map((n) => getApiKey(rest, ns, n)));
    return all.every((a) => a.status?.state === 'Active') ? true : undefined;
  }, 60_000);
  consoleProc = await startConsoleProcess(['--operator-namespace', OPERATOR_NS, '-n', ns]);
  browser = await launchChromium();
  ({ page } = await signIn(browser, consoleProc.loginUrl));
  await row(page, 'billing-backend').waitFor();
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await consoleProc?.stop();
  await controller?.stop();
  await deleteConfigurations(CONFIG);
  await webhook?.stop();
  await restorePolicy();
  await kubectl(['delete', 'namespace', ns, '--wait=false', '--ignore-not-found']);
});

describe('the API Keys page', () => {
  it('lists the keys with every column, ExpiringSoon highlighted, sortable by any column', async () => {
    const headers = await page.locator('table.keys thead th').allTextContents();
    expect(headers.slice(1).map((h) => h.replace(/[▲▼]/g, '').trim())).toEqual([
      'Namespace',
      'Name',
      'Description',
      'Environment',
      'Type',
      'State',
      'Permissions',
      'Rate limit',
      'Customers',
      'Expires',
      'Last used',
      'Age',
    ]);
    const billing = row(page, 'billing-backend');
    await until(() => billing.getAttribute('data-state')).toBe('Active');
    expect(await billing.locator('[data-col=rateLimit]').textContent()).toBe('100/1m');
    expect(await billing.locator('[data-col=customers]').textContent()).toBe('acme');
    expect(await billing.locator('[data-col=permissions]').textContent()).toBe('billing:read');
    // Ten days to go under a 30-day expiringSoonDays policy: highlighted.
    await until(() => row(page, 'web-frontend').locator('.expiring-soon').count()).toBe(1);
    expect(await billing.locator('.expiring-soon').count()).toBe(0);
    // Sort by Expires, both ways.
    const names = () => page.locator('table.keys tbody tr td[data-col=name]').allTextContents();
    // The page re-renders and then writes the sort into the URL: wait for each rather than race them.
    await page.getByRole('button', { name: /^Expires/ }).click();
    await until(async () => (await names()).slice(0, 2)).toEqual(['web-frontend', 'billing-backend']);
    await until(() => page.url()).toContain('sort=expires');
    await page.getByRole('button', { name: /^Expires/ }).click();
    await until(async () => (await names()).slice(0, 2)).toEqual(['billing-backend', 'web-frontend']);
    await until(() => page.url()).toContain('sort=-expires');
    await page.screenshot({ path: `${SHOTS}table-light.png` });
  });

  it('creates a key within the cap: revealed once with a Copy button, then Active', async () => {
    await openCreate(page);
    await fill(page, 'name', 'mobile-app');
    await fill(page, 'description', 'Mobile app');
    // A public key can pick only public-safe permissions from the catalogue.
    await page.locator('sl-select[data-field="type"]').click();
    await page.locator('sl-select[data-field="type"] sl-option[value="public"]').click();
    expect(
      await page.locator('sl-checkbox[data-permission="devices:write"]').getAttribute('disabled'),
    ).not.toBeNull();
    await page.locator('sl-checkbox[data-permission="devices:read"]').click();
    // Sources are checked as they are typed, with the rules the webhook uses.
    await page.locator('sl-textarea[data-field="allowedSources"] textarea').fill('203.0.113.7\n10.0.0.0/33');
    await until(() => page.locator('#err-allowedSources').textContent()).toContain('invalid prefix length');
    await page.locator('sl-textarea[data-field="allowedSources"] textarea').fill('203.0.113.7');
    await until(() => page.locator('#err-allowedSources').textContent()).toBe('');
    // The date picker stops at the one-year cap.
    const max = await page.locator('sl-input[data-field="expiresAt"] input').getAttribute('max');
    expect(max).toBe(formatRfc3339(addOneCalendarYear(new Date())).slice(0, 10));
    await page.screenshot({ path: `${SHOTS}create-light.png` });
    await submitCreate(page);
    const key = await revealed(page);
    expect(key).toMatch(new RegExp(KEY_PATTERN));
    expect(key.startsWith('kwpk_stg_')).toBe(true);
    await until(() => page.getByText('you will not see this key again').count()).toBe(1);
    expect(
      await page.locator('sl-copy-button').evaluate((el) => (el as unknown as { value: string }).value),
    ).toBe(key);
    await page.screenshot({ path: `${SHOTS}reveal-light.png`, mask: [page.locator('code.plaintext')] });
    await dismissReveal(page);
    expect(await page.content()).not.toContain(key);
    await until(() => row(page, 'mobile-app').getAttribute('data-state'), { timeout: 30_000 }).toBe('Active');
    const ak = await getApiKey(rest, ns, 'mobile-app');
    expect(ak.spec.permissions).toEqual(['devices:read']);
    expect(ak.spec.allowedSources).toEqual(['203.0.113.7/32']);
    expect(ak.status?.delivery?.state).toBe('Revealed');
  });

  it("shows the webhook's refusal of an expiry two years ahead next to the expiry field", async () => {
    // A browser whose clock runs 13 months ahead offers dates past the real cap: the webhook refuses.
    const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const skewed = await ctx.newPage();
    await skewed.addInitScript(
      `{ const off = ${396 * DAY_MS}; const D = Date; globalThis.Date = class extends D {
          constructor(...a) { if (a.length === 0) super(D.now() + off); else super(...a); }
          static now() { return D.now() + off; } }; }`,
    );
    // A second console: the login link works once.
    const second = await startConsoleProcess(['--operator-namespace', OPERATOR_NS, '-n', ns]);
    try {
      await skewed.goto(second.loginUrl);
      await skewed.getByRole('heading', { name: 'API Keys' }).waitFor();
      await openCreate(skewed);
      await fill(skewed, 'name', 'too-long');
      const max = (await skewed.locator('sl-input[data-field="expiresAt"] input').getAttribute('max')) ?? '';
      expect(Date.parse(max) - Date.now()).toBeGreaterThan(700 * DAY_MS);
      await fill(skewed, 'expiresAt', max);
      await submitCreate(skewed);
      const message = skewed.locator('#err-expiresAt');
      await until(() => message.textContent(), { timeout: 30_000 })
        .toMatch(/spec\.expiresAt \S+ is more than one year ahead/)
        .catch(async (err: unknown) => {
          await skewed.screenshot({ path: '.keywarden/console-webhook-failure.png' }).catch(() => {});
          throw err;
        });
      expect(await message.textContent()).toContain('admission webhook');
      await skewed.screenshot({ path: `${SHOTS}webhook-refusal-light.png` });
      expect((await kubectl(['get', 'apikey', 'too-long', '-n', ns])).code).not.toBe(0);
    } finally {
      await ctx.close();
      await second.stop();
    }
  });

  it('filters and searches; the URL carries the view and a deep link opens it', async () => {
    await page.goto(`${consoleProc.url}`);
    await row(page, 'billing-backend').waitFor();
    await page.locator('sl-select[data-field="filter-environment"]').click();
    await page.locator('sl-select[data-field="filter-environment"] sl-option[value="production"]').click();
    await until(() => page.locator('table.keys tbody tr[data-key]').count()).toBe(1);
    await until(() => page.url()).toContain('env=production');
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await until(() => page.locator('table.keys tbody tr[data-key]').count()).toBeGreaterThan(1);
    // Search covers the allowed sources, like `keywarden list -q`.
    await page.locator('sl-input.search input').fill('10.0.0.0');
    await until(() => page.locator('table.keys tbody tr[data-key]').count()).toBe(1);
    expect(await page.locator('table.keys tbody tr[data-key]').getAttribute('data-key')).toBe(
      `${ns}/billing-backend`,
    );
    await until(() => page.url()).toContain('q=10.0.0.0');
    // A shared link: state filter, expiring within 30 days, and a selected key.
    await page.goto(`${consoleProc.url}?state=Active&expiring=30&key=${ns}/web-frontend`);
    await row(page, 'web-frontend').waitFor();
    expect(await page.locator('table.keys tbody tr[data-key]').count()).toBe(1);
    await page.getByRole('region', { name: `Key ${ns}/web-frontend` }).waitFor();
    await page.getByRole('tab', { name: 'Permissions' }).click();
    await until(() => page.locator('.perm-list').textContent()).toContain('Read devices');
    expect(await page.locator('.perm-list').textContent()).toContain('public-safe');
    await page.screenshot({ path: `${SHOTS}permissions-light.png` });
  });

  it('a key disabled with kubectl greys out live, without a reload', async () => {
    await page.goto(`${consoleProc.url}`);
    const billing = row(page, 'billing-backend');
    await until(() => billing.getAttribute('data-state')).toBe('Active');
    const t0 = Date.now();
    await kubectlOk([
      'patch',
      'apikey',
      'billing-backend',
      '-n',
      ns,
      '--type=merge',
      '-p',
      '{"spec":{"disabled":true}}',
    ]);
    // Greyed out as soon as the watch brings the change (under a second on an idle machine; the bound
    // is loose for a loaded CI host), then Inactive once the controller has acted.
    await until(() => billing.getAttribute('class'), { timeout: 10_000, interval: 50 }).toContain('dim');
    const ms = Date.now() - t0;
    expect(ms).toBeLessThan(5_000);
    // The State badge follows once the controller has acted (its latency is the controller's, not the page's).
    await until(() => billing.getAttribute('data-state'), { timeout: 60_000 }).toBe('Inactive');
    await kubectlOk([
      'patch',
      'apikey',
      'billing-backend',
      '-n',
      ns,
      '--type=merge',
      '-p',
      '{"spec":{"disabled":false}}',
    ]);
    await until(() => billing.getAttribute('class'), { timeout: 10_000 }).not.toContain('dim');
  });

  it('regenerates with a grace period: the new key revealed once, the old one kept until the cut-off', async () => {
    await page.goto(`${consoleProc.url}?key=${ns}/mobile-app`);
    const panel = page.getByRole('region', { name: `Key ${ns}/mobile-app` });
    await panel.waitFor();
    const keyId = (await getApiKey(rest, ns, 'mobile-app')).status?.keyId;
    await panel.getByRole('button', { name: 'Regenerate' }).click();
    await page.locator('sl-input[data-field="gracePeriod"] input').fill('1h');
    await page.locator('sl-dialog[open]').getByRole('button', { name: 'Regenerate', exact: true }).click();
    const key = await revealed(page);
    expect(key).toContain(`_${keyId}_`);
    await dismissReveal(page);
    const ak = await eventually(async () => {
      const a = await getApiKey(rest, ns, 'mobile-app');
      return a.status?.previousSecretValidUntil ? a : undefined;
    });
    expect(ak.spec.rotation).toEqual({ generation: 1, gracePeriod: '1h' });
    const cutoff = Date.parse(ak.status?.previousSecretValidUntil ?? '');
    expect(Math.abs(cutoff - (Date.now() + 3600_000))).toBeLessThan(120_000);
    await until(() => panel.locator('dl.fields').textContent()).toContain(
      ak.status?.previousSecretValidUntil ?? 'x',
    );
    await page.screenshot({ path: `${SHOTS}key-panel-light.png` });
  });

  it('edits description, sources and rate limit; the expiry stays to the second', async () => {
    const before = await getApiKey(rest, ns, 'billing-backend');
    await page.goto(`${consoleProc.url}?key=${ns}/billing-backend`);
    const panel = page.getByRole('region', { name: `Key ${ns}/billing-backend` });
    await panel.getByRole('button', { name: 'Edit' }).click();
    await page.locator('sl-dialog.form-dialog[open]').waitFor();
    await fill(page, 'description', 'Billing back office (EU)');
    await page.locator('sl-textarea[data-field="allowedSources"] textarea').fill('10.0.0.0/8\n2001:db8::/32');
    await fill(page, 'rateRequests', '50');
    await page.locator('sl-dialog.form-dialog').getByRole('button', { name: 'Save', exact: true }).click();
    await page.locator('sl-dialog.form-dialog').waitFor({ state: 'detached' });
    const after = await getApiKey(rest, ns, 'billing-backend');
    expect(after.spec.description).toBe('Billing back office (EU)');
    expect(after.spec.allowedSources).toEqual(['10.0.0.0/8', '2001:db8::/32']);
    expect(after.spec.rateLimit).toEqual({ requests: 50, period: '1m' });
    expect(after.spec.expiresAt).toBe(before.spec.expiresAt);
    await until(() => row(page, 'billing-backend').locator('[data-col=rateLimit]').textContent()).toBe(
      '50/1m',
    );
  });

  it('deletes only after a confirmation that names the key', async () => {
    await createApiKey(rest, ns, 'old-partner', { environment: 'development', permissions: [] });
    await page.goto(`${consoleProc.url}?key=${ns}/old-partner`);
    const panel = page.getByRole('region', { name: `Key ${ns}/old-partner` });
    await panel.getByRole('button', { name: 'Delete' }).click();
    const confirm = page.locator('sl-dialog[open]');
    expect(await confirm.getAttribute('label')).toBe(`Delete ${ns}/old-partner?`);
    await confirm.getByRole('button', { name: `Delete ${ns}/old-partner` }).click();
    await row(page, 'old-partner').waitFor({ state: 'detached' });
    expect((await kubectl(['get', 'apikey', 'old-partner', '-n', ns])).code).not.toBe(0);
  });

  it('has no serious or critical accessibility violations (axe-core), light and dark', async () => {
    for (const scheme of ['light', 'dark'] as const) {
      const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 }, colorScheme: scheme });
      const p = await ctx.newPage();
      const c = await startConsoleProcess(['--operator-namespace', OPERATOR_NS, '-n', ns]);
      try {
        await p.goto(c.loginUrl);
        await p.locator(`tr[data-key="${ns}/billing-backend"]`).waitFor();
        await p.goto(`${c.url}?key=${ns}/billing-backend`);
        await p.getByRole('region', { name: `Key ${ns}/billing-backend` }).waitFor();
        if (scheme === 'dark') await p.screenshot({ path: `${SHOTS}table-dark.png` });
        // Injected through the DevTools protocol, which the page's CSP does not govern.
        await p.evaluate(AXE_SOURCE);
        const serious = async () =>
          p.evaluate<string[]>(`(async () => {
            const r = await window.axe.run();
            return r.violations
              .filter((v) => v.impact === 'serious' || v.impact === 'critical')
              .map((v) => v.id + ': ' + JSON.stringify(v.nodes.map((n) => n.target)));
          })()`);
        expect(await serious()).toEqual([]);
        await p.getByRole('button', { name: 'Create key' }).click();
        await p.locator('sl-dialog.form-dialog[open]').waitFor();
        if (scheme === 'dark') await p.screenshot({ path: `${SHOTS}create-dark.png` });
        expect(await serious()).toEqual([]);
      } finally {
        await ctx.close();
        await c.stop();
      }
    }
  });

  it('keyboard alone can create, disable and regenerate a key', async () => {
    await page.goto(`${consoleProc.url}`);
    await row(page, 'billing-backend').waitFor();
    await page.locator('body').focus();
    await tabTo(page, /^Create key$/);
    await page.keyboard.press('Enter');
    await page.locator('sl-dialog.form-dialog[open]').waitFor();
    await tabTo(page, /Namespace/);
    await page.keyboard.press('Control+A');
    await page.keyboard.type(ns);
    await tabTo(page, /^Name \|/);
    await page.keyboard.type('keyboard-key');
    await tabTo(page, /^Create$/);
    await page.keyboard.press('Enter');
    await revealed(page);
    await tabTo(page, /^I have copied it$/);
    await page.keyboard.press('Enter');
    await page.locator('sl-dialog.reveal').waitFor({ state: 'detached' });
    await until(() => row(page, 'keyboard-key').getAttribute('data-state'), { timeout: 30_000 }).toBe(
      'Active',
    );

    await page.locator('body').focus();
    await tabTo(page, new RegExp(`Select ${ns}/keyboard-key`), 120);
    // The page selects a key it just created; Space toggles the check box.
    const box = page.getByRole('checkbox', { name: `Select ${ns}/keyboard-key` });
    if (await box.isChecked()) await page.keyboard.press('Space');
    expect(await box.isChecked()).toBe(false);
    await page.keyboard.press('Space');
    await page.getByRole('region', { name: `Key ${ns}/keyboard-key` }).waitFor();
    await tabTo(page, /^Disable$/);
    await page.keyboard.press('Enter');
    await until(() => row(page, 'keyboard-key').getAttribute('class'), { timeout: 15_000 }).toContain('dim');
    expect((await getApiKey(rest, ns, 'keyboard-key')).spec.disabled).toBe(true);

    await tabTo(page, /^Regenerate$/);
    await page.keyboard.press('Enter');
    await page.locator('sl-dialog[open] sl-input[data-field="gracePeriod"]').waitFor();
    await tabTo(page, /gracePeriod/);
    await page.keyboard.type('30m');
    await page.keyboard.press('Enter');
    const key = await revealed(page);
    expect(key).toMatch(new RegExp(KEY_PATTERN));
    await tabTo(page, /^I have copied it$/);
    await page.keyboard.press('Enter');
    expect((await getApiKey(rest, ns, 'keyboard-key')).spec.rotation).toEqual({
      generation: 1,
      gracePeriod: '30m',
    });
    expect(await focused(page)).not.toContain(key);
  });

  it('enabling an expired key asks for a new expiry within the cap, then the key is Active again', async () => {
    await createApiKey(rest, ns, 'short-lived', {
      environment: 'production',
      description: 'Expires during the test',
      permissions: ['devices:read'],
      expiresAt: formatRfc3339(new Date(Date.now() + 8_000)),
    });
    await page.goto(`${consoleProc.url}?key=${ns}/short-lived`);
    await until(() => row(page, 'short-lived').getAttribute('data-state'), { timeout: 60_000 }).toBe(
      'Expired',
    );
    const panel = page.getByRole('region', { name: `Key ${ns}/short-lived` });
    await panel.getByRole('button', { name: 'Enable' }).click();
    const dialog = page.locator(`sl-dialog[label="Enable ${ns}/short-lived"]`);
    await until(() => dialog.getByText('needs a new expiry within the cap').count()).toBe(1);
    const input = dialog.locator('sl-input[data-field="enable-expiresAt"] input');
    const max = (await input.getAttribute('max')) ?? '';
    expect(max).toBe(formatRfc3339(addOneCalendarYear(new Date())).slice(0, 10));
    // Two years ahead: the page says why and does not send it.
    const twoYears = formatRfc3339(new Date(Date.now() + 730 * DAY_MS)).slice(0, 10);
    await input.fill(twoYears);
    await until(() => dialog.locator('.field-error').textContent()).toMatch(
      /more than one year ahead|past the/,
    );
    await dialog.locator('sl-button[variant="primary"]').click();
    expect((await getApiKey(rest, ns, 'short-lived')).status?.state).toBe('Expired');
    const inMonth = formatRfc3339(new Date(Date.now() + 30 * DAY_MS)).slice(0, 10);
    await input.fill(inMonth);
    await until(() => dialog.locator('.field-error').textContent()).toBe('');
    await dialog.locator('sl-button[variant="primary"]').click();
    await until(() => row(page, 'short-lived').getAttribute('data-state'), { timeout: 30_000 }).toBe(
      'Active',
    );
    expect((await getApiKey(rest, ns, 'short-lived')).spec.expiresAt?.slice(0, 10)).toBe(inMonth);
  });

  it('the request log: overall and per key, by time range, status and reason, paged; without a trail it says how to get one', async () => {
    // Without --audit-dir the page says how to make a trail reachable.
    await page.goto(`${consoleProc.url}?view=log`);
    await until(() => page.getByText('No audit trail is reachable').count()).toBe(1);
    expect(await page.getByText('--audit-dir').count()).toBe(1);

    // A trail written by the validator's own writer: 70 answers for billing-backend an hour ago and
    // earlier, 30 refusals (403) of it, and 12 for web-frontend two hours ago.
    const ids = Object.fromEntries(
      await Promise.all(
        ['billing-backend', 'web-frontend'].map(async (n) => [
          n,
          (await getApiKey(rest, ns, n)).status?.keyId,
        ]),
      ),
    ) as Record<string, string>;
    const dir = mkdtempSync(join(tmpdir(), 'kw-console-audit-'));
    const sink = await createAuditSink({
      directory: dir,
      source: 'validator/console-test',
      flushIntervalMs: 50,
    });
    const now = Date.now();
    const event = (i: number, name: string, ageMs: number, status: number, reason: string) =>
      sink.record({
        timeMs: now - ageMs,
        door: 'authz',
        keyId: ids[name],
        environment: 'production',
        method: 'GET',
        path: `/v1/${name}/${i}`,
        status,
        reason,
        clientIp: '192.0.2.10',
        latencyMs: 0.4,
        apiKeyNamespace: ns,
        apiKeyName: name,
      });
    for (let i = 0; i < 70; i++) event(i, 'billing-backend', 10 * 60_000 + i * 1_000, 200, 'ok');
    for (let i = 0; i < 30; i++) event(100 + i, 'billing-backend', 20 * 60_000 + i, 403, 'permission_denied');
    for (let i = 0; i < 12; i++) event(200 + i, 'web-frontend', 2 * 3_600_000 + i, 401, 'key_disabled');
    await sink.close();

    const withTrail = await startConsoleProcess([
      '--operator-namespace',
      OPERATOR_NS,
      '-n',
      ns,
      '--audit-dir',
      dir,
    ]);
    const { context, page: logPage } = await signIn(browser, withTrail.loginUrl);
    try {
      const rows = logPage.locator('table.audit-rows tbody tr');
      const cells = (col: number) =>
        logPage.locator(`table.audit-rows tbody tr td:nth-child(${col})`).allTextContents();
      await logPage.goto(`${withTrail.url}?view=log`);
      // Last 24 h, newest first, 50 to a page: 112 events make three pages. Each page is told apart
      // by its first request, so a click is never judged against the page before it.
      const first = () => rows.first().locator('td:nth-child(3)').textContent();
      await until(() => rows.count()).toBe(50);
      const older = logPage.getByRole('button', { name: 'Older' });
      const newer = logPage.getByRole('button', { name: 'Newer' });
      expect(await newer.getAttribute('disabled')).not.toBeNull();
      const page1 = await first();
      await logPage.screenshot({ path: `${SHOTS}request-log-light.png` });
      await older.click();
      await until(first).not.toBe(page1);
      expect(await rows.count()).toBe(50);
      const page2 = await first();
      await older.click();
      await until(first).not.toBe(page2);
      expect(await rows.count()).toBe(12);
      expect(new Set(await cells(2))).toEqual(new Set([`${ns}/web-frontend`]));
      await until(() => older.getAttribute('disabled')).not.toBeNull();
      await newer.click();
      await until(first).toBe(page2);
      expect(await rows.count()).toBe(50);
      // Status filter: only the 403s.
      await logPage.locator('sl-input[data-field="audit-status"] input').fill('403');
      await logPage.locator('sl-input[data-field="audit-status"] input').blur();
      // (a filter change goes back to the first page: the second page of 30 rows would be empty)
      await until(() => rows.count()).toBe(30);
      expect(new Set(await cells(4))).toEqual(new Set(['403']));
      // Reason filter together with the time range: key_disabled is two hours old.
      await logPage.locator('sl-input[data-field="audit-status"] input').fill('');
      await logPage.locator('sl-input[data-field="audit-status"] input').blur();
      // (the newest page again: all 200s; typing the next filter before this render lands loses it)
      await until(async () => new Set(await cells(4))).toEqual(new Set(['200']));
      await logPage.locator('sl-input[data-field="audit-reason"] input').fill('key_disabled');
      await logPage.locator('sl-input[data-field="audit-reason"] input').blur();
      await until(() => rows.count()).toBe(12);
      await logPage.locator('sl-select[data-field="audit-range"]').click();
      await logPage.locator('sl-select[data-field="audit-range"] sl-option[value="1h"]').click();
      await until(() => logPage.getByText('No requests in this range.').count()).toBe(1);

      // Per key: the Requests tab of web-frontend shows its 12 requests and no one else's.
      await logPage.goto(`${withTrail.url}?key=${ns}/web-frontend`);
      const keyPanel = logPage.getByRole('region', { name: `Key ${ns}/web-frontend` });
      await keyPanel.getByRole('tab', { name: 'Requests' }).click();
      const keyRows = keyPanel.locator('table.audit-rows tbody tr');
      await until(() => keyRows.count()).toBe(12);
      const requests = await keyPanel.locator('table.audit-rows tbody tr td:nth-child(2)').allTextContents();
      expect(requests.every((r) => r.startsWith('GET /v1/web-frontend/'))).toBe(true);
    } finally {
      await context.close();
      await withTrail.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a user whose RBAC allows only get/list/watch sees every action refused as forbidden', async () => {
    const kubeconfig = await kubeconfigFor('console-reader', [
      {
        apiGroups: ['keywarden.dev'],
        resources: ['apikeys', 'apikeypolicies'],
        verbs: ['get', 'list', 'watch'],
      },
    ]);
    const reader = await startConsoleProcess([
      '--kubeconfig',
      kubeconfig,
      '--operator-namespace',
      OPERATOR_NS,
    ]);
    const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    try {
      const p = await ctx.newPage();
      await p.goto(reader.loginUrl);
      await p.locator(`tr[data-key="${ns}/billing-backend"]`).waitFor();
      await p.goto(`${reader.url}?key=${ns}/billing-backend`);
      const panel = p.getByRole('region', { name: `Key ${ns}/billing-backend` });
      await panel.getByRole('button', { name: 'Disable' }).click();
      const refusal = panel.locator('sl-alert.refusal');
      await until(() => refusal.textContent()).toMatch(/^Forbidden: .*cannot patch resource "apikeys"/);
      await p.screenshot({ path: `${SHOTS}forbidden-light.png` });
      await panel.getByRole('button', { name: 'Delete' }).click();
      await p
        .locator('sl-dialog[open]')
        .getByRole('button', { name: `Delete ${ns}/billing-backend` })
        .click();
      await until(() => p.locator('sl-dialog[open] .field-error').textContent()).toMatch(
        /cannot delete resource/,
      );
      await p.locator('sl-dialog[open]').getByRole('button', { name: 'Cancel' }).click();
      await openCreate(p);
      await fill(p, 'name', 'not-allowed');
      await submitCreate(p);
      await until(() => p.locator('#err-other').textContent()).toMatch(
        /^Forbidden: .*cannot create resource "apikeys"/,
      );
      const ak = await getApiKey(rest, ns, 'billing-backend');
      expect(ak.spec.disabled ?? false).toBe(false);
      expect((await kubectl(['get', 'apikey', 'not-allowed', '-n', ns])).code).not.toBe(0);
    } finally {
      await ctx.close();
      await reader.stop();
    }
  });
});
