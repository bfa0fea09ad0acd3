import { randomBytes, type X509Certificate } from 'node:crypto';
import { request } from 'node:http';
import { connect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';
import { stringify } from 'yaml';
import { INJECT_PATH, INJECT_WEBHOOK_NAME } from '../../../src/injector/index.ts';
import { freePort } from '../../../src/localcluster/ports.ts';
import { ManagedProcess } from '../../../src/localcluster/processes.ts';
import { formatRfc3339 } from '../../../src/rules/index.ts';
import {
  buildWebhookConfigurations,
  type WebhookConfigurationOptions,
} from '../../../src/webhook/configurations.ts';
import { kubectl, kubectlOk } from '../kube/kubectl.ts';

// Shared by the webhook integration tests: the webhook as a child process (`node src/cli/main.ts
// webhook`), its configurations scoped by a namespaceSelector to this file's namespaces (other test
// files share the API server), and small waits.

const MAIN = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url));

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function eventually<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

export interface WebhookProcess {
  proc: ManagedProcess;
  port: number;
  healthPort: number;
  stop(): Promise<void>;
  metrics(): Promise<string>;
}

export interface WebhookRunOptions {
  operatorNamespace: string;
  secretName: string;
  configurationName: string;
  port?: number;
  extraArgs?: string[];
  /** Defaults to the shared control plane's (the fault suite runs its own). */
  kubeconfig?: string;
  runDir?: string;
}

function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, timeout: 2_000 }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

export async function startWebhookProcess(opts: WebhookRunOptions): Promise<WebhookProcess> {
  const port = opts.port ?? (await freePort());
  const healthPort = await freePort();
  const args = [
    MAIN,
    'webhook',
    `--kubeconfig=${opts.kubeconfig ?? inject('kubeconfigPath')}`,
    '--host=127.0.0.1',
    `--port=${port}`,
    `--health-port=${healthPort}`,
    '--tls-mode=bootstrap',
    `--namespace=${opts.operatorNamespace}`,
    `--tls-secret=${opts.secretName}`,
    '--ip-addresses=127.0.0.1',
    `--mutating-configuration=${opts.configurationName}`,
    `--validating-configuration=${opts.configurationName}`,
    ...(opts.extraArgs ?? []),
  ];
  // The name is found in the command line, so an orphan is reaped if the runner dies.
  const proc = new ManagedProcess('webhook', process.execPath, args, opts.runDir ?? inject('runDir'));
  await eventually(
    'the webhook to be ready',
    async () => {
      if (!proc.running) throw new Error(`the webhook exited:\n${proc.tail()}`);
      return (await httpGet(healthPort, '/readyz')).status === 200 ? true : undefined;
    },
    60_000,
  ).catch((err: Error) => {
    void proc.kill();
    throw new Error(`${err.message}\n${proc.tail()}`);
  });
  return {
    proc,
    port,
    healthPort,
    stop: () => proc.stop(),
    metrics: async () => (await httpGet(healthPort, '/metrics')).body,
  };
}

/** A namespace carrying this file's selector label, so only it goes through this file's webhook. */
export async function createSelectedNamespace(
  prefix: string,
  selector: Record<string, string>,
): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await kubectlOk(['create', 'namespace', name]);
  await kubectlOk(['label', 'namespace', name, ...Object.entries(selector).map(([k, v]) => `${k}=${v}`)]);
  return name;
}

/** Installs both configurations for a webhook on 127.0.0.1:port; caBundle is left for the webhook to patch. */
export async function installConfigurations(
  name: string,
  port: number,
  selector: Record<string, string>,
  extra: Pick<WebhookConfigurationOptions, 'mutateEveryObject'> = {},
): Promise<void> {
  const { mutating, validating } = buildWebhookConfigurations({
    name,
    target: { url: `https://127.0.0.1:${port}` },
    namespaceSelector: { matchLabels: selector },
    ...extra,
  });
  await kubectlOk(['apply', '-f', '-'], `${stringify(mutating)}---\n${stringify(validating)}`);
}

