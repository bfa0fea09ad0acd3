import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { createCa, createSigningKeyPair, issueCert } from '../pki/index.ts';
import { ensureControlPlaneBinaries } from './binaries.ts';
import { freePort } from './ports.ts';
import { ManagedProcess, RUN_DIR_PREFIX, reapOrphans } from './processes.ts';

export interface LocalControlPlaneOptions {
  /** Run kube-controller-manager (garbage collection, namespace deletion, service accounts). Default true. */
  controllerManager?: boolean;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
  /** Keep the run folder (logs, etcd data) after stop. */
  keepRunDir?: boolean;
}

export interface AdminCredentials {
  caPem: string;
  certPem: string;
  keyPem: string;
}

/**
 * A real Kubernetes control plane on loopback: etcd, kube-apiserver (RBAC on, service-account signing
 * keys, client-certificate auth) and kube-controller-manager, with an admin kubeconfig for kubectl.
 */
export class LocalControlPlane {
  readonly runDir: string;
  readonly binDir: string;
  readonly server: string;
  readonly kubeconfigPath: string;
  readonly admin: AdminCredentials;
  readonly etcdUrl: string;
  readonly processes: Map<string, ManagedProcess>;
  readonly #startArgs: Map<string, { bin: string; args: string[] }>;
  readonly #keepRunDir: boolean;

  private constructor(init: {
    runDir: string;
    binDir: string;
    server: string;
    kubeconfigPath: string;
    admin: AdminCredentials;
    etcdUrl: string;
    keepRunDir: boolean;
  }) {
    this.runDir = init.runDir;
    this.binDir = init.binDir;
    this.server = init.server;
    this.kubeconfigPath = init.kubeconfigPath;
    this.admin = init.admin;
    this.etcdUrl = init.etcdUrl;
    this.#keepRunDir = init.keepRunDir;
    this.processes = new Map();
    this.#startArgs = new Map();
  }

  get kubectlPath(): string {
    return join(this.binDir, 'kubectl');
  }

  /** Environment for child processes (kubectl, keywarden) that should talk to this control plane. */
  get env(): Record<string, string> {
    return { KUBECONFIG: this.kubeconfigPath, PATH: `${this.binDir}:${process.env.PATH ?? ''}` };
  }

  static async start(options: LocalControlPlaneOptions = {}): Promise<LocalControlPlane> {
    const log = options.log ?? ((line: string) => process.stderr.write(`[control-plane] ${line}\n`));
    const reaped = reapOrphans();
    if (reaped > 0) log(`stopped ${reaped} process(es) left behind by an earlier run that crashed`);
    const binDir = await ensureControlPlaneBinaries();
    const runDir = mkdtempSync(join(tmpdir(), RUN_DIR_PREFIX));
    const pki = join(runDir, 'pki');
    mkdirSync(pki);

    const notAfter = new Date(Date.now() + 30 * 24 * 3600_000);
    const ca = await createCa('keywarden-local-ca', notAfter);
    const serving = await issueCert(ca, {
      commonName: 'kube-apiserver',
      dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc'],
      ipAddresses: ['127.0.0.1', '10.0.0.1'],
      usage: 'server',
      notAfter,
    });
    const admin = await issueCert(ca, {
      commonName: 'keywarden-admin',
      organization: 'system:masters',
      usage: 'client',
      notAfter,
    });
    const sa = await createSigningKeyPair();
    const files = {
      ca: join(pki, 'ca.crt'),
      servingCert: join(pki, 'apiserver.crt'),
      servingKey: join(pki, 'apiserver.key'),
      saPub: join(pki, 'sa.pub'),
      saKey: join(pki, 'sa.key'),
    };
    writeFileSync(files.ca, ca.certPem);
    writeFileSync(files.servingCert, serving.certPem);
    writeFileSync(files.servingKey, serving.keyPem, { mode: 0o600 });
    writeFileSync(files.saPub, sa.publicKeyPem);
    writeFileSync(files.saKey, sa.privateKeyPem, { mode: 0o600 });

    const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const server = `https://127.0.0.1:${apiPort}`;
    const kubeconfigPath = join(runDir, 'kubeconfig');
    const credentials: AdminCredentials = { caPem: ca.certPem, certPem: admin.certPem, keyPem: admin.keyPem };
    writeFileSync(kubeconfigPath, kubeconfigYaml(server, credentials), { mode: 0o600 });

    const plane = new LocalControlPlane({
      runDir,
      binDir,
      server,
      kubeconfigPath,
      admin: credentials,
      etcdUrl,
      keepRunDir: options.keepRunDir ?? false,
    });
    try {
      const t0 = Date.now();
      plane.#define('etcd', join(binDir, 'etcd'), [
        '--name=default',
        `--data-dir=${join(runDir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-cluster=default=http://127.0.0.1:${peerPort}`,
        '--unsafe-no-fsync=true', // test data: speed over durability
        '--log-level=warn',
      ]);
      await plane.startProcess('etcd');
      await plane.#waitHealthy('etcd', `${etcdUrl}/health`, 30_000);

