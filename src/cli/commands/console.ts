import type { Command } from 'commander';
import { WebConsole } from '../../console/server.ts';
import { DEFAULT_OPTIONS } from '../../controller/options.ts';
import { loadKubeConfig } from '../../kube/config.ts';
import { KubeRest } from '../../kube/rest.ts';
import { createLogger } from '../../observability/logger.ts';
import { Runner } from '../../runtime/runner.ts';
import { portOption } from '../options.ts';

export function registerConsole(program: Command): void {
  program
    .command('console')
    .description(
      'serve the API Keys page on 127.0.0.1, acting with your kubeconfig; prints a one-time sign-in URL',
    )
    .option('--kubeconfig <file>', 'kubeconfig file (default: $KUBECONFIG, ~/.kube/config)')
    .option('-n, --namespace <ns>', 'show only this namespace (default: all you may list)')
    .option('--address <ip>', 'address to serve on', '127.0.0.1')
    .option('--port <n>', 'port to serve on (0: any free port)', portOption, 8585)
    .option('--allow-remote', 'allow an address other than loopback (put TLS in front of it)')
    .option('--audit-dir <dir>', 'audit trail directory for the request log (default: $KEYWARDEN_AUDIT_DIR)')
    .option(
      '--operator-namespace <ns>',
      'namespace keywarden runs in',
      process.env.KEYWARDEN_NAMESPACE ?? DEFAULT_OPTIONS.operatorNamespace,
    )
    .action(async (o) => {
      const rest = new KubeRest(loadKubeConfig(o.kubeconfig));
      // A refused address is a UsageError: the CLI maps it to its exit code.
      const web = new WebConsole({
        rest,
        operatorNamespace: o.operatorNamespace,
        namespace: o.namespace,
        address: o.address,
        port: o.port,
        allowRemote: Boolean(o.allowRemote),
        auditDir: o.auditDir ?? process.env.KEYWARDEN_AUDIT_DIR,
      });
      // The terminal is the console's user interface: only a failure is logged there.
      const runner = new Runner({
        name: 'console',
        components: [web],
        log: createLogger('console', 'error'),
      });
      const code = await runner.run(() =>
        process.stdout.write(
          `keywarden console: serving ${web.url} as the user of your kubeconfig.\n` +
            `Open this URL to sign in (it works once; nothing was opened for you):\n  ${web.loginUrl}\n`,
        ),
      );
      if (code !== 0) process.exit(code);
    });
}
