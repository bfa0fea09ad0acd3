import { hostname } from 'node:os';
import type { Command } from 'commander';
import { ApiKeyController } from '../../controller/manager.ts';
import { DEFAULT_OPTIONS } from '../../controller/options.ts';
import { loadKubeConfig } from '../../kube/config.ts';
import { KubeRest } from '../../kube/rest.ts';
import { createLogger } from '../../observability/logger.ts';
import { DURATION_HELP, durationOption, parseIntOption } from '../options.ts';

export function registerController(program: Command): void {
  program
    .command('controller')
    .description('run the ApiKey controller: mints keys, writes hash Secrets, one-time deliveries and status')
    .option('--kubeconfig <file>', 'kubeconfig file (default: KUBECONFIG, ~/.kube/config or in-cluster)')
    .option(
      '--operator-namespace <ns>',
      'namespace for delivery Secrets and the leader Lease',
      process.env.POD_NAMESPACE ?? DEFAULT_OPTIONS.operatorNamespace,
    )
    .option('--namespaces <list>', 'comma-separated namespaces to watch (default: all)')
    .addOption(
      durationOption('--delivery-ttl', 'how long an unrevealed key is kept', DEFAULT_OPTIONS.deliveryTtlMs),
    )
    .option(
      '--concurrency <n>',
      'workers reconciling in parallel',
      parseIntOption,
      DEFAULT_OPTIONS.concurrency,
    )
    .addOption(durationOption('--resync', 'reconcile every key again this often', DEFAULT_OPTIONS.resyncMs))
    .option('--no-leader-elect', 'act without a leader Lease (only one replica!)')
    .option('--lease-name <name>', 'name of the leader Lease', DEFAULT_OPTIONS.leaseName)
    .option('--audit-dir <dir>', 'write lifecycle events to the Parquet audit trail in this folder')
    .option(
      '--health-port <port>',
      'port for /healthz, /readyz and /metrics',
      parseIntOption,
      DEFAULT_OPTIONS.healthPort,
    )
    .addHelpText('after', DURATION_HELP)
    .action(async (o) => {
      const log = createLogger('controller');
      const rest = new KubeRest(loadKubeConfig(o.kubeconfig));
      const controller = new ApiKeyController(
        rest,
        {
          operatorNamespace: o.operatorNamespace,
          namespaces: ((o.namespaces as string | undefined) ?? '')
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
          deliveryTtlMs: o.deliveryTtl,
          concurrency: Math.max(1, o.concurrency),
          resyncMs: o.resync,
          leaderElection: o.leaderElect,
          leaseName: o.leaseName,
          identity: `${process.env.POD_NAME ?? hostname()}_${process.pid}`,
          healthPort: o.healthPort,
          ...(o.auditDir ? { auditDirectory: o.auditDir } : {}),
        },
        log,
      );
      controller.onLostLeadership = () => process.exit(1);
      const shutdown = async () => {
        log.info('shutting down');
        await controller.stop();
        process.exit(0);
      };
      process.once('SIGTERM', shutdown);
      process.once('SIGINT', shutdown);
      await controller.start();
      log.info({ healthPort: controller.healthPort, leaderElection: o.leaderElect }, 'controller started');
    });
}
