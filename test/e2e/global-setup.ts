import type { TestProject } from 'vitest/node';
import { ensureGoTool } from '../../src/localcluster/build-script.ts';
import { LocalControlPlane } from '../../src/localcluster/cluster.ts';
import { ensureNodeImages } from '../../src/localcluster/node/images.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    e2eKubeconfig: string;
    e2eBinDir: string;
    helm: string;
    /** Where the host reaches NodePorts. */
    nodeAddress: string;
    /** docker-archive tarballs by role (local node only; on kind the images are loaded by the script). */
    imageArchives: Record<string, string>;
    /** containerd socket of the local node (empty on kind). */
    containerdSocket: string;
  }
}

const log = (line: string) => process.stderr.write(`[e2e] ${line}\n`);

/**
 * The cluster the e2e suite runs on: by default a local control plane with a node (containerd, kubelet,
 * kube-proxy) and our images imported; with KEYWARDEN_E2E_KUBECONFIG (scripts/kind-e2e.sh), that
 * cluster, whose node already has the images.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const helm = await ensureGoTool('helm');
  const external = process.env.KEYWARDEN_E2E_KUBECONFIG;
  if (external) {
    project.provide('e2eKubeconfig', external);
    project.provide('e2eBinDir', process.env.KEYWARDEN_E2E_BIN_DIR ?? '');
    project.provide('helm', helm);
    project.provide('nodeAddress', process.env.KEYWARDEN_E2E_NODE_ADDRESS ?? '');
    project.provide('imageArchives', {});
    project.provide('containerdSocket', '');
    return async () => {};
  }
  const t0 = Date.now();
  const images = await ensureNodeImages();
  const archives = Object.fromEntries(images.map((i) => [i.role, i.archive]));
  log(`images ready in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  const plane = await LocalControlPlane.start({
    node: { images: Object.values(archives) },
    log: (line) => log(line),
  });
  project.provide('e2eKubeconfig', plane.kubeconfigPath);
  project.provide('e2eBinDir', plane.binDir);
  project.provide('helm', helm);
  project.provide('nodeAddress', plane.nodeNetwork?.nodeIp ?? '');
  project.provide('imageArchives', archives);
  project.provide('containerdSocket', plane.node?.containerdSocket ?? '');
  return async () => {
    await plane.stop({ keepRunDir: process.env.KEYWARDEN_E2E_KEEP === '1' });
  };
}
