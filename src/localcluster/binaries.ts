import { existsSync } from 'node:fs';
import { runBuildScript } from './build-script.ts';

const CONTROL_PLANE_BINARIES = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kubectl'] as const;

/**
 * Returns the folder holding etcd, kube-apiserver, kube-controller-manager and kubectl, building them
 * from their Go modules on first use (cached outside the repo; progress goes to stderr).
 */
export async function ensureControlPlaneBinaries(): Promise<string> {
  const out = await runBuildScript('controlplane/build.sh', [], 'building the local control plane');
  const dir = out.split('\n').pop() ?? '';
  for (const bin of CONTROL_PLANE_BINARIES) {
    if (bin === 'kube-controller-manager' && process.env.KUBEBUILDER_ASSETS) continue;
    if (!existsSync(`${dir}/${bin}`)) throw new Error(`control plane folder ${dir} has no ${bin}`);
  }
  return dir;
}
