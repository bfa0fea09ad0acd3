import { type RunningConsole, startConsole } from '../../console/server.ts';
import type { DevBackend, Endpoint } from './backend.ts';
import { OPERATOR_NS } from './demo.ts';
import type { DevCluster } from './session.ts';
import { step } from './session.ts';
import { applyExamples, demoCall, requestChecks, revealDemoKeys, showRefusals, tryItKey } from './story.ts';

export const DEV_SUCCESS_LINE = 'keywarden dev: the whole system is up and every check behaved as expected.';
/** Heads the list of endpoints printed once everything is up (tests read the lines under it). */
export const ENDPOINTS_HEADING = '  endpoints:';
export const CTRL_C_LINE = 'Press Ctrl-C to tear everything down.';

/**
 * `keywarden dev`, step by step: bring the system up (the backend decides where its parts run), apply
 * the examples, show refusals and a reveal, put the demo API behind a staging validator, send the
 * table of requests, start the console, print how to reach everything, and wait for Ctrl-C.
 */
export async function runDev(backend: DevBackend, opts: { exit?: boolean }): Promise<void> {
  let webConsole: RunningConsole | undefined;
  try {
    const cluster = await backend.start();
    await applyExamples(cluster);
    await showRefusals(cluster);
    const keys = await revealDemoKeys(cluster);
    const base = await backend.startDemo(cluster, 'staging');
    await requestChecks(cluster, demoCall(base), keys);
    const tryIt = await tryItKey(cluster, base);

    step('starting the console (the API Keys page, acting as the admin of this control plane)');
    webConsole = await startConsole({
      rest: cluster.rest,
      operatorNamespace: OPERATOR_NS,
      address: '127.0.0.1',
      port: 0,
      ...(backend.auditDir ? { auditDir: backend.auditDir } : {}),
    });
    const endpoints: Endpoint[] = [
      ...(await backend.endpoints()),
      ['console', `${webConsole.loginUrl}  (the API Keys page; the sign-in link works once)`],
    ];
    printSummary(cluster, endpoints, tryIt);
    if (!opts.exit) await ctrlC();
  } catch (err) {
    await backend.printLogs();
    throw err;
  } finally {
    step('tearing down');
    await webConsole?.close();
    await backend.stop();
  }
}

function printSummary(cluster: DevCluster, endpoints: Endpoint[], tryIt: string[]): void {
  const { plane } = cluster;
  process.stdout.write(
    `\n${DEV_SUCCESS_LINE}\n  export KUBECONFIG=${plane.kubeconfigPath}\n  export PATH=${plane.binDir}:$PATH\n` +
      `${ENDPOINTS_HEADING}\n${endpoints.map(([what, url]) => `    ${what.padEnd(19)} ${url}\n`).join('')}` +
      `  try it (a staging key nobody has seen yet):\n${tryIt.map((l) => `    ${l}\n`).join('')}` +
      `  logs: ${plane.runDir}/*.log\n`,
  );
}

function ctrlC(): Promise<void> {
  process.stdout.write(`${CTRL_C_LINE}\n`);
  return new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
}
