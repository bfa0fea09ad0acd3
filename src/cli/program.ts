import { Command } from 'commander';
import { registerAudit } from './commands/audit.ts';
import { registerConsole } from './commands/console.ts';
import { registerController } from './commands/controller.ts';
import { registerControlPlane } from './commands/controlplane.ts';
import { registerDev } from './commands/dev.ts';
import { registerKeyCommands } from './commands/keys.ts';
import { registerReveal } from './commands/reveal.ts';
import { registerValidator } from './commands/validator.ts';
import { registerWebhook } from './commands/webhook.ts';

/** `keywarden` with every subcommand registered (main.ts runs it; tests walk its commands). */
export function buildProgram(): Command {
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
  return program;
}
