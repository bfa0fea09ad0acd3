import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { type CertificateAuthority, createCa, createSigningKeyPair, issueCert } from '../pki/index.ts';
import { ensureControlPlaneBinaries } from './binaries.ts';
import { type NodeNetwork, removeNodeNetwork } from './node/network.ts';
import { type NodeHandle, prepareNodeNetwork, startNode, teardownNode, waitNodeReady } from './node/node.ts';
import { reapNodes } from './node/reap.ts';
import { freePort } from './ports.ts';
import { ManagedProcess, RUN_DIR_PREFIX, reapOrphans } from './processes.ts';

export interface LocalControlPlaneOptions {
  /** Run kube-controller-manager (garbage collection, namespace deletion, service accounts). Default true. */
  controllerManager?: boolean;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
  /** Keep the run folder (logs, etcd data) after stop. */
  keepRunDir?: boolean;
  /**
   * Add a node (containerd, runc, CNI bridge, kubelet, kube-scheduler, kube-proxy) in a network
   * namespace of its own; the API server then binds the host end of the node's veth instead of
   * 127.0.0.1. `images`: docker-archive tarballs to import into the node's containerd.
   */
  node?: { images: string[] };
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
  /** The node, when started with `node`. */
  node: NodeHandle | undefined;
  readonly nodeNetwork: NodeNetwork | undefined;

