import { type Command, InvalidArgumentError } from 'commander';
import { ConsoleUsageError, startConsole } from '../../console/server.ts';
import { DEFAULT_OPTIONS } from '../../controller/options.ts';
import { loadKubeConfig } from '../../kube/config.ts';
import { KubeRest } from '../../kube/rest.ts';
import { UsageError } from '../../rules/index.ts';

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`${value} is not a port`);
  return n;
}

export function registerConsole(program: Command): void {
  program
    .command('console')
    .description(
      'serve the API Keys page on 127.0.0.1, acting with your kubeconfig; prints a one-time sign-in URL',
    )
    .option('--kubeconfig <file>', 'kubeconfig file (default: $KUBECONFIG, ~/.kube/config)')
    .option('-n, --namespace <ns>', 'show only this namespace (default: all you may list)')
    .option('--address <ip>', 'address to serve on', '127.0.0.1')
    .option('--port <n>', 'port to serve on (0: any free port)', port, 8585)
    .option('--allow-remote', 'allow an address other than loopback (put TLS in front of it)')
    .option('--audit-dir <dir>', 'audit trail directory for the request log (default: $KEYWARDEN_AUDIT_DIR)')
    .option(
      '--operator-namespace <ns>',
      'namespace keywarden runs in',
      process.env.KEYWARDEN_NAMESPACE ?? DEFAULT_OPTIONS.operatorNamespace,
    )
    .action(async (o) => {
      const rest = new KubeRest(loadKubeConfig(o.kubeconfig));
      let running: Awaited<ReturnType<typeof startConsole>>;
      try {
        running = await startConsole({
          rest,
          operatorNamespace: o.operatorNamespace,
          namespace: o.namespace,
          address: o.address,
          port: o.port,
          allowRemote: Boolean(o.allowRemote),
          auditDir: o.auditDir ?? process.env.KEYWARDEN_AUDIT_DIR,
        });
      } catch (err) {
        if (err instanceof ConsoleUsageError) throw new UsageError(err.message);
        throw err;
      }
      process.stdout.write(
        `keywarden console: serving ${running.url} as the user of your kubeconfig.\n` +
          `Open this URL to sign in (it works once; nothing was opened for you):\n  ${running.loginUrl}\n`,
      );
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await running.close();
    });
}
