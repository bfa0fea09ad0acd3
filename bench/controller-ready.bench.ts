// Time for N ApiKeys to become Ready through the controller, against a baseline of N raw API writes
// (Secrets) from one client with the same concurrency, on the same local control plane in the same run.
import { execFileSync } from 'node:child_process';
import { ApiKeyController } from '../src/controller/manager.ts';
import { loadKubeConfig } from '../src/kube/config.ts';
import { KubeRest } from '../src/kube/rest.ts';
import { LocalControlPlane } from '../src/localcluster/cluster.ts';
import { createLogger } from '../src/observability/logger.ts';
import { type Bench, figure } from './lib.ts';

const COUNT = Number(process.env.BENCH_APIKEYS ?? 1000);
const CONCURRENCY = 20;

async function inParallel(n: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

const bench: Bench = {
  name: 'controller-ready',
  async run() {
    const plane = await LocalControlPlane.start({ controllerManager: false, log: () => {} });
    try {
      const kubectl = (...args: string[]) =>
        execFileSync(plane.kubectlPath, args, { env: { ...process.env, ...plane.env } });
      kubectl('apply', '--server-side', '-f', 'crds/');
      kubectl(
        'wait',
        '--for=condition=Established',
        'crd/apikeys.keywarden.dev',
        'crd/apikeypolicies.keywarden.dev',
      );
      kubectl('create', 'namespace', 'bench');
      kubectl('create', 'namespace', 'baseline');
      kubectl('create', 'namespace', 'keywarden-system');
      const rest = new KubeRest(loadKubeConfig(plane.kubeconfigPath));

      // Baseline: N raw writes.
      const t0 = performance.now();
      await inParallel(COUNT, (i) =>
        rest.create('/api/v1/namespaces/baseline/secrets', {
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name: `s-${i}` },
          data: { v: 'eA==' },
        }),
      );
      const baselineMs = performance.now() - t0;

      const log = createLogger('bench', 'error');
      const controller = new ApiKeyController(
        rest,
        {
          operatorNamespace: 'keywarden-system',
          namespaces: ['bench'],
          deliveryTtlMs: 3600_000,
          concurrency: 8,
          resyncMs: 3600_000,
          leaderElection: false,
          leaseName: 'bench',
          identity: 'bench',
          healthPort: 0,
        },
        log,
      );
      await controller.start();
      const ready = new Set<string>();
      let resolveAll: () => void = () => {};
      const allReady = new Promise<void>((r) => {
        resolveAll = r;
      });
      const watchReady = (o: { metadata: { name: string }; status?: { state?: string } }) => {
        if (o.status?.state === 'Active') ready.add(o.metadata.name);
        if (ready.size === COUNT) resolveAll();
      };
      for (const inf of controller.apiKeys) {
        inf.on('add', watchReady);
        inf.on('update', watchReady);
      }
      const t1 = performance.now();
      await inParallel(COUNT, (i) =>
        rest.create('/apis/keywarden.dev/v1alpha1/namespaces/bench/apikeys', {
          apiVersion: 'keywarden.dev/v1alpha1',
          kind: 'ApiKey',
          metadata: { name: `k-${i}` },
          spec: { environment: 'production', permissions: ['devices:read'] },
        }),
      );
      await allReady;
      const readyMs = performance.now() - t1;
      await controller.stop();
      return {
        name: 'controller-ready',
        description: `${COUNT} ApiKeys created and made Active by the controller vs ${COUNT} raw Secret writes`,
        params: { apiKeys: COUNT, clientConcurrency: CONCURRENCY, workers: 8 },
        figures: [
          figure(
            `${COUNT} ApiKeys Ready`,
            's',
            readyMs / 1000,
            baselineMs / 1000,
            `${COUNT} raw Secret creates, one client`,
          ),
        ],
      };
    } finally {
      await plane.stop();
    }
  },
};

export default bench;
