import { execFile } from 'node:child_process';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { KEY_PATTERN } from '../../src/rules/index.ts';
import { createApiKey, ensureNamespace, getApiKey, OPERATOR_NS } from '../support/kube/apikeys.ts';
import { adminRest } from '../support/kube/client.ts';
import { applyCrds, createNamespace, kubectl } from '../support/kube/kubectl.ts';
import {
  type ConsoleProcess,
  launchChromium,
  signIn,
  startConsoleProcess,
} from '../support/processes/console.ts';
import {
  eventually,
  type KeywardenProcess,
  startControllerProcess,
} from '../support/processes/keywarden-process.ts';

// Attacks on `keywarden console`. Actors: a network client with no session (another local user, a
// web page in the same browser), a tenant who can edit ApiKeys in their namespace and writes markup
// into a description, and whoever reads the browser's storage, history or the console's log later.
// Never: act without the one-time token; write on a cross-site request; answer to a foreign Host; bind
// beyond loopback unasked; run a tenant's markup; leave a plaintext key anywhere after the reveal.

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const rest = adminRest();
let ns = '';
let controller: KeywardenProcess;
let con: ConsoleProcess;
let browser: Browser;

/** Signs in over plain HTTP and returns the session cookie and the CSRF token the page would get. */
async function session(c: ConsoleProcess): Promise<{ cookie: string; csrf: string }> {
  const login = await fetch(c.loginUrl, { redirect: 'manual' });
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  const s = (await (await fetch(`${c.url}api/session`, { headers: { cookie } })).json()) as {
    csrfToken: string;
  };
  return { cookie, csrf: s.csrfToken };
}

/**
 * Everything the page holds as text: light DOM, every open shadow root, form values and attributes.
 * (A string, evaluated in the browser: this project's types carry no DOM.)
 */
function deepText(page: Page): Promise<string> {
  return page.evaluate(`(() => {
    const out = [];
    const walk = (root) => {
      for (const el of root.querySelectorAll('*')) {
        out.push(el.outerHTML);
        if (typeof el.value === 'string') out.push(el.value);
        if (el.shadowRoot) walk(el.shadowRoot);
      }
    };
    walk(document);
    return out.join('\\n');
  })()`);
}

const pwned = (page: Page) => page.evaluate<number | undefined>('window.__pwned');

beforeAll(async () => {
  await applyCrds();
  await ensureNamespace(rest, OPERATOR_NS);
  ns = await createNamespace('kw-console-attack');
  controller = startControllerProcess(ns, ['--no-leader-elect']);
  await controller.waitForLog('controller started');
  await createApiKey(rest, ns, 'target', { environment: 'staging', description: 'the key attacks aim at' });
  await eventually(async () =>
    (await getApiKey(rest, ns, 'target')).status?.state === 'Active' ? true : undefined,
  );
  con = await startConsoleProcess(['--operator-namespace', OPERATOR_NS]);
  browser = await launchChromium();
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await con?.stop();
  await controller?.stop();
  await kubectl(['delete', 'namespace', ns, '--wait=false', '--ignore-not-found']);
});

