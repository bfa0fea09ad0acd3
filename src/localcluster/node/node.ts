import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { type CertificateAuthority, issueCert } from '../../pki/index.ts';
import { kubeconfigYaml } from '../kubeconfig.ts';
import type { ManagedProcess } from '../processes.ts';
import { cniConfig, containerdConfig, kubeletConfig, kubeProxyConfig } from './configs.ts';
import { CGROUP_FS, cgroupHierarchies, cgroupName, NODE_NAME, type NodePaths, nodePaths } from './layout.ts';
import { createNodeNetwork, type NodeNetwork, removeNodeNetwork } from './network.ts';

// A node of the local cluster in its own network namespace: containerd (own config, socket, root and
// state), runc, a CNI bridge, the kubelet, kube-scheduler and kube-proxy, each started by the control
// plane (which owns their lifecycle). The steps below run in the order startNode lists them.

const CNI_BIN_DIRS = ['/usr/lib/cni', '/opt/cni/bin'];

export interface NodeStartOptions {
  id: string;
  /** The control plane's run folder; the node's state lives in <runDir>/node. */
  runDir: string;
  binDir: string;
  ca: CertificateAuthority;
  server: string;
  net: NodeNetwork;
  /** docker-archive tarballs imported into the node's containerd before the kubelet starts. */
  images: string[];
  log: (line: string) => void;
  /** Registers and starts a managed process (the control plane owns their lifecycle). */
  start: (name: string, bin: string, args: string[]) => Promise<ManagedProcess>;
}

export interface NodeHandle {
  net: NodeNetwork;
  dir: string;
  containerdSocket: string;
  /** Imports a docker-archive tarball into the node's containerd (k8s.io namespace). */
  importImage(tarball: string): void;
}

/** Creates the node network (before the API server starts, which binds its host end). */
export function prepareNodeNetwork(id: string): NodeNetwork {
  removeNodeNetwork(id);
  return createNodeNetwork(id);
}

/** containerd (own config, socket, root and state), runc, CNI bridge, kubelet, kube-scheduler, kube-proxy. */
export async function startNode(o: NodeStartOptions): Promise<NodeHandle> {
  const paths = nodePaths(o.runDir);
  writeNodeFiles(o, paths);
  const t0 = Date.now();
  const importImage = await startContainerd(o, paths);
  // Credentials: each component its own client certificate, as a kubeadm node has.
  const kubeconfigFor = componentKubeconfigs(o, paths);
  await writeKubeletServingCert(o, paths);
  const cgroupRoot = makeCgroupRoot(o.id);
  await startKubelet(
    o,
    paths,
    cgroupRoot,
    await kubeconfigFor('kubelet', `system:node:${NODE_NAME}`, 'system:nodes'),
  );
  await startScheduler(o, await kubeconfigFor('kube-scheduler', 'system:kube-scheduler'));
  await startKubeProxy(o, paths, await kubeconfigFor('kube-proxy', 'system:kube-proxy'));
  o.log(`node processes started in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return { net: o.net, dir: paths.dir, containerdSocket: paths.socket, importImage };
}

/** A command run inside the node's network namespace. */
function inNetns(net: NodeNetwork, bin: string, args: string[]): [string, string[]] {
  return ['/usr/bin/nsenter', [`--net=/run/netns/${net.netns}`, '--', bin, ...args]];
}

/** The node's folders, containerd's and the CNI bridge's configuration, and the pods' resolv.conf. */
function writeNodeFiles(o: NodeStartOptions, paths: NodePaths): void {
  for (const d of [paths.dir, paths.cniConf, paths.pki, paths.kubelet]) mkdirSync(d, { recursive: true });
  const cniBinDir = CNI_BIN_DIRS.find((d) => existsSync(join(d, 'bridge')));
  if (!cniBinDir)
    throw new Error('the CNI plugins are missing (apt-get install -y containernetworking-plugins)');
  writeFileSync(paths.config, containerdConfig(paths, cniBinDir));
  writeFileSync(
    join(paths.cniConf, '10-keywarden.conflist'),
    JSON.stringify(cniConfig(o.id, o.net, paths.ipam)),
  );
  // Pods get no resolver off the machine (CoreDNS is not run: tests address Services by ClusterIP).
  writeFileSync(paths.resolv, 'nameserver 127.0.0.1\noptions ndots:1\n');
}

/** Starts containerd and imports the images; returns the image importer for later images. */
async function startContainerd(o: NodeStartOptions, paths: NodePaths): Promise<(tarball: string) => void> {
  await o.start('containerd', ...inNetns(o.net, '/usr/bin/containerd', ['--config', paths.config]));
  await waitFor('containerd', 30_000, () => existsSync(paths.socket));
  const importImage = (tarball: string) => {
    execFileSync('ctr', ['--address', paths.socket, '-n', 'k8s.io', 'images', 'import', tarball], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  };
  for (const image of o.images) {
    const t = Date.now();
    importImage(image);
    o.log(
      `  imported ${image.split('/').pop()} into the node's containerd (${((Date.now() - t) / 1000).toFixed(1)} s)`,
    );
  }
  return importImage;
}