  private constructor(init: {
    ca: CertificateAuthority;
    nodeNetwork: NodeNetwork | undefined;
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
    this.nodeNetwork = init.nodeNetwork;
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
    // Node leftovers first: their mounts live in run folders reapOrphans deletes.
    const reapedNodes = await reapNodes();
    if (reapedNodes > 0) log(`removed ${reapedNodes} node(s) left behind by an earlier run that crashed`);
    const reaped = reapOrphans();
    if (reaped > 0) log(`stopped ${reaped} process(es) left behind by an earlier run that crashed`);
    const binDir = await ensureControlPlaneBinaries();
    const runDir = mkdtempSync(join(tmpdir(), RUN_DIR_PREFIX));
    const id = runId(runDir);
    let nodeNetwork: NodeNetwork | undefined;
    if (options.node) {
      // Recorded before anything is made, so a crash from here on is reaped.
      writeFileSync(join(runDir, 'pids.json'), JSON.stringify({ owner: process.pid, children: [] }));
      nodeNetwork = prepareNodeNetwork(id);
      log(
        `node network: namespace ${nodeNetwork.netns}, API server on ${nodeNetwork.hostIp}, pods ${nodeNetwork.podCidr}, services ${nodeNetwork.serviceCidr}`,
      );
    }
    const bindAddress = nodeNetwork?.hostIp ?? '127.0.0.1';
    const serviceCidr = nodeNetwork?.serviceCidr ?? '10.0.0.0/24';
    const pki = join(runDir, 'pki');
    mkdirSync(pki);

    const notAfter = new Date(Date.now() + 30 * 24 * 3600_000);
    const ca = await createCa('keywarden-local-ca', notAfter);
    const serving = await issueCert(ca, {
      commonName: 'kube-apiserver',
      dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc'],
      ipAddresses: [
        '127.0.0.1',
        ...(nodeNetwork ? [nodeNetwork.hostIp, nodeNetwork.kubernetesServiceIp] : ['10.0.0.1']),
      ],
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
      adminCert: join(pki, 'admin.crt'),
      adminKey: join(pki, 'admin.key'),
    };
    writeFileSync(files.ca, ca.certPem);
    writeFileSync(files.servingCert, serving.certPem);
    writeFileSync(files.servingKey, serving.keyPem, { mode: 0o600 });
    writeFileSync(files.saPub, sa.publicKeyPem);
    writeFileSync(files.saKey, sa.privateKeyPem, { mode: 0o600 });
    writeFileSync(files.adminCert, admin.certPem);
    writeFileSync(files.adminKey, admin.keyPem, { mode: 0o600 });

    const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const server = `https://${bindAddress}:${apiPort}`;
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
      ca,
      nodeNetwork,
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
        `--bind-address=${bindAddress}`,
        `--advertise-address=${bindAddress}`,
        `--service-cluster-ip-range=${serviceCidr}`,
        '--allow-privileged=true',
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        `--service-account-key-file=${files.saPub}`,
        `--service-account-signing-key-file=${files.saKey}`,
        ...(nodeNetwork
          ? [
              // The kubelet is authorized as a node; pods get ServiceAccount tokens.
              '--authorization-mode=Node,RBAC',
              '--enable-admission-plugins=NodeRestriction',
              `--kubelet-client-certificate=${files.adminCert}`,
              `--kubelet-client-key=${files.adminKey}`,
              // Webhooks and aggregated APIs are dialled at their endpoints (pod addresses routed
              // through the node): kube-proxy's Service rules live in the node's namespace.
              '--enable-aggregator-routing=true',
              // The node's name resolves nowhere: logs and exec go to its InternalIP.
              '--kubelet-preferred-address-types=InternalIP',
              `--service-node-port-range=30000-32767`,
            ]
          : ['--authorization-mode=RBAC', '--disable-admission-plugins=ServiceAccount']),
        '--v=1',
      ]);
      await plane.startProcess('kube-apiserver');
      await plane.#waitHealthy('kube-apiserver', `${server}/readyz`, 90_000);

      if (options.controllerManager !== false && !process.env.KUBEBUILDER_ASSETS) {
        plane.#define('kube-controller-manager', join(binDir, 'kube-controller-manager'), [
          `--kubeconfig=${kubeconfigPath}`,
          `--controllers=${[...KCM_CONTROLLERS, ...(nodeNetwork ? KCM_NODE_CONTROLLERS : [])].join(',')}`,
          `--service-account-private-key-file=${files.saKey}`,
          `--root-ca-file=${files.ca}`,
          '--leader-elect=false',
          '--secure-port=0',
          '--concurrent-gc-syncs=5',
          '--v=1',
        ]);
        await plane.startProcess('kube-controller-manager');
      }
      if (options.node && nodeNetwork) {
        plane.node = await startNode({
          id,
          runDir,
          binDir,
          ca,
          server,
          net: nodeNetwork,
          images: options.node.images,
          log,
          start: async (name, bin, args) => {
            plane.#define(name, bin, args);
            return plane.startProcess(name);
          },
        });
        await waitNodeReady(plane.kubectlPath, kubeconfigPath, 120_000);
        log(`node ready; NodePorts on ${nodeNetwork.nodeIp}`);
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
    const order = [
      'kube-proxy',
      'kube-scheduler',
      'kubelet',
      'containerd',
      'kube-controller-manager',
      'kube-apiserver',
      'etcd',
    ];
    for (const name of order) await this.processes.get(name)?.stop();
    if (this.nodeNetwork) {
      await teardownNode(this.nodeNetwork.id, this.runDir);
      removeNodeNetwork(this.nodeNetwork.id);
    }
    if (!(opts.keepRunDir ?? this.#keepRunDir)) rmSync(this.runDir, { recursive: true, force: true });
  }
}

const KCM_CONTROLLERS = [
  'garbagecollector',
  'namespace',
  'serviceaccount',
  'serviceaccount-token',
  'clusterrole-aggregation',
];
// What Deployments, Services and pods with ServiceAccount tokens need on a node.
const KCM_NODE_CONTROLLERS = [
  'deployment',
  'replicaset',
  'endpoint',
  'endpointslice',
  'root-ca-cert-publisher',
  'disruption',
  'podgc',
  // Lifts the node's not-ready taint once the kubelet reports Ready.
  'nodelifecycle',
];

/** The run id: the random suffix of the run folder, carried by every name a node makes. */
function runId(runDir: string): string {
  return runDir.slice(runDir.lastIndexOf(RUN_DIR_PREFIX) + RUN_DIR_PREFIX.length);
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
