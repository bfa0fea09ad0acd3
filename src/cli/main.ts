#!/usr/bin/env node
// The one entry point: servers (controller, webhook, validator) and people's commands are subcommands.
import { Command, CommanderError } from 'commander';
import { registerAudit } from './commands/audit.ts';
import { registerConsole } from './commands/console.ts';
import { registerController } from './commands/controller.ts';
import { registerControlPlane } from './commands/controlplane.ts';
import { registerDev } from './commands/dev.ts';
import { registerKeyCommands } from './commands/keys.ts';
import { registerReveal } from './commands/reveal.ts';
import { registerValidator } from './commands/validator.ts';
import { registerWebhook } from './commands/webhook.ts';
import { CliError } from './errors.ts';
import { EXIT } from './exit-codes.ts';

const program = new Command('keywarden')
  .description('API keys managed the Kubernetes way')
  .version('0.1.0')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

registerAudit(program);
registerConsole(program);
registerControlPlane(program);
registerDev(program);
registerController(program);
registerReveal(program);
registerKeyCommands(program);
registerValidator(program);
registerWebhook(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CliError) {
    process.stderr.write(`keywarden: ${err.message}\n`);
    process.exit(err.exitCode);
  }
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? EXIT.ok : EXIT.usage);
  process.stderr.write(`keywarden: ${(err as Error).message}\n`);
  process.exit(EXIT.failure);
}
