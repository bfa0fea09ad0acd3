import { join } from 'node:path';
import { inject } from 'vitest';
import { IMAGES, OPERATOR_NS, REPO } from '../../../src/cli/dev/demo.ts';
import { type RunOptions, type RunResult, run as runCommand, runOk } from '../../../src/cli/dev/run.ts';
import { eventually } from '../../../src/cli/dev/wait.ts';

export { DEMO_NS, IMAGES, OPERATOR_NS, RELEASE } from '../../../src/cli/dev/demo.ts';
export { eventually } from '../../../src/cli/dev/wait.ts';
export const ROOT = REPO;

export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return runCommand(cmd, args, { ...opts, env: { KUBECONFIG: inject('e2eKubeconfig'), ...opts.env } });
}

const ok = (cmd: string, args: string[], input?: string) =>
  runOk(cmd, args, {
    env: { KUBECONFIG: inject('e2eKubeconfig') },
    ...(input === undefined ? {} : { input }),
  });

export function kubectlBin(): string {
  const dir = inject('e2eBinDir');
  return dir ? join(dir, 'kubectl') : 'kubectl';
}

export const kubectl = (args: string[], input?: string) =>
  run(kubectlBin(), args, input === undefined ? {} : { input });
export const kubectlOk = (args: string[], input?: string) => ok(kubectlBin(), args, input);
export const helmOk = (args: string[]) => ok(inject('helm'), args);
export const keywardenOk = (args: string[]) => ok(process.execPath, [join(ROOT, 'src/cli/main.ts'), ...args]);

// biome-ignore lint/suspicious/noExplicitAny: kubectl JSON of any kind; the assertions check its shape
export async function getJson<T = any>(args: string[]): Promise<T> {
  return JSON.parse(await kubectlOk([...args, '-o', 'json'])) as T;
}

/**
 * Defined for every script runInPod runs. `served(url, init)` is fetch, retried while the connection
 * itself fails (up to 30 s): kube-proxy programs a new Service's ClusterIP a moment after the Service
 * and its pods exist (seconds on a loaded node), and until then the node answers ENETUNREACH. Any HTTP
 * answer is returned as it is.
 */
const IN_POD_PRELUDE = `
const served = async (url, init) => {
  for (const deadline = Date.now() + 30000; ; ) {
    try {
      return await fetch(url, init);
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
};`;

/**
 * Runs a Node script in a fresh pod of the base image (as uid 1000, read-only root) and returns what it
 * printed; the pod is deleted afterwards.
 */
export async function runInPod(
  namespace: string,
  script: string,
  env: Record<string, string> = {},
): Promise<string> {
  const name = `kw-client-${Math.random().toString(36).slice(2, 8)}`;
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { 'keywarden.dev/e2e': 'client' } },
    spec: {
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      containers: [
        {
          name: 'client',
          image: IMAGES.base,
          imagePullPolicy: 'Never',
          command: ['node', '--input-type=module', '-e', `${IN_POD_PRELUDE}\n${script}`],
          env: Object.entries(env).map(([n, value]) => ({ name: n, value })),
          securityContext: {
            runAsUser: 1000,
            runAsNonRoot: true,
            readOnlyRootFilesystem: true,
            allowPrivilegeEscalation: false,
            capabilities: { drop: ['ALL'] },
          },
        },
      ],
    },
  };
  await kubectlOk(['-n', namespace, 'apply', '-f', '-'], JSON.stringify(pod));
  try {
    const phase = await eventually(`client pod ${name} finished`, 90_000, async () => {
      const p = await getJson(['-n', namespace, 'get', 'pod', name]);
      return ['Succeeded', 'Failed'].includes(p.status?.phase) ? (p.status.phase as string) : undefined;
    });
    const logs = await kubectlOk(['-n', namespace, 'logs', name]);
    if (phase !== 'Succeeded') throw new Error(`client pod ${name} failed:\n${logs}`);
    return logs;
  } finally {
    await kubectl(['-n', namespace, 'delete', 'pod', name, '--wait=false']);
  }
}

/** The one-time plaintext of a key (the reveal deletes the copy). */
export async function reveal(namespace: string, name: string): Promise<string> {
  return (await keywardenOk(['reveal', name, '-n', namespace, '--operator-namespace', OPERATOR_NS])).trim();
}
