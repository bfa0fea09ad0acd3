import { type Command, Option } from 'commander';
import { REVEAL_TIMEOUT_MS, RevealError, type RevealErrorCode, revealKey } from '../../client/reveal.ts';
import { loadKubeConfig } from '../../kube/config.ts';
import { KubeRest } from '../../kube/rest.ts';
import { CliError } from '../errors.ts';
import { EXIT } from '../exit-codes.ts';
import { durationOption } from '../options.ts';

/** The exit code each reveal outcome ends `keywarden reveal` with. */
const EXIT_OF: Record<RevealErrorCode, number> = {
  not_found: EXIT.notFound,
  still_minting: EXIT.failure,
  sealed: EXIT.notFound,
  already_revealed: EXIT.alreadyRevealed,
  no_answer: EXIT.failure,
};

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
      if (o.timeout <= 0) throw new CliError('--timeout: must be more than 0s', EXIT.usage);
      const rest = new KubeRest(loadKubeConfig(o.kubeconfig));
      const key = await revealKey(rest, o.namespace, name, { timeoutMs: o.timeout }).catch((err: unknown) => {
        throw err instanceof RevealError ? new CliError(err.message, EXIT_OF[err.code]) : err;
      });
      process.stdout.write(`${key}\n`);
    });
}
