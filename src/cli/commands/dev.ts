import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { LocalControlPlane } from '../../localcluster/cluster.ts';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * `keywarden dev`: the whole system on this machine. Today it brings up the real control plane,
 * installs the CRDs and applies the examples; each part joins here as it lands (see README).
 */
export function registerDev(program: Command): void {
  program
    .command('dev')
    .description('bring keywarden up locally on a real control plane and show it working (Ctrl-C stops it)')
    .option('--exit', 'tear down right after the demo instead of waiting for Ctrl-C')
    .action(async (opts: { exit?: boolean }) => {
      const step = (s: string) => process.stdout.write(`\n==> ${s}\n`);
      step('starting the local control plane (etcd, kube-apiserver, kube-controller-manager)');
      const plane = await LocalControlPlane.start();
      const kubectl = (...args: string[]) => {
        process.stdout.write(`$ kubectl ${args.join(' ')}\n`);
        const out = execFileSync(plane.kubectlPath, args, {
          env: { ...process.env, ...plane.env },
          cwd: REPO,
        });
        process.stdout.write(out);
      };
      try {
        step('installing the CRDs');
        kubectl('apply', '--server-side', '-f', 'crds/');
        kubectl(
          'wait',
          '--for=condition=Established',
          'crd/apikeys.keywarden.dev',
          'crd/apikeypolicies.keywarden.dev',
        );
        step('applying the examples');
        kubectl('create', 'namespace', 'demo');
        for (const file of readdirSync(`${REPO}/examples`)
          .filter((f) => f.endsWith('.yaml'))
          .sort()) {
          kubectl('apply', '-n', 'demo', '-f', `examples/${file}`);
        }
        kubectl('get', 'apikeys', '-n', 'demo');
        step('a bad manifest is refused by the API server');
        try {
          execFileSync(
            plane.kubectlPath,
            [
              '-n',
              'demo',
              'patch',
              'apikey',
              'billing-admin',
              '--type=merge',
              '-p',
              '{"spec":{"environment":"staging"}}',
            ],
            {
              env: { ...process.env, ...plane.env },
              stdio: ['ignore', 'pipe', 'pipe'],
            },
          );
        } catch (err) {
          process.stdout.write(String((err as { stderr?: Buffer }).stderr ?? ''));
        }
        process.stdout.write(
          `\nkeywarden dev: control plane and CRDs are up.\n  export KUBECONFIG=${plane.kubeconfigPath}\n  export PATH=${plane.binDir}:$PATH\n`,
        );
        if (!opts.exit) {
          process.stdout.write('Press Ctrl-C to tear everything down.\n');
          await new Promise<void>((resolve) => {
            process.once('SIGINT', resolve);
            process.once('SIGTERM', resolve);
          });
        }
      } finally {
        step('tearing down');
        await plane.stop();
      }
    });
}
