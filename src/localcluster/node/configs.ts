import { join } from 'node:path';
import { CNI_NETWORK_PREFIX, NODE_NAME, type NodePaths } from './layout.ts';
import type { NodeNetwork } from './network.ts';

// The configuration files of a local node's processes: containerd, the CNI bridge, the kubelet and
// kube-proxy.

/** The pause image containerd starts every pod sandbox from (built locally, see tools/image/build.sh). */
const SANDBOX_IMAGE = 'localhost/keywarden-pause:1';

export function containerdConfig(
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

export function cniConfig(id: string, net: NodeNetwork, ipamDir: string): object {
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

export function kubeletConfig(paths: NodePaths, net: NodeNetwork, cgroupRoot: string): object {
  return {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    address: net.nodeIp,
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
  };
}

export function kubeProxyConfig(net: NodeNetwork, kubeconfig: string): object {
  return {
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    mode: 'iptables',
    clientConnection: { kubeconfig },
    hostnameOverride: NODE_NAME,
    bindAddress: net.nodeIp,
    clusterCIDR: net.podCidr,
    nodePortAddresses: [`${net.nodeIp}/32`],
    healthzBindAddress: '127.0.0.1:10256',
    metricsBindAddress: '127.0.0.1:10249',
    // The host's conntrack limits are not ours to change.
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
    // Pod -> Service -> pod on the same bridge: SNAT inside the node so replies come back the same way.
    iptables: { masqueradeAll: true, localhostNodePorts: false },
  };
}
