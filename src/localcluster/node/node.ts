import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { type CertificateAuthority, issueCert } from '../../pki/index.ts';
import type { ManagedProcess } from '../processes.ts';
import { createNodeNetwork, type NodeNetwork, removeNodeNetwork } from './network.ts';

const NODE_NAME = 'keywarden-node';
/** The pause image containerd starts every pod sandbox from (built locally, see tools/image/build.sh). */
const SANDBOX_IMAGE = 'localhost/keywarden-pause:1';
const CNI_NETWORK_PREFIX = 'keywarden-';
const CNI_BIN_DIRS = ['/usr/lib/cni', '/opt/cni/bin'];
const CGROUP_FS = '/sys/fs/cgroup';

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

function nodeDir(runDir: string): string {
  return join(runDir, 'node');
}

function cgroupName(id: string): string {
  return `keywarden-${id}`;
}

/** Creates the node network (before the API server starts, which binds its host end). */
export function prepareNodeNetwork(id: string): NodeNetwork {
  removeNodeNetwork(id);
  return createNodeNetwork(id);
}

/** containerd (own config, socket, root and state), runc, CNI bridge, kubelet, kube-scheduler, kube-proxy. */
export async function startNode(o: NodeStartOptions): Promise<NodeHandle> {
  const dir = nodeDir(o.runDir);
  const paths = {
    config: join(dir, 'containerd.toml'),
    socket: join(dir, 'containerd.sock'),
    root: join(dir, 'containerd-root'),
    state: join(dir, 'containerd-state'),
    runc: join(dir, 'runc'),
    cniConf: join(dir, 'cni'),
    ipam: join(dir, 'cni-ipam'),
    pki: join(dir, 'pki'),
    kubelet: join(dir, 'kubelet'),
    resolv: join(dir, 'resolv.conf'),
  };
  for (const d of [dir, paths.cniConf, paths.pki, paths.kubelet]) mkdirSync(d, { recursive: true });
  const inNetns = (bin: string, args: string[]): [string, string[]] => [
    '/usr/bin/nsenter',
    [`--net=/run/netns/${o.net.netns}`, '--', bin, ...args],
  ];
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

  const t0 = Date.now();
  await o.start('containerd', ...inNetns('/usr/bin/containerd', ['--config', paths.config]));
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

  // Credentials: each component its own client certificate, as a kubeadm node has.
  const notAfter = new Date(Date.now() + 30 * 24 * 3600_000);
  const kubeconfigFor = async (component: string, commonName: string, organization?: string) => {
    const cert = await issueCert(o.ca, {
      commonName,
      ...(organization ? { organization } : {}),
      usage: 'client',
      notAfter,
    });
    const file = join(paths.pki, `${component}.kubeconfig`);
    writeFileSync(file, componentKubeconfig(o.server, o.ca.certPem, cert.certPem, cert.keyPem), {
      mode: 0o600,
    });
    return file;
  };
  const serving = await issueCert(o.ca, {
    commonName: NODE_NAME,
    dnsNames: [NODE_NAME],
    ipAddresses: [o.net.nodeIp],
    usage: 'server',
    notAfter,
  });
  writeFileSync(join(paths.pki, 'kubelet.crt'), serving.certPem);
  writeFileSync(join(paths.pki, 'kubelet.key'), serving.keyPem, { mode: 0o600 });
  writeFileSync(join(paths.pki, 'ca.crt'), o.ca.certPem);

  // The kubelet's cgroups live under one folder of our own in every hierarchy (reaped by name).
  const cgroupRoot = `/${cgroupName(o.id)}`;
  for (const hierarchy of cgroupHierarchies())
    mkdirSync(join(CGROUP_FS, hierarchy, cgroupRoot), { recursive: true });
  // A new cgroup weighs as much as one busy process; on a loaded machine the node's pods then miss
  // their probes while starting. Weigh the node as two CPUs' worth of work (cgroup v1 cpu.shares).
  try {
    writeFileSync(join(CGROUP_FS, 'cpu', cgroupRoot, 'cpu.shares'), String(2048 * 2));
  } catch {
    // cgroup v2 or no cpu controller: leave the default
  }
  const kubeletConfig = join(paths.kubelet, 'config.yaml');
  writeFileSync(
    kubeletConfig,
    stringify({
      apiVersion: 'kubelet.config.k8s.io/v1beta1',
      kind: 'KubeletConfiguration',
      address: o.net.nodeIp,
      readOnlyPort: 0,
      healthzBindAddress: '127.0.0.1',
      cgroupDriver: 'cgroupfs',
      cgroupRoot,
      failCgroupV1: false,
      failSwapOn: false,
      containerRuntimeEndpoint: `unix://${paths.socket}`,
      authentication: {
        anonymous: { enabled: false },
        webhook: { enabled: true },
        x509: { clientCAFile: join(paths.pki, 'ca.crt') },
      },
      authorization: { mode: 'Webhook' },
      tlsCertFile: join(paths.pki, 'kubelet.crt'),
      tlsPrivateKeyFile: join(paths.pki, 'kubelet.key'),
      clusterDomain: 'cluster.local',
      resolvConf: paths.resolv,
      // A test node on a shared disk: never evict or garbage-collect images on disk pressure.
      evictionHard: { 'memory.available': '1Mi', 'nodefs.available': '1%', 'imagefs.available': '1%' },
      imageGCHighThresholdPercent: 100,
      imageGCLowThresholdPercent: 99,
      serializeImagePulls: false,
      syncFrequency: '10s',
      nodeStatusUpdateFrequency: '5s',
      localStorageCapacityIsolation: false,
    }),
  );
  await o.start(
    'kubelet',
    ...inNetns(join(o.binDir, 'kubelet'), [
      `--config=${kubeletConfig}`,
      `--kubeconfig=${await kubeconfigFor('kubelet', `system:node:${NODE_NAME}`, 'system:nodes')}`,
      `--root-dir=${join(paths.kubelet, 'root')}`,
      `--cert-dir=${join(paths.kubelet, 'pki')}`,
      `--hostname-override=${NODE_NAME}`,
      `--node-ip=${o.net.nodeIp}`,
      '--v=1',
    ]),
  );

  const schedulerKubeconfig = await kubeconfigFor('kube-scheduler', 'system:kube-scheduler');
  await o.start('kube-scheduler', join(o.binDir, 'kube-scheduler'), [
    `--kubeconfig=${schedulerKubeconfig}`,
    `--authentication-kubeconfig=${schedulerKubeconfig}`,
    `--authorization-kubeconfig=${schedulerKubeconfig}`,
    '--leader-elect=false',
    '--bind-address=127.0.0.1',
    '--secure-port=0',
    '--v=1',
  ]);

  const proxyConfig = join(dir, 'kube-proxy.yaml');
  writeFileSync(
    proxyConfig,
    stringify({
      apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
      kind: 'KubeProxyConfiguration',
      mode: 'iptables',
      clientConnection: { kubeconfig: await kubeconfigFor('kube-proxy', 'system:kube-proxy') },
      hostnameOverride: NODE_NAME,
      bindAddress: o.net.nodeIp,
      clusterCIDR: o.net.podCidr,
      nodePortAddresses: [`${o.net.nodeIp}/32`],
      healthzBindAddress: '127.0.0.1:10256',
      metricsBindAddress: '127.0.0.1:10249',
      // The host's conntrack limits are not ours to change.
      conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
      // Pod -> Service -> pod on the same bridge: SNAT inside the node so replies come back the same way.
      iptables: { masqueradeAll: true, localhostNodePorts: false },
    }),
  );
  await o.start('kube-proxy', ...inNetns(join(o.binDir, 'kube-proxy'), [`--config=${proxyConfig}`, '--v=1']));
  o.log(`node processes started in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return { net: o.net, dir, containerdSocket: paths.socket, importImage };
}

function containerdConfig(
  p: { socket: string; root: string; state: string; runc: string; cniConf: string },
  cniBinDir: string,
): string {
  return `version = 2
root = "${p.root}"
state = "${p.state}"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "${p.socket}"
[ttrpc]
  address = "${p.socket}.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${SANDBOX_IMAGE}"
  # This sandbox lacks CAP_SYS_RESOURCE: the kubelet's negative oom_score_adj would fail in runc.
  restrict_oom_score_adj = true
  # Pod network namespaces under our state folder, not /var/run/netns, so teardown finds them.
  netns_mounts_under_state_dir = true
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "${p.runc}"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${cniBinDir}"
    conf_dir = "${p.cniConf}"
    max_conf_num = 1
`;
}

function cniConfig(id: string, net: NodeNetwork, ipamDir: string): object {
  return {
    cniVersion: '0.4.0',
    name: `${CNI_NETWORK_PREFIX}${id}`,
    plugins: [
      {
        type: 'bridge',
        bridge: `kwbr${id}`,
        isGateway: true,
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          dataDir: ipamDir,
          ranges: [[{ subnet: net.podCidr }]],
          routes: [{ dst: '0.0.0.0/0' }],
        },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  };
}

function componentKubeconfig(server: string, caPem: string, certPem: string, keyPem: string): string {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'local', cluster: { server, 'certificate-authority-data': b64(caPem) } }],
    users: [
      {
        name: 'component',
        user: { 'client-certificate-data': b64(certPem), 'client-key-data': b64(keyPem) },
      },
    ],
    contexts: [{ name: 'local', context: { cluster: 'local', user: 'component' } }],
    'current-context': 'local',
  });
}

/** cgroup v1 hierarchies (one per mounted controller set, and `unified` in hybrid mode); on v2 the root. */
function cgroupHierarchies(): string[] {
  if (existsSync(join(CGROUP_FS, 'cgroup.controllers'))) return [''];
  return readdirSync(CGROUP_FS, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name);
}

async function waitFor(what: string, timeoutMs: number, ready: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`${what} was not ready after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

// ---------------------------------------------------------------------------------------------------
// Teardown: the same steps for a clean stop and for leftovers of a SIGKILLed run.

/** Every process in our cgroups (the pods' containers), depth-first. */
function cgroupPids(id: string): number[] {
  const pids = new Set<number>();
  const walk = (path: string) => {
    let entries: string[] = [];
    try {
      entries = readdirSync(path, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
    } catch {
      return;
    }
    for (const e of entries) walk(join(path, e));
    try {
      for (const line of readFileSync(join(path, 'cgroup.procs'), 'utf8').split('\n'))
        if (line) pids.add(Number(line));
    } catch {
      // gone meanwhile
    }
  };
  for (const h of cgroupHierarchies()) walk(join(CGROUP_FS, h, cgroupName(id)));
  return [...pids];
}

function removeCgroups(id: string): void {
  const rmTree = (path: string) => {
    let entries: string[] = [];
    try {
      entries = readdirSync(path, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
    } catch {
      return;
    }
    for (const e of entries) rmTree(join(path, e));
    try {
      rmdirSync(path);
    } catch {
      // still has a process, or already gone
    }
  };
  for (const h of cgroupHierarchies()) rmTree(join(CGROUP_FS, h, cgroupName(id)));
}

/** containerd shims started for this node (they outlive containerd by design). */
function shimPids(socket: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmd.includes('containerd-shim') && cmd.includes(socket)) pids.push(Number(entry));
    } catch {
      // exited
    }
  }
  return pids;
}

function mountsUnder(dir: string): string[] {
  const mounts: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mountPoint = line.split(' ')[4]?.replace(/\\040/g, ' ');
    if (mountPoint && (mountPoint === dir || mountPoint.startsWith(`${dir}/`))) mounts.push(mountPoint);
  }
  // Deepest first.
  return mounts.sort((a, b) => b.length - a.length);
}

