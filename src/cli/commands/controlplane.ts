import type { Command } from 'commander';
import { ensureControlPlaneBinaries } from '../../localcluster/binaries.ts';
import { LocalControlPlane } from '../../localcluster/cluster.ts';
import { ensureNodeImages } from '../../localcluster/node/images.ts';

export function registerControlPlane(program: Command): void {
  const cp = program
    .command('controlplane')
    .description('a real local Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager)');

  cp.command('build')
    .description('build (once) and print the folder of the control-plane binaries and kubectl')
    .action(async () => {
      process.stdout.write(`${await ensureControlPlaneBinaries()}\n`);
    });

  cp.command('up')
    .description('start a local control plane and keep it running until Ctrl-C')
    .option('--no-controller-manager', 'do not run kube-controller-manager')
    .option(
      '--node',
      "add a node (containerd, runc, CNI bridge, kubelet, kube-scheduler, kube-proxy) with keywarden's images imported; needs root",
    )
    .action(async (opts: { controllerManager: boolean; node?: boolean }) => {
      const images = opts.node ? await ensureNodeImages() : [];
      const plane = await LocalControlPlane.start({
        controllerManager: opts.controllerManager,
        ...(opts.node ? { node: { images: images.map((i) => i.archive) } } : {}),
      });
      const net = plane.nodeNetwork;
      process.stdout.write(
        `Control plane up at ${plane.server}\n` +
          (net
            ? `  node ${net.nodeIp} (NodePorts), pods ${net.podCidr}, services ${net.serviceCidr}; images: ${images.map((i) => i.ref).join(', ')}\n`
            : '') +
          `  export KUBECONFIG=${plane.kubeconfigPath}\n` +
          `  export PATH=${plane.binDir}:$PATH   # kubectl ${plane.binDir}/kubectl\n` +
          'Press Ctrl-C to stop it.\n',
      );
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      process.stdout.write('stopping...\n');
      await plane.stop();
    });
}
