import type { TestProject } from 'vitest/node';
import { LocalControlPlane } from '../../src/localcluster/cluster.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    kubeconfigPath: string;
    binDir: string;
    server: string;
    runDir: string;
  }
}

// One real control plane for the whole integration run; the processes die with the runner even if it
// is killed (see ManagedProcess).
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const plane = await LocalControlPlane.start();
  project.provide('kubeconfigPath', plane.kubeconfigPath);
  project.provide('binDir', plane.binDir);
  project.provide('server', plane.server);
  project.provide('runDir', plane.runDir);
  return async () => {
    await plane.stop();
  };
}
