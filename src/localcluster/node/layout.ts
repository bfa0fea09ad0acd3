import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

// Where a local node keeps its state, and the names it makes (all carry the run id, so a crashed
// run's leftovers are found and reaped by name).

export const NODE_NAME = 'keywarden-node';
export const CNI_NETWORK_PREFIX = 'keywarden-';
export const CGROUP_FS = '/sys/fs/cgroup';

export function nodeDir(runDir: string): string {
  return join(runDir, 'node');
}

export function cgroupName(id: string): string {
  return `keywarden-${id}`;
}

/** The files and folders of a node under <runDir>/node. */
export interface NodePaths {
  dir: string;
  config: string;
  socket: string;
  root: string;
  state: string;
  runc: string;
  cniConf: string;
  ipam: string;
  pki: string;
  kubelet: string;
  resolv: string;
}

export function nodePaths(runDir: string): NodePaths {
  const dir = nodeDir(runDir);
  return {
    dir,
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
}

/** cgroup v1 hierarchies (one per mounted controller set, and `unified` in hybrid mode); on v2 the root. */
export function cgroupHierarchies(): string[] {
  if (existsSync(join(CGROUP_FS, 'cgroup.controllers'))) return [''];
  return subdirectories(CGROUP_FS);
}

/** The names of the folders in `path` (none when it cannot be read). */
export function subdirectories(path: string): string[] {
  try {
    return readdirSync(path, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch {
    return [];
  }
}