const notAfter = () => new Date(Date.now() + 30 * 24 * 3600_000);

/** Issues a component its client certificate and writes its kubeconfig; returns the file's path. */
function componentKubeconfigs(
  o: NodeStartOptions,
  paths: NodePaths,
): (component: string, commonName: string, organization?: string) => Promise<string> {
  return async (component, commonName, organization) => {
    const cert = await issueCert(o.ca, {
      commonName,
      ...(organization ? { organization } : {}),
      usage: 'client',
      notAfter: notAfter(),
    });
    const file = join(paths.pki, `${component}.kubeconfig`);
    const creds = { caPem: o.ca.certPem, certPem: cert.certPem, keyPem: cert.keyPem };
    writeFileSync(file, kubeconfigYaml(o.server, creds, { cluster: 'local', user: 'component' }), {
      mode: 0o600,
    });
    return file;
  };
}

/** The kubelet's serving certificate (logs and exec reach it at the node's address) and the CA. */
async function writeKubeletServingCert(o: NodeStartOptions, paths: NodePaths): Promise<void> {
  const serving = await issueCert(o.ca, {
    commonName: NODE_NAME,
    dnsNames: [NODE_NAME],
    ipAddresses: [o.net.nodeIp],
    usage: 'server',
    notAfter: notAfter(),
  });
  writeFileSync(join(paths.pki, 'kubelet.crt'), serving.certPem);
  writeFileSync(join(paths.pki, 'kubelet.key'), serving.keyPem, { mode: 0o600 });
  writeFileSync(join(paths.pki, 'ca.crt'), o.ca.certPem);
}

/** The kubelet's cgroups live under one folder of our own in every hierarchy (reaped by name). */
function makeCgroupRoot(id: string): string {
  const cgroupRoot = `/${cgroupName(id)}`;
  for (const hierarchy of cgroupHierarchies())
    mkdirSync(join(CGROUP_FS, hierarchy, cgroupRoot), { recursive: true });
  // A new cgroup weighs as much as one busy process; on a loaded machine the node's pods then miss
  // their probes while starting. Weigh the node as two CPUs' worth of work (cgroup v1 cpu.shares).
  try {
    writeFileSync(join(CGROUP_FS, 'cpu', cgroupRoot, 'cpu.shares'), String(2048 * 2));
  } catch {
    // cgroup v2 or no cpu controller: leave the default
  }
  return cgroupRoot;
}

async function startKubelet(
  o: NodeStartOptions,
  paths: NodePaths,
  cgroupRoot: string,
  kubeconfig: string,
): Promise<void> {
  const config = join(paths.kubelet, 'config.yaml');
  writeFileSync(config, stringify(kubeletConfig(paths, o.net, cgroupRoot)));
  await o.start(
    'kubelet',
    ...inNetns(o.net, join(o.binDir, 'kubelet'), [
      `--config=${config}`,
      `--kubeconfig=${kubeconfig}`,
      `--root-dir=${join(paths.kubelet, 'root')}`,
      `--cert-dir=${join(paths.kubelet, 'pki')}`,
      `--hostname-override=${NODE_NAME}`,
      `--node-ip=${o.net.nodeIp}`,
      '--v=1',
    ]),
  );
}

async function startScheduler(o: NodeStartOptions, kubeconfig: string): Promise<void> {
  await o.start('kube-scheduler', join(o.binDir, 'kube-scheduler'), [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    '--leader-elect=false',
    '--bind-address=127.0.0.1',
    '--secure-port=0',
    '--v=1',
  ]);
}

async function startKubeProxy(o: NodeStartOptions, paths: NodePaths, kubeconfig: string): Promise<void> {
  const config = join(paths.dir, 'kube-proxy.yaml');
  writeFileSync(config, stringify(kubeProxyConfig(o.net, kubeconfig)));
  await o.start(
    'kube-proxy',
    ...inNetns(o.net, join(o.binDir, 'kube-proxy'), [`--config=${config}`, '--v=1']),
  );
}

async function waitFor(what: string, timeoutMs: number, ready: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`${what} was not ready after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Waits until the kubelet has registered the node, it is Ready and its not-ready taint is gone. */
export async function waitNodeReady(kubectl: string, kubeconfig: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    last = await new Promise<string>((resolve) => {
      const jsonpath = '{.status.conditions[?(@.type=="Ready")].status} {.spec.taints[*].key}';
      const child = spawn(
        kubectl,
        ['--kubeconfig', kubeconfig, 'get', 'node', NODE_NAME, '-o', `jsonpath=${jsonpath}`],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.on('close', () => resolve(out.trim()));
    });
    if (last.startsWith('True') && !last.includes('not-ready')) return;
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(
    `node ${NODE_NAME} was not Ready and untainted after ${timeoutMs / 1000} s (last: ${last})`,
  );
}
