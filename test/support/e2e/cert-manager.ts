import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { expect } from 'vitest';
import { CHART_DIR, chartInstallArgs } from '../../../src/cli/dev/demo.ts';
import { type CertificateAuthority, createCa, issueCert, type KeyPairPem } from '../../../src/pki/index.ts';
import {
  DEMO_NS,
  eventually,
  getJson,
  helmOk,
  kubectl,
  kubectlOk,
  OPERATOR_NS,
  RELEASE,
  ROOT,
  runInPod,
} from './cluster.ts';

// cert-manager cannot run here (no registry), so the e2e suite plays its two parts itself, in the
// open: issuance (a CA and serving certificates written into the Secret the chart's Certificate names)
// and cainjector (caBundle copied into the configurations that carry cert-manager.io/inject-ca-from).
// What is real: the chart's Issuer/Certificate objects accepted by the API server (stand-in CRDs), the
// webhook reading the mounted files, kubelet refreshing the mount, and the API server's TLS checks.

const STAND_IN_CRDS = join(ROOT, 'test/support/fixtures/stand-in-crds/cert-manager.io.yaml');
const CONFIGURATION_KINDS = ['mutatingwebhookconfigurations', 'validatingwebhookconfigurations'] as const;
const INJECT_ANNOTATION = 'cert-manager.io/inject-ca-from';
const DAY_MS = 86_400_000;
/** The chart's Certificate for the webhook's serving certificate. */
export const WEBHOOK_CERTIFICATE = `${RELEASE}-webhook`;

/** Installs the stand-in cert-manager CRDs; refuses to replace real ones a cluster already has. */
export async function installStandInCrds(): Promise<void> {
  const existing = await kubectl(['get', 'crd', 'certificates.cert-manager.io', '-o', 'json']);
  if (
    existing.code === 0 &&
    JSON.parse(existing.stdout).metadata?.labels?.['keywarden.dev/stand-in'] !== 'true'
  )
    throw new Error('this cluster has the real cert-manager CRDs: run the suite on a cluster of its own');
  await kubectlOk(['apply', '--server-side', '-f', STAND_IN_CRDS]);
  await kubectlOk([
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    'crd/issuers.cert-manager.io',
    'crd/certificates.cert-manager.io',
  ]);
}

/** The stand-in for cert-manager's CA issuer: one CA, serving certificates for a Certificate's names. */
export class StandInIssuer {
  readonly ca: CertificateAuthority;

  private constructor(ca: CertificateAuthority) {
    this.ca = ca;
  }

  static async create(commonName: string): Promise<StandInIssuer> {
    return new StandInIssuer(await createCa(commonName, new Date(Date.now() + 365 * DAY_MS)));
  }

  /** Issues for the Certificate `namespace/name` and writes its Secret, as cert-manager would. */
  async issue(namespace: string, name: string): Promise<{ serving: KeyPairPem; serial: string }> {
    const certificate = await getJson(['-n', namespace, 'get', 'certificates.cert-manager.io', name]);
    const dnsNames: string[] = certificate.spec.dnsNames;
    const serving = await issueCert(this.ca, {
      commonName: dnsNames[0] as string,
      dnsNames,
      usage: 'server',
      notAfter: new Date(Date.now() + 90 * DAY_MS),
    });
    const secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/tls',
      metadata: {
        name: certificate.spec.secretName,
        namespace,
        annotations: { 'cert-manager.io/certificate-name': name },
      },
      data: {
        'tls.crt': Buffer.from(serving.certPem).toString('base64'),
        'tls.key': Buffer.from(serving.keyPem).toString('base64'),
        'ca.crt': Buffer.from(this.ca.certPem).toString('base64'),
      },
    };
    // The whole Secret is replaced (cert-manager owns its data): nothing of an earlier issuer stays.
    const replaced = await kubectl(['replace', '-f', '-'], JSON.stringify(secret));
    if (replaced.code !== 0) await kubectlOk(['create', '-f', '-'], JSON.stringify(secret));
    return { serving, serial: new X509Certificate(serving.certPem).serialNumber.toUpperCase() };
  }
}

/** Webhook configurations of a release that ask cainjector for a CA: kind and name. */
async function injectedConfigurations(
  release: string,
): Promise<{ kind: string; name: string; from: string }[]> {
  const out: { kind: string; name: string; from: string }[] = [];
  for (const kind of CONFIGURATION_KINDS) {
    const list = await getJson(['get', kind, '-l', `app.kubernetes.io/instance=${release}`]);
    for (const cfg of list.items) {
      const from = cfg.metadata.annotations?.[INJECT_ANNOTATION];
      if (from) out.push({ kind, name: cfg.metadata.name, from });
    }
  }
  if (out.length === 0)
    throw new Error(`no webhook configuration of ${release} carries ${INJECT_ANNOTATION}`);
  return out;
}

async function patchCaBundle(kind: string, name: string, caPem: string): Promise<void> {
  const cfg = await getJson(['get', kind, name]);
  const patch = cfg.webhooks.map((_: unknown, i: number) => ({
    op: 'add',
    path: `/webhooks/${i}/clientConfig/caBundle`,
    value: Buffer.from(caPem).toString('base64'),
  }));
  await kubectlOk(['patch', kind, name, '--type=json', '-p', JSON.stringify(patch)]);
}

