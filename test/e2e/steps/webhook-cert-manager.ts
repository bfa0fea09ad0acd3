import { expect } from 'vitest';
import {
  createKey,
  injectCa,
  loadedByEveryPod,
  StandInIssuer,
  servedSerials,
  setCaBundle,
  upgradeToCertManagerMode,
  WEBHOOK_CERTIFICATE,
  webhookPods,
} from '../../support/e2e/cert-manager.ts';
import { DEMO_NS, eventually, getJson, OPERATOR_NS, RELEASE } from '../../support/e2e/cluster.ts';

/** The webhook in cert-manager files mode: admission, renewal without a restart, an untrusted CA refused. */
export async function webhookCertManagerMode(): Promise<void> {
  // An upgrade of the live release from bootstrap to cert-manager mode (stand-ins in cert-manager.ts).
  const pods = await upgradeToCertManagerMode();
  const issuer = await StandInIssuer.create('keywarden e2e stand-in cert-manager CA');
  const first = await issuer.issue(OPERATOR_NS, WEBHOOK_CERTIFICATE);
  await injectCa(RELEASE);
  await loadedByEveryPod(pods, first.serial);

  // The API server calls the webhook through its Service with that certificate: the mutating webhook
  // defaults the expiry, the validating one refuses two years with its own message.
  const devKey = { environment: 'development', permissions: ['devices:read'] };
  const admitted = await createKey('cm-admitted', devKey);
  expect(admitted.code, admitted.stderr).toBe(0);
  expect((await getJson(['-n', DEMO_NS, 'get', 'apikey', 'cm-admitted'])).spec.expiresAt).toBeTruthy();
  const twoYears = new Date(Date.now() + 2 * 366 * 86_400_000).toISOString().replace(/\.\d+Z$/, 'Z');
  const refused = await createKey('cm-too-long', { ...devKey, expiresAt: twoYears });
  expect(refused.code).not.toBe(0);
  expect(refused.stderr).toMatch(
    /admission webhook "validate\.apikeys\.keywarden\.dev" denied the request: .*spec\.expiresAt .* is more than .* ahead/,
  );

  // Renewal: new files in the Secret; kubelet refreshes the mount and the webhook reloads them with
  // no restart. A client pod checks what each webhook pod and the Service serve, against the CA.
  const renewed = await issuer.issue(OPERATOR_NS, WEBHOOK_CERTIFICATE);
  await loadedByEveryPod(pods, renewed.serial);
  const service = await getJson(['-n', OPERATOR_NS, 'get', 'svc', `${RELEASE}-webhook`]);
  const targets = [`${service.spec.clusterIP}:443`, ...pods.map((p) => `${p.ip}:9443`)];
  const serials = await servedSerials(targets, issuer.ca.certPem, `${RELEASE}-webhook.${OPERATOR_NS}.svc`);
  for (const target of targets) expect(serials[target]?.toUpperCase(), target).toBe(renewed.serial);
  const after = await webhookPods();
  expect(after.map((p) => [p.uid, p.restarts]).sort()).toEqual(pods.map((p) => [p.uid, p.restarts]).sort());
  const afterRenewal = await createKey('cm-renewed', devKey);
  expect(afterRenewal.code, afterRenewal.stderr).toBe(0);

  // Attack: the webhook serves a certificate the caBundle's CA did not sign (caBundle names another
  // CA, as when an impostor answers behind the Service). failurePolicy Fail: the API server refuses.
  const other = await StandInIssuer.create('a CA that did not sign the webhook certificate');
  await setCaBundle(RELEASE, other.ca.certPem);
  const impostor = await eventually(
    'the API server refuses to call an untrusted webhook',
    30_000,
    async () => {
      const r = await createKey('cm-untrusted', devKey, true);
      return r.code !== 0 ? r : undefined;
    },
  );
  expect(impostor.stderr).toMatch(/failed calling webhook "[a-z.]+keywarden\.dev"/);
  expect(impostor.stderr).toMatch(/x509: certificate signed by unknown authority/);
  // Trust restored by the stand-in cainjector: admitted again.
  await injectCa(RELEASE);
  await eventually('admitted again once caBundle is the issuing CA', 30_000, async () =>
    (await createKey('cm-trusted-again', devKey)).code === 0 ? true : undefined,
  );
}
