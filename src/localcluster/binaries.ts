import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const BUILD_SCRIPT = fileURLToPath(new URL('../../tools/controlplane/build.sh', import.meta.url));

const CONTROL_PLANE_BINARIES = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kubectl'] as const;

/**
 * Returns the folder holding etcd, kube-apiserver, kube-controller-manager and kubectl, building them
 * from their Go modules on first use (cached outside the repo; progress goes to stderr).
 */
export async function ensureControlPlaneBinaries(): Promise<string> {
  const stdout: Buffer[] = [];
  const child = spawn('bash', [BUILD_SCRIPT], { stdio: ['ignore', 'pipe', 'inherit'] });
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  if (code !== 0) {
    throw new Error(`building the local control plane failed (exit ${code}); see the messages above`);
  }
  const dir = Buffer.concat(stdout).toString('utf8').trim().split('\n').pop() ?? '';
  for (const bin of CONTROL_PLANE_BINARIES) {
    if (bin === 'kube-controller-manager' && process.env.KUBEBUILDER_ASSETS) continue;
    if (!existsSync(`${dir}/${bin}`)) throw new Error(`control plane folder ${dir} has no ${bin}`);
  }
  return dir;
}
