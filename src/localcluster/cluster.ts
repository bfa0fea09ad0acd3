import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CertificateAuthority } from '../pki/index.ts';
import { ensureControlPlaneBinaries } from './binaries.ts';
import {
  apiServerArgs,
  type ControlPlaneAddresses,
  controllerManagerArgs,
  etcdArgs,
} from './control-plane-args.ts';
import { type AdminCredentials, type ControlPlanePki, writeControlPlanePki } from './control-plane-pki.ts';
import { kubeconfigYaml } from './kubeconfig.ts';
import { type NodeNetwork, removeNodeNetwork } from './node/network.ts';
import { type NodeHandle, prepareNodeNetwork, startNode, waitNodeReady } from './node/node.ts';
import { reapNodes } from './node/reap.ts';
import { teardownNode } from './node/teardown.ts';
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

export type { AdminCredentials } from './control-plane-pki.ts';

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
    await reapLeftovers(log);
    const binDir = await ensureControlPlaneBinaries();
    const runDir = mkdtempSync(join(tmpdir(), RUN_DIR_PREFIX));
    const nodeNetwork = options.node ? makeNodeNetwork(runDir, log) : undefined;
    const pki = await writeControlPlanePki(runDir, nodeNetwork);
    const addresses = await pickAddresses(nodeNetwork);
    const server = `https://${addresses.bindAddress}:${addresses.apiPort}`;
    const kubeconfigPath = join(runDir, 'kubeconfig');
    writeFileSync(kubeconfigPath, kubeconfigYaml(server, pki.admin), { mode: 0o600 });

    const plane = new LocalControlPlane({
      runDir,
      binDir,
      server,
      kubeconfigPath,
      admin: pki.admin,
      etcdUrl: addresses.etcdUrl,
      keepRunDir: options.keepRunDir ?? false,
      nodeNetwork,
    });
    try {
      const t0 = Date.now();
      await plane.#startEtcd(addresses);
      await plane.#startApiServer(pki, addresses);
      if (options.controllerManager !== false && !process.env.KUBEBUILDER_ASSETS) {
        await plane.#startControllerManager(pki);
      }
      if (options.node && nodeNetwork) await plane.#startNode(pki.ca, nodeNetwork, options.node.images, log);
      log(`ready in ${((Date.now() - t0) / 1000).toFixed(1)} s at ${server} (KUBECONFIG=${kubeconfigPath})`);
      return plane;
    } catch (err) {
      await plane.stop({ keepRunDir: true });
      throw err;
    }
  }

  async #startEtcd(addresses: ControlPlaneAddresses): Promise<void> {
    this.#define('etcd', join(this.binDir, 'etcd'), etcdArgs(join(this.runDir, 'etcd'), addresses));
    await this.startProcess('etcd');
    await this.#waitHealthy('etcd', `${this.etcdUrl}/health`, 30_000);
  }

  async #startApiServer(pki: ControlPlanePki, addresses: ControlPlaneAddresses): Promise<void> {
    const args = apiServerArgs(pki, addresses, this.nodeNetwork);
    this.#define('kube-apiserver', join(this.binDir, 'kube-apiserver'), args);
    await this.startProcess('kube-apiserver');
    await this.#waitHealthy('kube-apiserver', `${this.server}/readyz`, 90_000);
  }

  async #startControllerManager(pki: ControlPlanePki): Promise<void> {
    const args = controllerManagerArgs(this.kubeconfigPath, pki, this.nodeNetwork !== undefined);
    this.#define('kube-controller-manager', join(this.binDir, 'kube-controller-manager'), args);
    await this.startProcess('kube-controller-manager');
  }

  async #startNode(
    ca: CertificateAuthority,
    net: NodeNetwork,
    images: string[],
    log: (line: string) => void,
  ): Promise<void> {
    this.node = await startNode({
      id: runId(this.runDir),
      runDir: this.runDir,
      binDir: this.binDir,
      ca,
      server: this.server,
      net,
      images,
      log,
      start: async (name, bin, args) => {
        this.#define(name, bin, args);
        return this.startProcess(name);
      },
    });
    await waitNodeReady(this.kubectlPath, this.kubeconfigPath, 120_000);
    log(`node ready; NodePorts on ${net.nodeIp}`);
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

/** Processes and nodes left behind by an earlier run that crashed. Nodes first: their mounts live in run folders reapOrphans deletes. */
async function reapLeftovers(log: (line: string) => void): Promise<void> {
  const reapedNodes = await reapNodes();
  if (reapedNodes > 0) log(`removed ${reapedNodes} node(s) left behind by an earlier run that crashed`);
  const reaped = reapOrphans();
  if (reaped > 0) log(`stopped ${reaped} process(es) left behind by an earlier run that crashed`);
}

/** The node's network namespace and veth (before the API server starts: it binds the host end). */
function makeNodeNetwork(runDir: string, log: (line: string) => void): NodeNetwork {
  // Recorded before anything is made, so a crash from here on is reaped.
  writeFileSync(join(runDir, 'pids.json'), JSON.stringify({ owner: process.pid, children: [] }));
  const net = prepareNodeNetwork(runId(runDir));
  log(
    `node network: namespace ${net.netns}, API server on ${net.hostIp}, pods ${net.podCidr}, services ${net.serviceCidr}`,
  );
  return net;
}

async function pickAddresses(nodeNetwork: NodeNetwork | undefined): Promise<ControlPlaneAddresses> {
  const [etcdPort, etcdPeerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  return {
    etcdUrl: `http://127.0.0.1:${etcdPort}`,
    etcdPeerPort,
    apiPort,
    bindAddress: nodeNetwork?.hostIp ?? '127.0.0.1',
    serviceCidr: nodeNetwork?.serviceCidr ?? '10.0.0.0/24',
  };
}

/** The run id: the random suffix of the run folder, carried by every name a node makes. */
function runId(runDir: string): string {
  return runDir.slice(runDir.lastIndexOf(RUN_DIR_PREFIX) + RUN_DIR_PREFIX.length);
}