describe('keywarden console: the front door', () => {
  it('answers 401 to every API call and the page without a session, and to a wrong token', async () => {
    for (const [method, path] of [
      ['GET', 'api/session'],
      ['GET', 'api/stream'],
      ['GET', 'api/audit'],
      ['POST', 'api/keys'],
      ['POST', `api/keys/${ns}/target/reveal`],
      ['PATCH', `api/keys/${ns}/target`],
      ['DELETE', `api/keys/${ns}/target`],
    ]) {
      const r = await fetch(`${con.url}${path}`, { method });
      expect(r.status, `${method} ${path}`).toBe(401);
    }
    expect((await fetch(con.url)).status).toBe(401);
    expect((await fetch(`${con.url}login?token=wrong`)).status).toBe(401);
    // A cookie of the right shape that the console never issued.
    const forged = await fetch(`${con.url}api/session`, {
      headers: { cookie: `keywarden_console=${'A'.repeat(43)}` },
    });
    expect(forged.status).toBe(401);
  });

  it('the login token works once and becomes an HttpOnly SameSite=Strict cookie; the token leaves the URL', async () => {
    const c = await startConsoleProcess(['--operator-namespace', OPERATOR_NS]);
    try {
      const first = await fetch(c.loginUrl, { redirect: 'manual' });
      expect(first.status).toBe(303);
      expect(first.headers.get('location')).toBe('/');
      const cookie = first.headers.get('set-cookie') ?? '';
      expect(cookie).toMatch(/; HttpOnly/);
      expect(cookie).toMatch(/; SameSite=Strict/);
      const again = await fetch(c.loginUrl, { redirect: 'manual' });
      expect(again.status).toBe(401);
      expect(again.headers.get('set-cookie')).toBeNull();
    } finally {
      await c.stop();
    }
  });

  it('refuses writes with a foreign Origin, a cross-site fetch, or without the CSRF token (403), and changes nothing', async () => {
    const c = await startConsoleProcess(['--operator-namespace', OPERATOR_NS]);
    try {
      const { cookie, csrf } = await session(c);
      const patch = (headers: Record<string, string>) =>
        fetch(`${c.url}api/keys/${ns}/target`, {
          method: 'PATCH',
          headers: { cookie, 'content-type': 'application/json', ...headers },
          body: JSON.stringify({ spec: { disabled: true } }),
        });
      expect((await patch({})).status).toBe(403);
      expect((await patch({ 'x-csrf-token': 'x'.repeat(43) })).status).toBe(403);
      expect((await patch({ 'x-csrf-token': csrf, origin: 'http://evil.example' })).status).toBe(403);
      expect((await patch({ 'x-csrf-token': csrf, 'sec-fetch-site': 'cross-site' })).status).toBe(403);
      const regen = await fetch(`${c.url}api/keys/${ns}/target/regenerate`, {
        method: 'POST',
        headers: { cookie, origin: 'http://127.0.0.1:1' },
      });
      expect(regen.status).toBe(403);
      const ak = await getApiKey(rest, ns, 'target');
      expect(ak.spec.disabled ?? false).toBe(false);
      expect(ak.spec.rotation?.generation ?? 0).toBe(0);
    } finally {
      await c.stop();
    }
  });

  it('a web page on another port of the same host cannot make the signed-in browser write', async () => {
    // Same site (an IP's site ignores the port), so SameSite=Strict alone would let the cookie through:
    // the Origin check and the CSRF token are what stop it.
    const c = await startConsoleProcess(['--operator-namespace', OPERATOR_NS]);
    const target = `${c.url}api/keys/${ns}/target`;
    const evil: Server = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(`<!doctype html><form id=f method=POST action="${target}/regenerate"></form><script>
        fetch(${JSON.stringify(target)}, { method: 'PATCH', mode: 'no-cors', credentials: 'include',
          headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ spec: { disabled: true } }) })
          .finally(() => { document.title = 'sent'; document.getElementById('f').submit(); });
      </script>`);
    });
    await new Promise<void>((r) => evil.listen(0, '127.0.0.1', () => r()));
    const ctx = await browser.newContext();
    try {
      const page = await ctx.newPage();
      await page.goto(c.loginUrl);
      await page.getByRole('heading', { name: 'API Keys' }).waitFor();
      const responses: number[] = [];
      page.on('response', (r) => {
        if (r.url().startsWith(target)) responses.push(r.status());
      });
      await page.goto(`http://127.0.0.1:${(evil.address() as AddressInfo).port}/`);
      await eventually(async () => (responses.length >= 1 ? true : undefined), 10_000);
      await page.waitForTimeout(1000);
      expect(responses.every((s) => s === 403 || s === 401)).toBe(true);
      const ak = await getApiKey(rest, ns, 'target');
      expect(ak.spec.disabled ?? false).toBe(false);
      expect(ak.spec.rotation?.generation ?? 0).toBe(0);
    } finally {
      await ctx.close();
      evil.close();
      await c.stop();
    }
  });

  it('answers only to its own Host (no DNS rebinding)', async () => {
    const port = new URL(con.url).port;
    const status = (path: string, host: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path, headers: { host } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
    expect(await status('/', 'rebind.evil.example')).toBe(421);
    expect(await status('/login?token=x', `attacker.example:${port}`)).toBe(421);
    expect(await status('/login?token=x', `127.0.0.1:${port}`)).toBe(401);
  });

  it('refuses to bind beyond loopback unless --allow-remote is given', async () => {
    const run = (args: string[]) =>
      new Promise<{ code: number; stderr: string }>((resolve) => {
        execFile(
          process.execPath,
          [MAIN, 'console', '--port', '0', ...args],
          { env: { ...process.env, KUBECONFIG: inject('kubeconfigPath') }, timeout: 60_000 },
          (err, _stdout, stderr) =>
            resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stderr }),
        );
      });
    for (const address of ['0.0.0.0', '::']) {
      const r = await run(['--address', address]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(`refusing to serve on ${address}`);
    }
  });

  it('sends a strict Content-Security-Policy and no-store on every answer', async () => {
    const r = await fetch(con.url);
    const csp = r.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
  });
});

