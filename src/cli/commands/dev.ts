import type { Command } from 'commander';
import { chooseDevMode, missingNodeTools } from '../dev/mode.ts';
import { NodeBackend } from '../dev/node.ts';
import { ProcessBackend } from '../dev/processes.ts';
import { runDev } from '../dev/run-dev.ts';

export { CTRL_C_LINE, DEV_SUCCESS_LINE, ENDPOINTS_HEADING } from '../dev/run-dev.ts';

/**
 * `keywarden dev`: the whole system on this machine, shown working (src/cli/dev/run-dev.ts has the steps).
 * By default on a local node with our image and chart; `--processes` runs the parts as processes.
 */
export function registerDev(program: Command): void {
  program
    .command('dev')
    .description(
      'bring keywarden up locally and show it working: on a local node with its image and chart (root), ' +
        'or with --processes as processes next to a control plane (Ctrl-C stops it)',
    )
    .option('--processes', 'run the parts as processes on this machine (faster, no root, no images)')
    .option('--exit', 'tear down right after the demo instead of waiting for Ctrl-C')
    .action(async (opts: { exit?: boolean; processes?: boolean }) => {
      const choice = chooseDevMode({
        processes: Boolean(opts.processes),
        root: process.getuid?.() === 0,
        missing: opts.processes ? [] : missingNodeTools(),
      });
      if (choice.mode === 'processes' && choice.reason)
        process.stdout.write(`keywarden dev: ${choice.reason}\n`);
      const backend = choice.mode === 'node' ? new NodeBackend() : new ProcessBackend();
      await runDev(backend, opts);
    });
}
