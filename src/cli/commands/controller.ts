import { hostname } from 'node:os';
import type { Command } from 'commander';
import { ApiKeyController } from '../../controller/manager.ts';
import { DEFAULT_ADMIN_PORT, DEFAULT_OPTIONS } from '../../controller/options.ts';
import { loadKubeConfig } from '../../kube/config.ts';
import { KubeRest } from '../../kube/rest.ts';
import { createLogger } from '../../observability/logger.ts';
import { Runner } from '../../runtime/runner.ts';
import {
  adminPortOf,
  adminPortOption,
  DURATION_HELP,
  durationOption,
  healthPortAlias,
  parseIntOption,
} from '../options.ts';

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
    .addOption(adminPortOption(DEFAULT_ADMIN_PORT))
    .addOption(healthPortAlias())
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
          ...(o.auditDir ? { auditDirectory: o.auditDir } : {}),
        },
        log,
        // A lost Lease ends the process (exit 1) so that a fresh start rejoins the election.
        (reason) => runner.fail(reason),
      );
      const runner = new Runner({
        name: 'controller',
        components: [controller],
        log,
        admin: { port: adminPortOf(o, DEFAULT_ADMIN_PORT) },
      });
      const code = await runner.run(() =>
        log.info({ adminPort: runner.adminPort, leaderElection: o.leaderElect }, 'controller started'),
      );
      process.exit(code);
    });
}
