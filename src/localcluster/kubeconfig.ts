import { stringify } from 'yaml';

// A kubeconfig with one cluster, one client-certificate user and one context: the admin's (kubectl,
// tests) and each node component's.

export interface ClientCredentials {
  caPem: string;
  certPem: string;
  keyPem: string;
}

export function kubeconfigYaml(
  server: string,
  creds: ClientCredentials,
  names: { cluster: string; user: string } = { cluster: 'keywarden-local', user: 'keywarden-admin' },
): string {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: names.cluster, cluster: { server, 'certificate-authority-data': b64(creds.caPem) } }],
    users: [
      {
        name: names.user,
        user: { 'client-certificate-data': b64(creds.certPem), 'client-key-data': b64(creds.keyPem) },
      },
    ],
    contexts: [{ name: names.cluster, context: { cluster: names.cluster, user: names.user } }],
    'current-context': names.cluster,
  });
}
