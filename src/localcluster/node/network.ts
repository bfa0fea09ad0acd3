import { execFileSync } from 'node:child_process';

/**
 * The node's network: its own network namespace (kubelet, containerd, kube-proxy and every pod live in
 * or under it), joined to the host by one veth pair. The API server binds the host end, so pods and the
 * kubelet reach it and the host reaches pods and NodePorts. The namespace has no default route, so
 * nothing is routed or NATed off the machine; kube-proxy's and CNI's iptables rules live inside it and
 * vanish with it. Every name carries the run id, so a later run can find and remove leftovers.
 */
export interface NodeNetwork {
  id: string;
  /** `ip netns` name, also /run/netns/<name>. */
  netns: string;
  hostVeth: string;
  nodeVeth: string;
  /** API server address (host end of the veth). */
  hostIp: string;
  /** The node's InternalIP (namespace end of the veth). */
  nodeIp: string;
  /** Pod range on the CNI bridge (host-local IPAM). */
  podCidr: string;
  /** Service ClusterIP range (only ever in kube-proxy's rules inside the namespace). */
  serviceCidr: string;
  /** First Service address: the `kubernetes` Service. */
  kubernetesServiceIp: string;
}

export const NETNS_PREFIX = 'kw-node-';
// veth names: at most 15 characters.
const VETH_PREFIX = 'kwv';

function ip(args: string[], opts: { netns?: string; allowFail?: boolean } = {}): string {
  const argv = opts.netns ? ['-n', opts.netns, ...args] : args;
  try {
    return execFileSync('ip', argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    if (opts.allowFail) return '';
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`ip ${argv.join(' ')} failed: ${stderr.trim()}`);
  }
}

/** IPv4 ranges the host already uses (addresses and routes in every table). */
function hostRanges(): [number, number][] {
  const text = `${ip(['-4', 'route', 'show', 'table', 'all'])}\n${ip(['-4', '-o', 'addr', 'show'])}`;
  const ranges: [number, number][] = [];
  for (const m of text.matchAll(/(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?/g)) {
    const base = toInt(m[1] as string);
    const bits = m[2] === undefined ? 32 : Number(m[2]);
    if (bits === 0) continue; // the default route overlaps everything by definition
    const size = 2 ** (32 - bits);
    const start = base - (base % size);
    ranges.push([start, start + size - 1]);
  }
  return ranges;
}

function toInt(addr: string): number {
  return addr.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

function toAddr(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

/**
 * A free /23 inside 10.200.0.0/13 (pods: the first /24; the veth link and Services: the second),
 * chosen from the run id and checked against the host's addresses and routes.
 */
function chooseRanges(id: string): Omit<NodeNetwork, 'id' | 'netns' | 'hostVeth' | 'nodeVeth'> {
  const used = hostRanges();
  const start = toInt('10.200.0.0');
  const blocks = 2 ** 10; // /23 blocks in a /13
  const seed = [...id].reduce((n, c) => (n * 31 + c.charCodeAt(0)) % blocks, 7);
  for (let i = 0; i < blocks; i++) {
    const base = start + ((seed + i) % blocks) * 512;
    const end = base + 511;
    if (used.some(([a, b]) => a <= end && b >= base)) continue;
    return {
      podCidr: `${toAddr(base)}/24`,
      hostIp: toAddr(base + 257),
      nodeIp: toAddr(base + 258),
      serviceCidr: `${toAddr(base + 384)}/25`,
      kubernetesServiceIp: toAddr(base + 385),
    };
  }
  throw new Error('no free /23 in 10.200.0.0/13 for the node network; the host uses all of it');
}

/** Creates the namespace, the veth pair and the routes. */
export function createNodeNetwork(id: string): NodeNetwork {
  const ranges = chooseRanges(id);
  const net: NodeNetwork = {
    id,
    netns: `${NETNS_PREFIX}${id}`,
    hostVeth: `${VETH_PREFIX}${id}h`,
    nodeVeth: `${VETH_PREFIX}${id}n`,
    ...ranges,
  };
  ip(['netns', 'add', net.netns]);
  ip(['link', 'add', net.hostVeth, 'type', 'veth', 'peer', 'name', net.nodeVeth]);
  ip(['link', 'set', net.nodeVeth, 'netns', net.netns]);
  ip(['addr', 'add', `${net.hostIp}/30`, 'dev', net.hostVeth]);
  ip(['link', 'set', net.hostVeth, 'up']);
  ip(['addr', 'add', `${net.nodeIp}/30`, 'dev', net.nodeVeth], { netns: net.netns });
  ip(['link', 'set', net.nodeVeth, 'up'], { netns: net.netns });
  ip(['link', 'set', 'lo', 'up'], { netns: net.netns });
  // The host reaches pods (the API server calls webhooks at endpoint addresses) through the node.
  ip(['route', 'add', net.podCidr, 'via', net.nodeIp, 'dev', net.hostVeth]);
  // The node forwards between the bridge and the veth; the host's own setting is left alone.
  execFileSync('ip', ['netns', 'exec', net.netns, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
  execFileSync(
    'ip',
    ['netns', 'exec', net.netns, 'sysctl', '-q', '-w', 'net.bridge.bridge-nf-call-iptables=1'],
    {
      stdio: 'ignore',
    },
  );
  return net;
}

/** Removes the namespace (and with it the veth pair, its routes, the bridge and every iptables rule). */
export function removeNodeNetwork(id: string): void {
  ip(['netns', 'del', `${NETNS_PREFIX}${id}`], { allowFail: true });
  ip(['link', 'del', `${VETH_PREFIX}${id}h`], { allowFail: true });
}

/** Run ids of node networks present on the host (namespaces and stray host veths). */
export function listNodeNetworkIds(): string[] {
  const ids = new Set<string>();
  for (const line of ip(['netns', 'list'], { allowFail: true }).split('\n')) {
    const name = line.split(' ')[0] ?? '';
    if (name.startsWith(NETNS_PREFIX)) ids.add(name.slice(NETNS_PREFIX.length));
  }
  for (const m of ip(['-o', 'link', 'show'], { allowFail: true }).matchAll(/^\d+: kwv(\w+)h[@:]/gm)) {
    ids.add(m[1] as string);
  }
  return [...ids];
}
