import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

// Which mode `keywarden dev` runs in: the node-backed system by default, the process-only one when
// asked for, or when this machine cannot run a node (it says why).

/** What the node needs on this machine (scripts/dev.sh installs them with apt-get as root). */
const NODE_COMMANDS = ['containerd', 'runc', 'buildah', 'mmdebstrap', 'iptables', 'conntrack', 'nsenter'];
const CNI_BRIDGE = ['/usr/lib/cni/bridge', '/opt/cni/bin/bridge'];

/** The node's prerequisites this machine lacks (commands on PATH, the CNI bridge plugin). */
export function missingNodeTools(path = process.env.PATH ?? ''): string[] {
  const dirs = [...path.split(delimiter).filter(Boolean), '/usr/sbin', '/sbin'];
  const missing = NODE_COMMANDS.filter((cmd) => !dirs.some((d) => existsSync(join(d, cmd))));
  if (!CNI_BRIDGE.some((p) => existsSync(p))) missing.push('CNI plugins (containernetworking-plugins)');
  return missing;
}

export type DevMode = { mode: 'node' } | { mode: 'processes'; reason?: string };

export function chooseDevMode(o: { processes: boolean; root: boolean; missing: string[] }): DevMode {
  if (o.processes) return { mode: 'processes' };
  if (!o.root)
    return {
      mode: 'processes',
      reason:
        'the node-backed mode needs root (network namespaces, containerd, iptables): running the process-only ' +
        'mode instead (the parts as processes on this machine). Run scripts/dev.sh as root for the real node, ' +
        'or pass --processes to choose this mode.',
    };
  if (o.missing.length > 0)
    return {
      mode: 'processes',
      reason:
        `the node-backed mode needs ${o.missing.join(', ')}: running the process-only mode instead. ` +
        'scripts/dev.sh installs them with apt-get when run as root.',
    };
  return { mode: 'node' };
}