/**
 * A webhook process with both configurations installed for `selector`, returned once the API server
 * calls it for `activeIn` (a namespace carrying the selector).
 */
export async function startAdmissionWebhook(
  opts: WebhookRunOptions & { selector: Record<string, string>; activeIn: string },
): Promise<WebhookProcess> {
  const webhook = await startWebhookProcess(opts);
  await installConfigurations(opts.configurationName, webhook.port, opts.selector);
  await waitUntilWebhookActive(opts.activeIn);
  return webhook;
}

/**
 * Replaces the cluster's default ApiKeyPolicy with `policy` (deleted and created, so no field of the old
 * one stays); returns what puts the previous one back (without its server-set metadata, so it can be
 * created again).
 */
export async function replaceDefaultPolicy(policy: object): Promise<() => Promise<void>> {
  let saved: Record<string, unknown> | undefined;
  const got = await kubectl(['get', 'apikeypolicy', 'default', '-o', 'json']);
  if (got.code === 0) {
    const p = JSON.parse(got.stdout) as { metadata: Record<string, unknown> };
    saved = {
      ...p,
      metadata: { name: 'default', labels: p.metadata.labels, annotations: p.metadata.annotations },
    };
    await kubectlOk(['delete', 'apikeypolicy', 'default']);
  }
  await kubectlOk(['create', '-f', '-'], stringify(policy));
  return async () => {
    await kubectl(['delete', 'apikeypolicy', 'default', '--ignore-not-found']);
    if (saved) await kubectl(['create', '-f', '-'], JSON.stringify(saved));
  };
}

export async function deleteConfigurations(name: string): Promise<void> {
  await kubectl([
    'delete',
    'mutatingwebhookconfiguration,validatingwebhookconfiguration',
    name,
    '--ignore-not-found',
  ]);
}

export function apiKeyYaml(name: string, spec: Record<string, unknown>, namespace?: string): string {
  return stringify({
    apiVersion: 'keywarden.dev/v1alpha1',
    kind: 'ApiKey',
    metadata: { name, ...(namespace ? { namespace } : {}) },
    spec: { environment: 'staging', ...spec },
  });
}

/** Waits until the API server calls our webhook for this namespace (a dry-run create gets a default). */
export async function waitUntilWebhookActive(namespace: string): Promise<void> {
  await eventually(
    'the API server to call the webhook',
    async () => {
      const r = await kubectl(
        ['create', '--dry-run=server', '-n', namespace, '-o', 'json', '-f', '-'],
        apiKeyYaml('probe', {}),
      );
      if (r.code !== 0) return undefined;
      return (JSON.parse(r.stdout) as { spec: { expiresAt?: string } }).spec.expiresAt ? true : undefined;
    },
    90_000,
  );
}

export const rfc3339 = (ms: number) => formatRfc3339(new Date(ms));

/** The certificate a fresh TLS handshake with the webhook gets. */
export function servedCertificate(port: number): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const cert = socket.getPeerX509Certificate();
      socket.end();
      if (cert) resolve(cert);
      else reject(new Error('no peer certificate'));
    });
    socket.on('error', reject);
  });
}

/** Pod CREATE in any namespace: what the pod-injection webhook is called for (the chart's rule too). */
export const POD_CREATE_RULES = [
  { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: 'Namespaced' },
];

/** The pod-injection webhook entry, pointing at a webhook process started by startWebhookProcess. */
export function podInjectionWebhook(port: number, selector: Record<string, string>): Record<string, unknown> {
  return {
    name: INJECT_WEBHOOK_NAME,
    clientConfig: { url: `https://127.0.0.1:${port}${INJECT_PATH}` },
    rules: POD_CREATE_RULES,
    admissionReviewVersions: ['v1'],
    sideEffects: 'None',
    failurePolicy: 'Fail',
    timeoutSeconds: 5,
    namespaceSelector: { matchLabels: selector },
  };
}
