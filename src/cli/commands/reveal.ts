import { type Command, Option } from 'commander';
import { REVEAL_TIMEOUT_MS, revealKey } from '../../client/reveal.ts';
import { loadKubeConfig } from '../../kube/config.ts';
import { KubeRest } from '../../kube/rest.ts';
import { UsageError } from '../../rules/index.ts';
import { durationOption } from '../options.ts';

export function registerReveal(program: Command): void {
  program
    .command('reveal')
    .description("print an ApiKey's key once; the controller destroys its only copy as it answers")
    .argument('<name>', 'ApiKey name')
    .option('-n, --namespace <ns>', 'namespace of the ApiKey', 'default')
    .option('--kubeconfig <file>', 'kubeconfig file')
    .addOption(durationOption('--timeout', "how long to wait for the controller's answer", REVEAL_TIMEOUT_MS))
    // Accepted so scripts written for earlier versions keep working; reveal no longer reads that namespace.
    .addOption(new Option('--operator-namespace <ns>').hideHelp())
    .action(async (name: string, o: { namespace: string; kubeconfig?: string; timeout: number }) => {
      if (o.timeout <= 0) throw new UsageError('--timeout: must be more than 0s');
      const rest = new KubeRest(loadKubeConfig(o.kubeconfig));
      // A RevealError's code is the exit code's (cli/exit-codes.ts EXIT_OF).
      const key = await revealKey(rest, o.namespace, name, { timeoutMs: o.timeout });
      process.stdout.write(`${key}\n`);
    });
}
