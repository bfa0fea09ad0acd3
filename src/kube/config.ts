import { KubeConfig } from '@kubernetes/client-node';

/** KUBECONFIG / ~/.kube/config / in-cluster, or an explicit file. */
export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  if (!kc.getCurrentCluster()) {
    throw new Error('no Kubernetes cluster configured: set KUBECONFIG or run inside a cluster');
  }
  return kc;
}
