import { inject } from 'vitest';
import { loadKubeConfig } from '../../../src/kube/config.ts';
import { KubeRest } from '../../../src/kube/rest.ts';

/** A REST client with the admin credentials of the test control plane. */
export function adminRest(): KubeRest {
  return new KubeRest(loadKubeConfig(inject('kubeconfigPath')));
}
