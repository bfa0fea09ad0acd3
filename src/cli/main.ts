#!/usr/bin/env node
// The one entry point: servers (controller, webhook, validator) and people's commands are subcommands.
import { CommanderError } from 'commander';
import { KeywardenError } from '../rules/index.ts';
import { EXIT, EXIT_OF } from './exit-codes.ts';
import { buildProgram } from './program.ts';

const program = buildProgram();

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof KeywardenError) {
    process.stderr.write(`keywarden: ${err.message}\n`);
    process.exit(EXIT_OF[(err as KeywardenError).code]);
  }
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? EXIT.ok : EXIT.usage);
  process.stderr.write(`keywarden: ${(err as Error).message}\n`);
  process.exit(EXIT.failure);
}
