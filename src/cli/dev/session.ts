import { loadKubeConfig } from '../../kube/config.ts';
import { KubeRest } from '../../kube/rest.ts';
import type { LocalControlPlane } from '../../localcluster/cluster.ts';
import { REPO } from './demo.ts';
import { type RunResult, run, runOk } from './run.ts';

// What every step of `keywarden dev` shares: how it talks (a heading per step, the commands a user
// would type echoed with their output) and how it reaches the cluster.

export const step = (s: string): void => {
  process.stdout.write(`\n==> ${s}\n`);
};
export const say = (s: string): void => {
  process.stdout.write(`  ${s}\n`);
};
/** A command line as the user would type it from the checkout (no absolute repository paths). */
export const shown = (cmd: string, args: string[]): string =>
  `$ ${cmd} ${args.join(' ')}`.replaceAll(REPO, '');

/** kubectl against the dev cluster, run from the checkout so relative paths (crds/, examples/) work. */
class Kubectl {
  readonly #path: string;
  readonly #env: NodeJS.ProcessEnv;

  constructor(path: string, env: NodeJS.ProcessEnv) {
    this.#path = path;
    this.#env = env;
  }

  /** Runs it silently; throws with its output when it fails. */
  ok(args: string[], input?: string): Promise<string> {
    return runOk(this.#path, args, { env: this.#env, cwd: REPO, ...(input === undefined ? {} : { input }) });
  }

  /** Runs it silently and returns the outcome, failed or not. */
  attempt(args: string[], input?: string): Promise<RunResult> {
    return run(this.#path, args, { env: this.#env, cwd: REPO, ...(input === undefined ? {} : { input }) });
  }

  /** Echoes `$ kubectl ...` and its output. */
  async show(args: string[], input?: string): Promise<string> {
    process.stdout.write(`${shown('kubectl', args)}\n`);
    const out = await this.ok(args, input);
    process.stdout.write(out);
    return out;
  }

  // biome-ignore lint/suspicious/noExplicitAny: kubectl JSON of any kind; callers read what they need
  async json<T = any>(args: string[]): Promise<T> {
    return JSON.parse(await this.ok([...args, '-o', 'json'])) as T;
  }
}

/** The cluster `keywarden dev` brought up, as its steps use it. */
export interface DevCluster {
  plane: LocalControlPlane;
  /** KUBECONFIG and the control plane's binaries on PATH. */
  env: NodeJS.ProcessEnv;
  kubectl: Kubectl;
  rest: KubeRest;
}

export function devCluster(plane: LocalControlPlane): DevCluster {
  const env = { ...process.env, ...plane.env, KEYWARDEN_LOG_LEVEL: 'info' };
  return {
    plane,
    env,
    kubectl: new Kubectl(plane.kubectlPath, env),
    rest: new KubeRest(loadKubeConfig(plane.kubeconfigPath)),
  };
}
