import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { RECORD_KEYS_CONFIGMAP } from '../../api/hash-record.ts';
import { LocalControlPlane } from '../../localcluster/cluster.ts';
import { freePort } from '../../localcluster/ports.ts';
import { ManagedProcess } from '../../localcluster/processes.ts';
import { NODE_FLAGS } from '../../runtime/node-flags.ts';
import { buildWebhookConfigurations } from '../../webhook/configurations.ts';
import type { DevBackend, Endpoint } from './backend.ts';
import { DEMO_API_SERVER, DEMO_NS, demoRoutes, OPERATOR_NS, REPO } from './demo.ts';
import { runOk } from './run.ts';
import { type DevCluster, devCluster, say, step } from './session.ts';
import { eventually } from './wait.ts';

const MAIN = join(REPO, 'src/cli/main.ts');
const WEBHOOK_CONFIGURATION = 'keywarden';

/** Every port a part listens on, picked free on loopback. */
interface Ports {
  webhook: number;
  webhookHealth: number;
  controllerHealth: number;
  validator: number;
  validatorAdmin: number;
  demo: number;
}

/**
 * The process-only mode: the control plane with no node, and keywarden's parts (webhook, controller, a
 * validator in front of the demo API) as processes on this machine. Fast, and no root needed.
 */
export class ProcessBackend implements DevBackend {
  // Outside the run folder, so the trail outlives the teardown and can be queried afterwards.
  readonly auditDir = join(REPO, '.keywarden', 'dev-audit');
  readonly #children: ManagedProcess[] = [];
  #cluster: DevCluster | undefined;
  #ports: Ports | undefined;

  async start(): Promise<DevCluster> {
    step('starting the local control plane (etcd, kube-apiserver, kube-controller-manager)');
    const cluster = devCluster(await LocalControlPlane.start());
    this.#cluster = cluster;
    rmSync(this.auditDir, { recursive: true, force: true });
    const [webhook, webhookHealth, controllerHealth, validator, validatorAdmin, demo] = await Promise.all(
      Array.from({ length: 6 }, () => freePort()),
    );
    this.#ports = { webhook, webhookHealth, controllerHealth, validator, validatorAdmin, demo } as Ports;

    step('installing the CRDs and namespaces');
    await cluster.kubectl.show(['apply', '--server-side', '-f', 'crds/']);
    await cluster.kubectl.show([
      'wait',
      '--for=condition=Established',
      'crd/apikeys.keywarden.dev',
      'crd/apikeypolicies.keywarden.dev',
    ]);
    for (const ns of [OPERATOR_NS, DEMO_NS]) await cluster.kubectl.ok(['create', 'namespace', ns]);
    await this.#startWebhook(cluster, this.#ports);
    step('starting the controller');
    this.#keywarden('controller', [
      'controller',
      '--operator-namespace',
      OPERATOR_NS,
      '--admin-port',
      String(this.#ports.controllerHealth),
      '--audit-dir',
      this.auditDir,
    ]);
    await healthy(this.#ports.controllerHealth);
    return cluster;
  }

