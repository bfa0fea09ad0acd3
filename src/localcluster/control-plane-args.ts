import type { ControlPlanePki } from './control-plane-pki.ts';
import type { NodeNetwork } from './node/network.ts';

// The command lines of etcd, kube-apiserver and kube-controller-manager in a local control plane.

/** Where the control plane listens. */
export interface ControlPlaneAddresses {
  etcdUrl: string;
  etcdPeerPort: number;
  apiPort: number;
  /** The address the API server binds: loopback, or the host end of the node's veth. */
  bindAddress: string;
  serviceCidr: string;
}

export function etcdArgs(dataDir: string, a: ControlPlaneAddresses): string[] {
  const peer = `http://127.0.0.1:${a.etcdPeerPort}`;
  return [
    '--name=default',
    `--data-dir=${dataDir}`,
    `--listen-client-urls=${a.etcdUrl}`,
    `--advertise-client-urls=${a.etcdUrl}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=default=${peer}`,
    '--unsafe-no-fsync=true', // test data: speed over durability
    '--log-level=warn',
  ];
}

export function apiServerArgs(
  pki: ControlPlanePki,
  a: ControlPlaneAddresses,
  nodeNetwork: NodeNetwork | undefined,
): string[] {
  const { files } = pki;
  return [
    `--etcd-servers=${a.etcdUrl}`,
    `--cert-dir=${pki.dir}`,
    `--tls-cert-file=${files.servingCert}`,
    `--tls-private-key-file=${files.servingKey}`,
    `--client-ca-file=${files.ca}`,
    `--secure-port=${a.apiPort}`,
    `--bind-address=${a.bindAddress}`,
    `--advertise-address=${a.bindAddress}`,
    `--service-cluster-ip-range=${a.serviceCidr}`,
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
  ];
}

export function controllerManagerArgs(
  kubeconfigPath: string,
  pki: ControlPlanePki,
  withNode: boolean,
): string[] {
  return [
    `--kubeconfig=${kubeconfigPath}`,
    `--controllers=${[...KCM_CONTROLLERS, ...(withNode ? KCM_NODE_CONTROLLERS : [])].join(',')}`,
    `--service-account-private-key-file=${pki.files.saKey}`,
    `--root-ca-file=${pki.files.ca}`,
    '--leader-elect=false',
    '--secure-port=0',
    '--concurrent-gc-syncs=5',
    '--v=1',
  ];
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
