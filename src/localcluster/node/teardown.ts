import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  CGROUP_FS,
  CNI_NETWORK_PREFIX,
  cgroupHierarchies,
  cgroupName,
  nodeDir,
  subdirectories,
} from './layout.ts';
import { removeNodeNetwork } from './network.ts';

// Teardown: the same steps for a clean stop and for leftovers of a SIGKILLed run.

/** Visits every folder of the node's cgroups in every hierarchy, children before their parent. */
function eachCgroup(id: string, visit: (path: string) => void): void {
  const walk = (path: string) => {
    for (const e of subdirectories(path)) walk(join(path, e));
    visit(path);
  };
  for (const h of cgroupHierarchies()) walk(join(CGROUP_FS, h, cgroupName(id)));
}

/** Every process in our cgroups (the pods' containers), depth-first. */
function cgroupPids(id: string): number[] {
  const pids = new Set<number>();
  eachCgroup(id, (path) => {
    try {
      for (const line of readFileSync(join(path, 'cgroup.procs'), 'utf8').split('\n'))
        if (line) pids.add(Number(line));
    } catch {
      // gone meanwhile
    }
  });
  return [...pids];
}

function removeCgroups(id: string): void {
  eachCgroup(id, (path) => {
    try {
      rmdirSync(path);
    } catch {
      // still has a process, or already gone
    }
  });
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