  async #startWebhook(cluster: DevCluster, ports: Ports): Promise<void> {
    step('starting the admission webhook (TLS bootstrapped by itself) and registering it');
    this.#keywarden('webhook', [
      'webhook',
      ...[
        '--host',
        '127.0.0.1',
        '--port',
        String(ports.webhook),
        '--admin-port',
        String(ports.webhookHealth),
      ],
      ...['--namespace', OPERATOR_NS, '--ip-addresses', '127.0.0.1', '--dns-names', 'localhost'],
      ...[
        '--mutating-configuration',
        WEBHOOK_CONFIGURATION,
        '--validating-configuration',
        WEBHOOK_CONFIGURATION,
      ],
    ]);
    const { mutating, validating } = buildWebhookConfigurations({
      name: WEBHOOK_CONFIGURATION,
      target: { url: `https://127.0.0.1:${ports.webhook}` },
    });
    await cluster.kubectl.show(['apply', '-f', '-'], `${stringify(mutating)}---\n${stringify(validating)}`);
    await healthy(ports.webhookHealth);
    await eventually('caBundle in the webhook configurations', 60_000, async () =>
      (
        await cluster.kubectl.ok([
          'get',
          'validatingwebhookconfiguration',
          WEBHOOK_CONFIGURATION,
          '-o',
          'jsonpath={.webhooks[0].clientConfig.caBundle}',
        ])
      ).length > 0
        ? true
        : undefined,
    );
  }

  async startDemo(cluster: DevCluster, environment: string): Promise<string> {
    const ports = this.#ports as Ports;
    step(`starting a ${environment} validator in front of a demo API`);
    this.#node('demo-api', [DEMO_API_SERVER], { PORT: String(ports.demo) });
    await eventually('the demo API to answer', 30_000, async () =>
      (await fetch(`http://127.0.0.1:${ports.demo}/`)).ok ? true : undefined,
    );
    await cluster.kubectl.ok(
      ['apply', '-f', '-'],
      await runOk(
        process.execPath,
        [MAIN, 'validator', 'signing-key', '-n', OPERATOR_NS, '--name', 'validator-jwt'],
        {
          env: cluster.env,
        },
      ),
    );
    const configPath = join(cluster.plane.runDir, 'validator.yaml');
    writeFileSync(
      configPath,
      stringify({
        environment,
        server: { host: '127.0.0.1', port: ports.validator, adminPort: ports.validatorAdmin },
        keyStore: {
          namespaces: [DEMO_NS],
          recordKeys: { configMap: { namespace: OPERATOR_NS, name: RECORD_KEYS_CONFIGMAP } },
        },
        upstream: { url: `http://127.0.0.1:${ports.demo}` },
        routes: demoRoutes(),
        unmappedRoutes: 'deny',
        audit: { directory: this.auditDir, flushInterval: '1s' },
        identity: {
          jwt: {
            issuer: 'keywarden-dev',
            audience: 'demo-api',
            ttl: '60s',
            signingKey: { secret: { namespace: OPERATOR_NS, name: 'validator-jwt' } },
          },
        },
      }),
    );
    this.#keywarden('validator', ['validator', '--config', configPath]);
    await healthy(ports.validatorAdmin);
    return `http://127.0.0.1:${ports.validator}`;
  }

  endpoints(): Endpoint[] {
    const p = this.#ports as Ports;
    const admin = (port: number) => `http://127.0.0.1:${port}/metrics  (also /healthz, /readyz)`;
    return [
      ['kube-apiserver', this.#cluster?.plane.server ?? ''],
      ['validator', `http://127.0.0.1:${p.validator}  (reverse proxy in front of the demo API)`],
      ['validator metrics', admin(p.validatorAdmin)],
      ['controller metrics', admin(p.controllerHealth)],
      ['webhook', `https://127.0.0.1:${p.webhook}  (AdmissionReviews; TLS from its own CA)`],
      ['webhook metrics', admin(p.webhookHealth)],
      ['demo API', `http://127.0.0.1:${p.demo}  (the validator's upstream)`],
    ];
  }

  printLogs(): void {
    for (const c of this.#children)
      process.stderr.write(`\n--- last lines of ${c.name} (${c.logFile}) ---\n${c.tail(15)}\n`);
  }

  async stop(): Promise<void> {
    for (const c of this.#children.reverse()) await c.stop();
    await this.#cluster?.plane.stop();
    if (existsSync(this.auditDir)) await printAudit(this.auditDir);
  }

  /** Starts a Node script as a child that the teardown stops; its log is in the run folder. */
  #node(name: string, args: string[], env: Record<string, string> = {}): void {
    const cluster = this.#cluster as DevCluster;
    this.#children.push(
      new ManagedProcess(name, process.execPath, args, cluster.plane.runDir, { ...cluster.env, ...env }),
    );
  }

  /** A keywarden part, run as the image runs it (the same Node flags). */
  #keywarden(name: string, args: string[]): void {
    this.#node(name, [...NODE_FLAGS, MAIN, ...args]);
  }
}

const healthy = (port: number) =>
  eventually(
    `/readyz on port ${port}`,
    90_000,
    async () => ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok ? true : undefined),
    200,
  );

/** The audit trail the parts wrote (Parquet, flushed on shutdown), read back with `keywarden audit`. */
async function printAudit(dir: string): Promise<void> {
  step(`the audit trail (Parquet, flushed on shutdown): keywarden audit usage --dir ${dir}`);
  try {
    process.stdout.write(await runOk(process.execPath, [MAIN, 'audit', 'usage', '--dir', dir]));
    process.stdout.write(
      await runOk(process.execPath, [MAIN, 'audit', 'events', '--dir', dir, '--type', 'lifecycle']),
    );
  } catch (err) {
    say(`could not read the audit trail: ${(err as Error).message}`);
  }
}
