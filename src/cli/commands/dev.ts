import { execFileSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import express from 'express';
import { stringify } from 'yaml';
import { RECORD_KEYS_CONFIGMAP } from '../../api/hash-record.ts';
import { type RunningConsole, startConsole } from '../../console/server.ts';
import { loadKubeConfig } from '../../kube/config.ts';
import { KubeRest } from '../../kube/rest.ts';
import { LocalControlPlane } from '../../localcluster/cluster.ts';
import { freePort } from '../../localcluster/ports.ts';
import { ManagedProcess } from '../../localcluster/processes.ts';
import { buildWebhookConfigurations } from '../../webhook/configurations.ts';
import { printTable } from '../output.ts';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const MAIN = join(REPO, 'src/cli/main.ts');
export const DEV_SUCCESS_LINE = 'keywarden dev: the whole system is up and every check behaved as expected.';
/** Heads the list of endpoints printed once everything is up (tests read the lines under it). */
export const ENDPOINTS_HEADING = '  endpoints:';

interface Check {
  what: string;
  expect: number;
  got: number;
  detail: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}${last ? ` (${last})` : ''}`);
}

/** A stand-in for the user's API: it echoes what the validator told it about the caller. */
function startDemoApi(port: number): Promise<Server> {
  const app = express();
  app.all('/{*path}', (req, res) => {
    res.json({
      path: req.path,
      keyId: req.header('x-keywarden-key-id'),
      apiKey: req.header('x-keywarden-apikey-name'),
      jwt: Boolean(req.header('x-keywarden-jwt') ?? req.header('authorization')),
    });
  });
  return new Promise((resolve) => {
    const s = app.listen(port, '127.0.0.1', () => resolve(s));
  });
}

/**
 * `keywarden dev`: the whole system on this machine, the same steps as the kind script: a real control
 * plane, the CRDs, webhook, controller and a validator in front of a demo API, the examples applied, a
 * key revealed, allowed and denied requests sent and shown. Ctrl-C tears it all down.
 */
export function registerDev(program: Command): void {
  program
    .command('dev')
    .description('bring keywarden up locally on a real control plane and show it working (Ctrl-C stops it)')
    .option('--exit', 'tear down right after the demo instead of waiting for Ctrl-C')
    .action(async (opts: { exit?: boolean }) => {
      const step = (s: string) => process.stdout.write(`\n==> ${s}\n`);
      step('starting the local control plane (etcd, kube-apiserver, kube-controller-manager)');
      const plane = await LocalControlPlane.start();
      const env = { ...process.env, ...plane.env, KEYWARDEN_LOG_LEVEL: 'info' };
      const children: ManagedProcess[] = [];
      let demo: Server | undefined;
      let webConsole: RunningConsole | undefined;
      const kubectl = (args: string[], input?: string, quiet = false) => {
        if (!quiet) process.stdout.write(`$ kubectl ${args.join(' ')}\n`);
        const out = execFileSync(plane.kubectlPath, args, {
          env,
          cwd: REPO,
          input,
          stdio: ['pipe', 'pipe', 'pipe'],
        }).toString();
        if (!quiet) process.stdout.write(out);
        return out;
      };
      const keywarden = (name: string, args: string[]) => {
        const p = new ManagedProcess(name, process.execPath, [MAIN, ...args], plane.runDir, env);
        children.push(p);
        return p;
      };
      // Outside the run folder, so the trail outlives the teardown and can be queried afterwards.
      const auditDir = join(REPO, '.keywarden', 'dev-audit');
      rmSync(auditDir, { recursive: true, force: true });
      const healthy = (port: number, path = '/readyz') =>
        until(
          `${path} on port ${port}`,
          async () => ((await fetch(`http://127.0.0.1:${port}${path}`)).ok ? true : undefined),
          90_000,
        );
      try {
        step('installing the CRDs and namespaces');
        kubectl(['apply', '--server-side', '-f', 'crds/']);
        kubectl([
          'wait',
          '--for=condition=Established',
          'crd/apikeys.keywarden.dev',
          'crd/apikeypolicies.keywarden.dev',
        ]);
        kubectl(['create', 'namespace', 'keywarden-system'], undefined, true);
        kubectl(['create', 'namespace', 'demo'], undefined, true);

        step('starting the admission webhook (TLS bootstrapped by itself) and registering it');
        const [webhookPort, webhookHealth, controllerHealth, validatorPort, validatorAdmin, demoPort] =
          await Promise.all(Array.from({ length: 6 }, () => freePort()));
        keywarden('webhook', [
          'webhook',
          '--host',
          '127.0.0.1',
          '--port',
          String(webhookPort),
          '--health-port',
          String(webhookHealth),
          '--namespace',
          'keywarden-system',
          '--ip-addresses',
          '127.0.0.1',
          '--dns-names',
          'localhost',
          '--mutating-configuration',
          'keywarden',
          '--validating-configuration',
          'keywarden',
        ]);
        const { mutating, validating } = buildWebhookConfigurations({
          name: 'keywarden',
          target: { url: `https://127.0.0.1:${webhookPort}` },
        });
        kubectl(['apply', '-f', '-'], `${stringify(mutating)}---\n${stringify(validating)}`);
        await healthy(webhookHealth as number);
        await until('caBundle in the webhook configurations', async () =>
          kubectl(
            [
              'get',
              'validatingwebhookconfiguration',
              'keywarden',
              '-o',
              'jsonpath={.webhooks[0].clientConfig.caBundle}',
            ],
            undefined,
            true,
          ).length > 0
            ? true
            : undefined,
        );

        step('starting the controller');
        keywarden('controller', [
          'controller',
          '--operator-namespace',
          'keywarden-system',
          '--health-port',
          String(controllerHealth),
          '--audit-dir',
          auditDir,
        ]);
        await healthy(controllerHealth as number);

        step('applying the policy and the example ApiKeys (the webhook defaults expiry, labels and sources)');
        kubectl(['apply', '-f', 'examples/apikeypolicy.yaml']);
        for (const f of [
          'apikey-production-private.yaml',
          'apikey-staging-public.yaml',
          'apikey-development.yaml',
        ]) {
          kubectl(['apply', '-n', 'demo', '-f', `examples/${f}`]);
        }
        await until('every example key to be Active', async () => {
          const states = kubectl(
            ['get', 'apikeys', '-n', 'demo', '-o', 'jsonpath={.items[*].status.state}'],
            undefined,
            true,
          ).split(' ');
          return states.length === 3 && states.every((s) => s === 'Active') ? true : undefined;
        });
        kubectl(['get', 'apikeys', '-n', 'demo']);

        step('the API server refuses what the rules forbid');
        const refusals: string[] = [];
        for (const [what, args] of [
          [
            'an expiry two years ahead',
            [
              '-n',
              'demo',
              'patch',
              'apikey',
              'dev-laptop',
              '--type=merge',
              '-p',
              `{"spec":{"expiresAt":"${new Date(Date.now() + 730 * 86_400_000).toISOString()}"}}`,
            ],
          ],
          [
            'a change of environment',
            [
              '-n',
              'demo',
              'patch',
              'apikey',
              'dev-laptop',
              '--type=merge',
              '-p',
              '{"spec":{"environment":"production"}}',
            ],
          ],
        ] as [string, string[]][]) {
          try {
            kubectl(args, undefined, true);
            throw new Error(`the API server accepted ${what}`);
          } catch (err) {
            const msg = String((err as { stderr?: Buffer }).stderr ?? (err as Error).message).trim();
            if (msg.startsWith('the API server accepted')) throw err;
            refusals.push(`${what}: ${msg.split('\n')[0]}`);
          }
        }
        for (const r of refusals) process.stdout.write(`  refused ${r}\n`);

        step('revealing keys (each copy can be revealed once)');
        const reveal = (name: string) =>
          execFileSync(process.execPath, [MAIN, 'reveal', name, '-n', 'demo'], {
            env,
            stdio: ['ignore', 'pipe', 'pipe'],
          })
            .toString()
            .trim();
        const stagingKey = await until('the staging key to be revealable', async () =>
          reveal('webapp-public'),
        );
        const devKey = await until('the development key to be revealable', async () => reveal('dev-laptop'));
        process.stdout.write(`  webapp-public: ${stagingKey.slice(0, 24)}… (printed once, copy destroyed)\n`);
        let second = '';
        try {
          reveal('webapp-public');
        } catch (err) {
          second = String((err as { stderr?: Buffer }).stderr ?? '').trim();
        }
        process.stdout.write(`  second reveal: ${second.split('\n')[0]}\n`);

        step('starting a staging validator in front of a demo API');
        demo = await startDemoApi(demoPort as number);
        kubectl(
          ['apply', '-f', '-'],
          execFileSync(
            process.execPath,
            [MAIN, 'validator', 'signing-key', '-n', 'keywarden-system', '--name', 'validator-jwt'],
            { env },
          ).toString(),
        );
        const configPath = join(plane.runDir, 'validator.yaml');
        writeFileSync(
          configPath,
          stringify({
            environment: 'staging',
            server: { host: '127.0.0.1', port: validatorPort, adminPort: validatorAdmin },
            keyStore: {
              namespaces: ['demo'],
              recordKeys: { configMap: { namespace: 'keywarden-system', name: RECORD_KEYS_CONFIGMAP } },
            },
            upstream: { url: `http://127.0.0.1:${demoPort}` },
            routes: [
              { path: '/v1/sessions', methods: ['POST'], permission: 'sessions:create' },
              { path: '/v1/tickets', methods: ['POST'], permission: 'tickets:create' },
              { path: '/v1/devices/**', methods: ['GET'], permission: 'devices:read' },
            ],
            unmappedRoutes: 'deny',
            audit: { directory: auditDir, flushInterval: '1s' },
            identity: {
              jwt: {
                issuer: 'keywarden-dev',
                audience: 'demo-api',
                ttl: '60s',
                signingKey: { secret: { namespace: 'keywarden-system', name: 'validator-jwt' } },
              },
            },
          }),
        );
        keywarden('validator', ['validator', '--config', configPath]);
        await healthy(validatorAdmin as number);

        step('sending requests through the validator');
        const base = `http://127.0.0.1:${validatorPort}`;
        const call = async (method: string, path: string, key?: string) => {
          const res = await fetch(base + path, {
            method,
            headers: key ? { authorization: `Bearer ${key}` } : {},
          });
          const body = await res.text();
          let detail = body.slice(0, 80);
          try {
            const j = JSON.parse(body) as { error?: { code?: string }; keyId?: string };
            detail = j.error?.code ?? (j.keyId ? `upstream saw key id ${j.keyId}` : detail);
          } catch {
            // not JSON
          }
          if (res.status === 429) detail += ` (Retry-After: ${res.headers.get('retry-after')})`;
          return { status: res.status, detail };
        };
        const checks: Check[] = [];
        const check = async (what: string, expect: number, method: string, path: string, key?: string) => {
          const r = await call(method, path, key);
          checks.push({ what, expect, got: r.status, detail: r.detail });
          return r;
        };
        await check('public staging key, POST /v1/sessions', 200, 'POST', '/v1/sessions', stagingKey);
        await check(
          'same key, GET /v1/devices/42 (no devices:read)',
          403,
          'GET',
          '/v1/devices/42',
          stagingKey,
        );
        await check('no key at all', 401, 'POST', '/v1/sessions');
        await check(
          'a mistyped key',
          401,
          'POST',
          '/v1/sessions',
          `${stagingKey.slice(0, -1)}${stagingKey.endsWith('x') ? 'y' : 'x'}`,
        );
        await check('a development key at a staging validator', 401, 'POST', '/v1/sessions', devKey);
        await check('an unmapped route', 403, 'GET', '/admin', stagingKey);
        let limited = { status: 0, detail: '' };
        for (let i = 0; i < 30 && limited.status !== 429; i++)
          limited = await call('POST', '/v1/tickets', stagingKey);
        checks.push({
          what: 'a burst over 10 requests/s',
          expect: 429,
          got: limited.status,
          detail: limited.detail,
        });
        kubectl(
          [
            '-n',
            'demo',
            'patch',
            'apikey',
            'webapp-public',
            '--type=merge',
            '-p',
            '{"spec":{"disabled":true}}',
          ],
          undefined,
          true,
        );
        const disabled = await until(
          'the disabled key to be refused',
          async () => {
            const r = await call('POST', '/v1/sessions', stagingKey);
            return r.status === 401 ? r : undefined;
          },
          10_000,
        );
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
          throw new Error(
            `${failed.length} request(s) did not get the expected answer (see the table above)`,
          );

        step('starting the console (the API Keys page, acting as the admin of this control plane)');
        webConsole = await startConsole({
          rest: new KubeRest(loadKubeConfig(plane.kubeconfigPath)),
          operatorNamespace: 'keywarden-system',
          address: '127.0.0.1',
          port: 0,
          auditDir,
        });
        // Every endpoint a user will want, one per line: `  <what>  <url>  (<note>)`.
        const admin = (port: unknown) => `http://127.0.0.1:${port}/metrics  (also /healthz, /readyz)`;
        const endpoints: [string, string][] = [
          ['kube-apiserver', plane.server],
          ['validator', `${base}  (reverse proxy in front of the demo API)`],
          ['validator metrics', admin(validatorAdmin)],
          ['controller metrics', admin(controllerHealth)],
          ['webhook', `https://127.0.0.1:${webhookPort}  (AdmissionReviews; TLS from its own CA)`],
          ['webhook metrics', admin(webhookHealth)],
          ['demo API', `http://127.0.0.1:${demoPort}  (the validator's upstream)`],
          ['console', `${webConsole.loginUrl}  (the API Keys page; the sign-in link works once)`],
        ];
        process.stdout.write(
          `\n${DEV_SUCCESS_LINE}\n  export KUBECONFIG=${plane.kubeconfigPath}\n  export PATH=${plane.binDir}:$PATH\n` +
            `${ENDPOINTS_HEADING}\n${endpoints.map(([what, url]) => `    ${what.padEnd(19)} ${url}\n`).join('')}` +
            `  logs: ${plane.runDir}/*.log\n`,
        );
        if (!opts.exit) {
          process.stdout.write('Press Ctrl-C to tear everything down.\n');
          await new Promise<void>((resolve) => {
            process.once('SIGINT', resolve);
            process.once('SIGTERM', resolve);
          });
        }
      } catch (err) {
        for (const c of children)
          process.stderr.write(`\n--- last lines of ${c.name} (${c.logFile}) ---\n${c.tail(15)}\n`);
        throw err;
      } finally {
        step('tearing down');
        await webConsole?.close();
        for (const c of children.reverse()) await c.stop();
        demo?.close();
        await plane.stop();
        if (existsSync(auditDir)) {
          step(`the audit trail (Parquet, flushed on shutdown): keywarden audit usage --dir ${auditDir}`);
          try {
            process.stdout.write(
              execFileSync(process.execPath, [MAIN, 'audit', 'usage', '--dir', auditDir], { env }).toString(),
            );
            process.stdout.write(
              execFileSync(
                process.execPath,
                [MAIN, 'audit', 'events', '--dir', auditDir, '--type', 'lifecycle'],
                { env },
              ).toString(),
            );
          } catch (err) {
            process.stdout.write(
              `  could not read the audit trail: ${String((err as { stderr?: Buffer }).stderr ?? err)}\n`,
            );
          }
        }
      }
    });
}
