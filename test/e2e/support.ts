import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const OPERATOR_NS = 'keywarden-system';
export const DEMO_NS = 'demo';
export const RELEASE = 'keywarden';
/** Image names: the same on the local node (imported archives) and on kind (loaded by the script). */
export const IMAGES = {
  app: 'localhost/keywarden:dev',
  base: 'docker.io/library/node:24.21.0-bookworm-slim',
  nginx: 'localhost/keywarden-e2e-nginx:bookworm',
};

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(
  cmd: string,
  args: string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      cmd,
      args,
      {
        env: { ...process.env, KUBECONFIG: inject('e2eKubeconfig'), ...opts.env },
        maxBuffer: 64 * 1024 * 1024,
      },
      (err, stdout, stderr) => {
        const code = err ? ((err as { code?: unknown }).code ?? 1) : 0;
        resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

async function ok(cmd: string, args: string[], input?: string): Promise<string> {
  const r = await run(cmd, args, input === undefined ? {} : { input });
  if (r.code !== 0)
    throw new Error(`${cmd.split('/').pop()} ${args.join(' ')} failed (${r.code}):\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

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

export async function eventually<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(
    `${what}: not true after ${timeoutMs / 1000} s${last ? ` (last error: ${(last as Error).message})` : ''}`,
  );
}

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
          command: ['node', '--input-type=module', '-e', script],
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