      plane.#define('kube-apiserver', join(binDir, 'kube-apiserver'), [
        `--etcd-servers=${etcdUrl}`,
        `--cert-dir=${pki}`,
        `--tls-cert-file=${files.servingCert}`,
        `--tls-private-key-file=${files.servingKey}`,
        `--client-ca-file=${files.ca}`,
        `--secure-port=${apiPort}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        '--service-cluster-ip-range=10.0.0.0/24',
        '--allow-privileged=true',
        '--authorization-mode=RBAC',
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        `--service-account-key-file=${files.saPub}`,
        `--service-account-signing-key-file=${files.saKey}`,
        '--disable-admission-plugins=ServiceAccount',
        '--v=1',
      ]);
      await plane.startProcess('kube-apiserver');
      await plane.#waitHealthy('kube-apiserver', `${server}/readyz`, 90_000);

      if (options.controllerManager !== false && !process.env.KUBEBUILDER_ASSETS) {
        plane.#define('kube-controller-manager', join(binDir, 'kube-controller-manager'), [
          `--kubeconfig=${kubeconfigPath}`,
          '--controllers=garbagecollector,namespace,serviceaccount,serviceaccount-token,clusterrole-aggregation',
          `--service-account-private-key-file=${files.saKey}`,
          `--root-ca-file=${files.ca}`,
          '--leader-elect=false',
          '--secure-port=0',
          '--concurrent-gc-syncs=5',
          '--v=1',
        ]);
        await plane.startProcess('kube-controller-manager');
      }
      log(`ready in ${((Date.now() - t0) / 1000).toFixed(1)} s at ${server} (KUBECONFIG=${kubeconfigPath})`);
      return plane;
    } catch (err) {
      await plane.stop({ keepRunDir: true });
      throw err;
    }
  }

  #define(name: string, bin: string, args: string[]): void {
    this.#startArgs.set(name, { bin, args });
  }

  /** Starts (or restarts) one of the control plane's processes by name. */
  async startProcess(name: string): Promise<ManagedProcess> {
    const spec = this.#startArgs.get(name);
    if (!spec) throw new Error(`unknown control-plane process ${name}`);
    const existing = this.processes.get(name);
    if (existing?.running) return existing;
    const proc = new ManagedProcess(name, spec.bin, spec.args, this.runDir);
    this.processes.set(name, proc);
    return proc;
  }

  /** Stops one process (for restart and fault tests) and waits for it to exit. */
  async stopProcess(name: string, signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const proc = this.processes.get(name);
    if (!proc) return;
    if (signal === 'SIGKILL') await proc.kill();
    else await proc.stop();
  }

  /** Restarts a process and waits until it is healthy again. */
  async restartProcess(name: 'etcd' | 'kube-apiserver'): Promise<void> {
    await this.stopProcess(name);
    await this.startProcess(name);
    const url = name === 'etcd' ? `${this.etcdUrl}/health` : `${this.server}/readyz`;
    await this.#waitHealthy(name, url, 90_000);
  }

  async #waitHealthy(name: string, url: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let lastError = '';
    while (Date.now() < deadline) {
      const proc = this.processes.get(name);
      if (proc && !proc.running) {
        throw new Error(`${name} exited during start-up. Last log lines (${proc.logFile}):\n${proc.tail()}`);
      }
      try {
        const status = await this.#get(url);
        if (status === 200) return;
        lastError = `HTTP ${status}`;
      } catch (err) {
        lastError = (err as Error).message;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    const tail = this.processes.get(name)?.tail() ?? '';
    throw new Error(`${name} was not healthy at ${url} after ${timeoutMs / 1000} s (${lastError}).\n${tail}`);
  }

  #get(url: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const options = { timeout: 2_000 };
      const req = url.startsWith('https:')
        ? httpsRequest(url, {
            ...options,
            ca: this.admin.caPem,
            cert: this.admin.certPem,
            key: this.admin.keyPem,
          })
        : httpRequest(url, options);
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', reject);
      req.end();
    });
  }

  /** Stops every process (controller manager first, etcd last) and removes the run folder. */
  async stop(opts: { keepRunDir?: boolean } = {}): Promise<void> {
    const order = ['kube-controller-manager', 'kube-apiserver', 'etcd'];
    for (const name of order) await this.processes.get(name)?.stop();
    if (!(opts.keepRunDir ?? this.#keepRunDir)) rmSync(this.runDir, { recursive: true, force: true });
  }
}

export function kubeconfigYaml(server: string, creds: AdminCredentials): string {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      { name: 'keywarden-local', cluster: { server, 'certificate-authority-data': b64(creds.caPem) } },
    ],
    users: [
      {
        name: 'keywarden-admin',
        user: { 'client-certificate-data': b64(creds.certPem), 'client-key-data': b64(creds.keyPem) },
      },
    ],
    contexts: [{ name: 'keywarden-local', context: { cluster: 'keywarden-local', user: 'keywarden-admin' } }],
    'current-context': 'keywarden-local',
  });
}
