import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real kubectl (built with the control plane) against the test control plane. */
export function kubectl(args: string[], input?: string): Promise<KubectlResult> {
  const binDir = inject('binDir');
  return new Promise((resolve) => {
    const child = execFile(
      `${binDir}/kubectl`,
      args,
      { env: { ...process.env, KUBECONFIG: inject('kubeconfigPath') }, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? ((err as { code?: number }).code ?? 1) : 0;
        resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** kubectl that must succeed; the error names the command and kubectl's message. */
export async function kubectlOk(args: string[], input?: string): Promise<string> {
  const result = await kubectl(args, input);
  if (result.code !== 0)
    throw new Error(`kubectl ${args.join(' ')} failed (${result.code}): ${result.stderr}`);
  return result.stdout;
}

/** A fresh namespace for one test file. */
export async function createNamespace(prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await kubectlOk(['create', 'namespace', name]);
  return name;
}

export async function applyCrds(): Promise<void> {
  await kubectlOk(['apply', '--server-side', '-f', 'crds/']);
  await kubectlOk(['wait', '--for=condition=Established', '--timeout=60s', 'crd/apikeys.keywarden.dev']);
  await kubectlOk([
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    'crd/apikeypolicies.keywarden.dev',
  ]);
}

/** Builds helm from its wrapper module (cached after the first build) and returns the binary's path. */
export function buildHelm(): string {
  return execFileSync('bash', ['tools/helm/build.sh'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  })
    .trim()
    .split('\n')
    .pop() as string;
}

/** Deletes releases' cluster-wide RBAC (by their instance label) and the namespaces a test made, no waiting. */
export async function deleteReleases(releases: string[], namespaces: string[]): Promise<void> {
  for (const release of releases)
    await kubectl([
      'delete',
      'clusterrole,clusterrolebinding',
      '-l',
      `app.kubernetes.io/instance=${release}`,
      '--wait=false',
    ]);
  await kubectl(['delete', 'namespace', ...namespaces, '--wait=false']);
}
