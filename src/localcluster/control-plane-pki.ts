import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CertificateAuthority, createCa, createSigningKeyPair, issueCert } from '../pki/index.ts';
import type { ClientCredentials } from './kubeconfig.ts';
import type { NodeNetwork } from './node/network.ts';

// The local control plane's certificates and keys, written under <runDir>/pki: a CA, the API server's
// serving certificate, an admin client certificate (system:masters) and the service-account signing
// key pair. Everything is valid for 30 days: a run folder never lives that long.

export type AdminCredentials = ClientCredentials;

export interface ControlPlanePki {
  dir: string;
  ca: CertificateAuthority;
  admin: AdminCredentials;
  /** Paths of the PEM files, for the processes' flags. */
  files: {
    ca: string;
    servingCert: string;
    servingKey: string;
    saPub: string;
    saKey: string;
    adminCert: string;
    adminKey: string;
  };
}

export async function writeControlPlanePki(
  runDir: string,
  nodeNetwork: NodeNetwork | undefined,
): Promise<ControlPlanePki> {
  const dir = join(runDir, 'pki');
  mkdirSync(dir);
  const notAfter = new Date(Date.now() + 30 * 24 * 3600_000);
  const ca = await createCa('keywarden-local-ca', notAfter);
  const serving = await issueCert(ca, {
    commonName: 'kube-apiserver',
    dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc'],
    ipAddresses: [
      '127.0.0.1',
      ...(nodeNetwork ? [nodeNetwork.hostIp, nodeNetwork.kubernetesServiceIp] : ['10.0.0.1']),
    ],
    usage: 'server',
    notAfter,
  });
  const admin = await issueCert(ca, {
    commonName: 'keywarden-admin',
    organization: 'system:masters',
    usage: 'client',
    notAfter,
  });
  const sa = await createSigningKeyPair();
  const files = {
    ca: join(dir, 'ca.crt'),
    servingCert: join(dir, 'apiserver.crt'),
    servingKey: join(dir, 'apiserver.key'),
    saPub: join(dir, 'sa.pub'),
    saKey: join(dir, 'sa.key'),
    adminCert: join(dir, 'admin.crt'),
    adminKey: join(dir, 'admin.key'),
  };
  writeFileSync(files.ca, ca.certPem);
  writeFileSync(files.servingCert, serving.certPem);
  writeFileSync(files.servingKey, serving.keyPem, { mode: 0o600 });
  writeFileSync(files.saPub, sa.publicKeyPem);
  writeFileSync(files.saKey, sa.privateKeyPem, { mode: 0o600 });
  writeFileSync(files.adminCert, admin.certPem);
  writeFileSync(files.adminKey, admin.keyPem, { mode: 0o600 });
  return { dir, ca, admin: { caPem: ca.certPem, certPem: admin.certPem, keyPem: admin.keyPem }, files };
}
