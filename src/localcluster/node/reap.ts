import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RUN_DIR_PREFIX } from '../processes.ts';
import { listNodeNetworkIds } from './network.ts';
import { listNodeCgroupIds, teardownNode } from './teardown.ts';

function ownerAlive(runDir: string): boolean {
  try {
    const { owner } = JSON.parse(readFileSync(join(runDir, 'pids.json'), 'utf8')) as { owner: number };
    process.kill(owner, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Tears down nodes whose run died (SIGKILL, crash): found by the names every node carries (network
 * namespace, host veth, cgroup folder), so even a run whose folder is gone is cleaned up.
 */
export async function reapNodes(): Promise<number> {
  const ids = new Set([...listNodeNetworkIds(), ...listNodeCgroupIds()]);
  let reaped = 0;
  for (const id of ids) {
    const runDir = join(tmpdir(), `${RUN_DIR_PREFIX}${id}`);
    if (ownerAlive(runDir)) continue;
    await teardownNode(id, runDir);
    reaped++;
  }
  return reaped;
}