/** Sets caBundle (PEM) on every webhook of the release's configurations that carry the annotation. */
export async function setCaBundle(release: string, caPem: string): Promise<void> {
  for (const { kind, name } of await injectedConfigurations(release)) await patchCaBundle(kind, name, caPem);
}

/**
 * The stand-in for cainjector: for each configuration annotated `cert-manager.io/inject-ca-from:
 * NS/CERTIFICATE`, the CA (`ca.crt`) of the Secret that Certificate names goes into caBundle.
 */
export async function injectCa(release: string): Promise<void> {
  for (const { kind, name, from } of await injectedConfigurations(release)) {
    const [namespace = '', certificate = ''] = from.split('/');
    const cert = await getJson(['-n', namespace, 'get', 'certificates.cert-manager.io', certificate]);
    const secret = await getJson(['-n', namespace, 'get', 'secret', cert.spec.secretName]);
    await patchCaBundle(kind, name, Buffer.from(secret.data['ca.crt'], 'base64').toString('utf8'));
  }
}

/** Creates an ApiKey (or only asks the API server, with dryRun): the admission chain's answer. */
export const createKey = (name: string, spec: object, dryRun = false) =>
  kubectl(
    ['-n', DEMO_NS, 'create', ...(dryRun ? ['--dry-run=server'] : []), '-f', '-'],
    JSON.stringify({ apiVersion: 'keywarden.dev/v1alpha1', kind: 'ApiKey', metadata: { name }, spec }),
  );

export interface WebhookPod {
  name: string;
  uid: string;
  ip: string;
  restarts: number;
  args: string[];
}

/** The release's running webhook pods (not the ones a rollout is terminating). */
export async function webhookPods(): Promise<WebhookPod[]> {
  const pods = await getJson([
    '-n',
    OPERATOR_NS,
    'get',
    'pods',
    '-l',
    `app.kubernetes.io/instance=${RELEASE},app.kubernetes.io/component=webhook`,
  ]);
  return pods.items
    .filter((p: { metadata: { deletionTimestamp?: string } }) => !p.metadata.deletionTimestamp)
    .map(
      (p: {
        metadata: { name: string; uid: string };
        status: { podIP: string; containerStatuses?: { restartCount: number }[] };
        spec: { containers: { args: string[] }[] };
      }) => ({
        name: p.metadata.name,
        uid: p.metadata.uid,
        ip: p.status.podIP,
        restarts: (p.status.containerStatuses ?? []).reduce((n, c) => n + c.restartCount, 0),
        args: p.spec.containers[0]?.args ?? [],
      }),
    );
}

/** Waits until every webhook pod logged that it loaded the certificate with this serial from files. */
export const loadedByEveryPod = (pods: WebhookPod[], serial: string) =>
  eventually(`every webhook pod loaded certificate ${serial} from its mounted Secret`, 180_000, async () => {
    for (const pod of pods) {
      const logs = await kubectlOk(['-n', OPERATOR_NS, 'logs', pod.name, '-c', 'webhook']);
      const loaded = logs
        .split('\n')
        .some((l) => l.includes('serving certificate loaded from files') && l.toUpperCase().includes(serial));
      if (!loaded) return undefined;
    }
    return true;
  });

/**
 * `helm upgrade` of the live release to cert-manager mode, on stand-in CRDs: the chart's Issuers and
 * Certificates are accepted and the webhook runs --tls-mode=files on the mounted Secret (until the
 * stand-in issues, that Secret still holds what bootstrap mode left). Returns the new webhook pods.
 */
export async function upgradeToCertManagerMode(): Promise<WebhookPod[]> {
  await installStandInCrds();
  await helmOk(chartInstallArgs(CHART_DIR, ['--set', 'webhook.tls.mode=cert-manager']));
  const objects = await getJson([
    '-n',
    OPERATOR_NS,
    'get',
    'certificates.cert-manager.io,issuers.cert-manager.io',
  ]);
  expect(
    objects.items.map((o: { kind: string; metadata: { name: string } }) => `${o.kind}/${o.metadata.name}`),
  ).toEqual(
    expect.arrayContaining([
      `Certificate/${WEBHOOK_CERTIFICATE}`,
      `Certificate/${RELEASE}-ca`,
      `Issuer/${RELEASE}-ca`,
      `Issuer/${RELEASE}-selfsigned`,
    ]),
  );
  const pods = await webhookPods();
  expect(pods).toHaveLength(2);
  for (const pod of pods) expect(pod.args, pod.name).toContain('--tls-mode=files');
  return pods;
}

/**
 * The serial number each `host:port` serves, read by a client pod that verifies the chain against
 * `caPem` and the name `servername` (what the API server checks); an error string where that fails.
 */
export async function servedSerials(
  targets: string[],
  caPem: string,
  servername: string,
): Promise<Record<string, string>> {
  const out = await runInPod(
    DEMO_NS,
    `
import tls from 'node:tls';
const { targets, ca, servername } = JSON.parse(process.env.PROBE);
const out = {};
for (const target of targets) {
  const [host, port] = target.split(':');
  out[target] = await new Promise((resolve) => {
    const socket = tls.connect({ host, port: Number(port), ca, servername }, () => {
      resolve(socket.getPeerCertificate().serialNumber);
      socket.end();
    });
    socket.on('error', (err) => resolve('error: ' + err.message));
  });
}
console.log(JSON.stringify(out));
`,
    { PROBE: JSON.stringify({ targets, ca: caPem, servername }) },
  );
  return JSON.parse(out.trim().split('\n').pop() as string) as Record<string, string>;
}