describe('keywarden console: what a tenant writes, and what a key leaves behind', () => {
  it("does not run markup a tenant put in a key's description", async () => {
    const payload = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';
    await createApiKey(rest, ns, 'tenant-markup', { environment: 'staging', description: payload });
    const c = await startConsoleProcess(['--operator-namespace', OPERATOR_NS]);
    try {
      const { context, page } = await signIn(browser, c.loginUrl);
      const violations: string[] = [];
      page.on('console', (m) => {
        if (/Content Security Policy/.test(m.text())) violations.push(m.text());
      });
      const cell = page.locator(`tr[data-key="${ns}/tenant-markup"] td[data-col=description]`);
      await cell.waitFor();
      expect(await cell.textContent()).toBe(payload);
      expect(await pwned(page)).toBeUndefined();
      // Even markup that did reach the DOM could not run inline script under the CSP.
      await page.evaluate(
        "{ const s = document.createElement('script'); s.textContent = 'window.__pwned = 3'; document.body.append(s); }",
      );
      expect(await pwned(page)).toBeUndefined();
      expect(violations.length).toBeGreaterThan(0);
      await context.close();
    } finally {
      await c.stop();
    }
  });

  it('leaves no plaintext key in the page after dismissal, in storage, in the URL or history, or in its log', async () => {
    const c = await startConsoleProcess(['--operator-namespace', OPERATOR_NS]);
    try {
      const { context, page } = await signIn(browser, c.loginUrl);
      const urls: string[] = [];
      page.on('request', (r) => urls.push(r.url()));
      await page.getByRole('button', { name: 'Create key' }).click();
      await page.locator('sl-input[data-field="namespace"] input').fill(ns);
      await page.locator('sl-input[data-field="name"] input').fill('leak-check');
      await page
        .locator('sl-dialog.form-dialog')
        .getByRole('button', { name: 'Create', exact: true })
        .click();
      const code = page.locator('sl-dialog.reveal code.plaintext');
      await code.waitFor({ timeout: 60_000 });
      const key = (await code.textContent()) ?? '';
      expect(key).toMatch(new RegExp(KEY_PATTERN));
      expect(await deepText(page)).toContain(key); // the check below can find it when it is there
      await page.getByRole('button', { name: 'I have copied it' }).click();
      await page.locator('sl-dialog.reveal').waitFor({ state: 'detached' });
      expect(await deepText(page)).not.toContain(key);
      const storage = await page.evaluate<string>(
        'JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage })',
      );
      expect(storage).toBe('{}{}');
      expect(page.url()).not.toContain(key);
      expect(urls.join('\n')).not.toContain(key);
      expect(c.proc.lines.join('\n')).not.toContain(key);
      // The one copy is gone: a second reveal through the console is refused.
      const again = await page.evaluate(async (path) => {
        const s = (await (await fetch('/api/session')).json()) as { csrfToken: string };
        const r = await fetch(path, { method: 'POST', headers: { 'x-csrf-token': s.csrfToken } });
        return { status: r.status, body: await r.text() };
      }, `/api/keys/${ns}/leak-check/reveal`);
      expect(again.status).toBe(409);
      expect(again.body).not.toContain(key);
      await context.close();
    } finally {
      await c.stop();
    }
  });
});
