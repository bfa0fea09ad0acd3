import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ApiKeySpec } from '../../../src/api/index.ts';
import type { KubeRest } from '../../../src/kube/rest.ts';
import { generateSigningKeyPem } from '../../../src/validator/identity/signer.ts';
import { call } from '../http/client.ts';
import { createApiKey, ensureNamespace, getApiKey, OPERATOR_NS, revealCli } from '../kube/apikeys.ts';
import { applyCrds } from '../kube/kubectl.ts';
import { eventually, KeywardenProcess, startControllerProcess } from '../processes/keywarden-process.ts';

// Helpers for the validator integration tests: an upstream that records what reaches it, the
// validator as its own process, and keys minted by the real controller.

export interface Upstream {
  server: Server;
  url: string;
  requests: { url: string; headers: IncomingHttpHeaders }[];
}

export async function startUpstream(): Promise<Upstream> {
  const requests: Upstream['requests'] = [];
  const server = createServer((req, res) => {
    requests.push({ url: req.url ?? '', headers: req.headers });
    req.resume();
    req.on('end', () => {
      // /…/slow answers after a while: a request in flight while the validator shuts down.
      setTimeout(
        () => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ ok: true }));
        },
        req.url?.endsWith('/slow') ? 1_500 : 0,
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

export function writeConfig(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'kw-validator-'));
  const file = join(dir, 'validator.yaml');
  writeFileSync(file, yaml);
  return file;
}

export interface RunningValidator {
  proc: KeywardenProcess;
  port: number;
  adminPort: number;
  /** Forward auth and verify next to a reverse proxy (loopback). */
  internalPort: number;
}

/** `keywarden validator --config FILE` as a child process; resolves once /readyz answers 200. */
export async function startValidator(
  configFile: string,
  env: Record<string, string> = {},
): Promise<RunningValidator> {
  const proc = new KeywardenProcess(
    [
      'validator',
      '--config',
      configFile,
      '--port',
      '0',
      '--admin-port',
      '0',
      '--internal-port',
      '0',
      '--host',
      '127.0.0.1',
    ],
    env,
  );
  const line = await proc.waitForLog('validator listening', 60_000);
  const port = Number(line.port);
  const adminPort = Number(line.adminPort);
  const internalPort = Number(line.internalPort);
  await eventually(
    async () => ((await call(adminPort, { path: '/readyz' })).status === 200 ? true : undefined),
    60_000,
    50,
  );
  return { proc, port, adminPort, internalPort };
}

export async function createSigningSecret(rest: KubeRest, namespace: string, name: string): Promise<void> {
  await rest.create(`/api/v1/namespaces/${namespace}/secrets`, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name },
    type: 'Opaque',
    stringData: { 'signing-key.pem': generateSigningKeyPem('EdDSA') },
  });
}

export interface ControllerAndValidator {
  controller: KeywardenProcess;
  /** The controller's /healthz, /readyz and /metrics port. */
  controllerHealthPort: number;
  upstream: Upstream;
  v: RunningValidator;
  /** The validator's config file, to start more validators like it. */
  config: string;
  /** Stops the validator and the controller and closes the upstream (any of them may be stopped already). */
  stop(): Promise<void>;
}

/**
 * The CRDs and namespaces, the real controller for `ns` (once it leads, under lease `leaseName`), an
 * upstream, the `validator-jwt` signing Secret in `ns`, and a validator with the config that
 * `validatorYaml` gives for the upstream's URL. What started is stopped again if a later step fails.
 */
export async function startControllerAndValidator(
  rest: KubeRest,
  ns: string,
  opts: { leaseName: string; controllerArgs?: string[]; validatorYaml: (upstreamUrl: string) => string },
): Promise<ControllerAndValidator> {
  await applyCrds();
  await ensureNamespace(rest, OPERATOR_NS);
  await ensureNamespace(rest, ns);
  const controller = startControllerProcess(ns, [
    '--lease-name',
    opts.leaseName,
    ...(opts.controllerArgs ?? []),
  ]);
  let upstream: Upstream | undefined;
  let v: RunningValidator | undefined;
  const stop = async () => {
    await v?.proc.stop();
    await controller.stop();
    upstream?.server.close();
  };
  try {
    const started = await controller.waitForLog('controller started');
    await controller.waitForLog('became leader');
    upstream = await startUpstream();
    await createSigningSecret(rest, ns, 'validator-jwt');
    const config = writeConfig(opts.validatorYaml(upstream.url));
    v = await startValidator(config);
    return { controller, controllerHealthPort: Number(started.adminPort), upstream, v, config, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Creates an ApiKey, waits for the controller to make it Active, and reveals it once. */
export async function mintKey(
  rest: KubeRest,
  ns: string,
  name: string,
  spec: Partial<ApiKeySpec> = {},
): Promise<string> {
  await createApiKey(rest, ns, name, spec);
  await eventually(
    async () => ((await getApiKey(rest, ns, name)).status?.state === 'Active' ? true : undefined),
    20_000,
    50,
  );
  let last = '';
  const r = await eventually(
    async () => {
      const out = await revealCli(ns, name);
      last = `exit ${out.code}: ${out.stderr.trim()}`;
      return out.code === 0 ? out : undefined;
    },
    40_000,
    100,
  ).catch((err: Error) => {
    throw new Error(`${err.message}; last reveal of ${ns}/${name}: ${last}`);
  });
  return r.stdout.trim();
}