function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

/**
 * Removes everything a node made: pod processes, shims, mounts, cgroups, the network namespace (with
 * the bridge, veths and iptables rules in it) and the CNI result cache. Safe to call twice, and on the
 * leftovers of a run that was SIGKILLed (its control-plane processes are already dead then).
 */
export async function teardownNode(id: string, runDir: string): Promise<void> {
  const dir = nodeDir(runDir);
  const socket = join(dir, 'containerd.sock');
  for (let round = 0; round < 5; round++) {
    const pids = [...cgroupPids(id), ...shimPids(socket)];
    if (pids.length === 0) break;
    killAll(pids);
    await new Promise((r) => setTimeout(r, 300));
  }
  for (const mount of mountsUnder(dir)) {
    try {
      execFileSync('umount', ['-l', mount], { stdio: 'ignore' });
    } catch {
      // already unmounted
    }
  }
  removeCgroups(id);
  removeNodeNetwork(id);
  const cniCache = '/var/lib/cni/results';
  try {
    for (const f of readdirSync(cniCache))
      if (f.startsWith(`${CNI_NETWORK_PREFIX}${id}-`)) rmSync(join(cniCache, f));
  } catch {
    // no cache
  }
  if (mountsUnder(dir).length === 0) rmSync(dir, { recursive: true, force: true });
}

/** Run ids that own cgroup folders (for reaping after a crash). */
export function listNodeCgroupIds(): string[] {
  const ids = new Set<string>();
  for (const h of cgroupHierarchies()) {
    try {
      for (const e of readdirSync(join(CGROUP_FS, h))) if (e.startsWith('keywarden-')) ids.add(e.slice(10));
    } catch {
      // hierarchy not readable
    }
  }
  return [...ids];
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
