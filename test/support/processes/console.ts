import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { inject } from 'vitest';
import { parse, stringify } from 'yaml';
import { kubectlOk } from '../kube/kubectl.ts';
import { KeywardenProcess } from './keywarden-process.ts';

// Shared by the console's browser tests and attacks: `keywarden console` as a real child process, a real
// Chromium (Debian's, driven by playwright-core; scripts/test.sh installs it), and kubeconfigs for users
// whose RBAC the tests choose.

export const CHROMIUM = process.env.KEYWARDEN_CHROMIUM ?? '/usr/bin/chromium';

export function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `${CHROMIUM} not found: scripts/test.sh installs Debian's chromium (apt-get install -y chromium)`,
    );
  // --no-sandbox: the tests run as root, where Chromium's sandbox cannot start.
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}

export interface ConsoleProcess {
  proc: KeywardenProcess;
  url: string;
  loginUrl: string;
  stop(): Promise<void>;
}

/** `keywarden console --port 0 ...`, resolved once it printed its sign-in URL. */
export async function startConsoleProcess(
  args: string[],
  env: Record<string, string> = {},
): Promise<ConsoleProcess> {
  const proc = new KeywardenProcess(['console', '--port', '0', ...args], env);
  const deadline = Date.now() + 90_000;
  for (;;) {
    const line = proc.lines.find((l) => /\/login\?token=/.test(l));
    if (line) {
      const loginUrl = line.trim();
      return {
        proc,
        loginUrl,
        url: loginUrl.replace(/login\?token=.*$/, ''),
        stop: async () => void (await proc.stop()),
      };
    }
    if (proc.child.exitCode !== null) throw new Error(`keywarden console exited:\n${proc.lines.join('\n')}`);
    if (Date.now() > deadline) throw new Error(`keywarden console printed no URL:\n${proc.lines.join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A fresh browser context signed in through the one-time URL. */
export async function signIn(
  browser: Browser,
  loginUrl: string,
  options: Parameters<Browser['newContext']>[0] = {},
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, ...options });
  const page = await context.newPage();
  await page.goto(loginUrl);
  await page.getByRole('heading', { name: 'API Keys' }).waitFor();
  return { context, page };
}

/**
 * A kubeconfig for a ServiceAccount bound to a ClusterRole with exactly `rules`: a real user of the real
 * API server whose RBAC the test chose.
 */
export async function kubeconfigFor(
  name: string,
  rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[],
  namespace = 'default',
): Promise<string> {
  const sa = `${name}-${randomBytes(3).toString('hex')}`;
  await kubectlOk(['create', 'serviceaccount', sa, '-n', namespace]);
  await kubectlOk(
    ['apply', '-f', '-'],
    stringify({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: sa },
      rules,
    }) +
      '---\n' +
      stringify({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: sa },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: sa },
        subjects: [{ kind: 'ServiceAccount', name: sa, namespace }],
      }),
  );
  const token = (await kubectlOk(['create', 'token', sa, '-n', namespace, '--duration=1h'])).trim();
  const admin = parse(readFileSync(inject('kubeconfigPath'), 'utf8')) as {
    clusters: { name: string; cluster: Record<string, string> }[];
  };
  const file = join(inject('runDir'), `kubeconfig-${sa}`);
  writeFileSync(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: admin.clusters,
      users: [{ name: sa, user: { token } }],
      contexts: [{ name: sa, context: { cluster: admin.clusters[0]?.name, user: sa } }],
      'current-context': sa,
    }),
    { mode: 0o600 },
  );
  return file;
}

/** The element keyboard focus is on, described by what a person would read (label, text, name). */
export function focused(page: Page): Promise<string> {
  return page.evaluate<string>(`(() => {
    const a = document.activeElement;
    if (!a) return '';
    // Shoelace keeps label and name as properties (Preact sets them so), not attributes.
    return [a.getAttribute('aria-label'), a.label, a.getAttribute('data-field'), a.textContent]
      .filter(Boolean)
      .join(' | ')
      .replace(/\\s+/g, ' ')
      .trim();
  })()`);
}

/** Presses Tab (or Shift+Tab) until the focused element matches, as a keyboard user would. */
export async function tabTo(page: Page, what: RegExp, max = 80, back = false): Promise<void> {
  for (let i = 0; i < max; i++) {
    if (what.test(await focused(page))) return;
    await page.keyboard.press(back ? 'Shift+Tab' : 'Tab');
  }
  throw new Error(`keyboard focus never reached ${what} (last: ${await focused(page)})`);
}
