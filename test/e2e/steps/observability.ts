import { expect } from 'vitest';
import { SIDECAR_NAME } from '../../../src/injector/inject.ts';
import { DEMO_NS, eventually, getJson, kubectlOk, OPERATOR_NS, runInPod } from '../../support/e2e/cluster.ts';
import { keys } from './shared.ts';

/** Each part serves its metrics to a pod, with no key in them. */
export async function metricsScraped(): Promise<void> {
  const podIp = async (ns: string, selector: string) =>
    (await getJson(['-n', ns, 'get', 'pods', '-l', selector])).items[0].status.podIP as string;
  const targets = {
    validator: `http://${await podIp(DEMO_NS, 'app=demo-api')}:9180/metrics`,
    controller: `http://${await podIp(OPERATOR_NS, 'app.kubernetes.io/component=controller')}:8081/metrics`,
    webhook: `http://${await podIp(OPERATOR_NS, 'app.kubernetes.io/component=webhook')}:8082/metrics`,
  };
  const out = await runInPod(
    DEMO_NS,
    `
const targets = JSON.parse(process.env.TARGETS);
const out = {};
for (const [name, url] of Object.entries(targets)) out[name] = await (await fetch(url)).text();
console.log(JSON.stringify(out));
`,
    { TARGETS: JSON.stringify(targets) },
  );
  const scraped = JSON.parse(out.trim().split('\n').pop() as string) as Record<string, string>;
  expect(scraped.validator).toMatch(/^keywarden_validator_\w+/m);
  expect(scraped.validator).toMatch(/^keywarden_validator_decisions_total\{[^}]*result="deny"[^}]*\} [1-9]/m);
  expect(scraped.controller).toMatch(/^keywarden_\w+/m);
  expect(scraped.webhook).toMatch(/^keywarden_\w+/m);
  for (const text of Object.values(scraped)) expect(text).not.toContain(keys.dev);
}

/** The sidecar writes decisions to its audit trail; `keywarden audit events` reads them back. */
export async function auditReadBack(): Promise<void> {
  const pod = (await getJson(['-n', DEMO_NS, 'get', 'pods', '-l', 'app=demo-api'])).items[0].metadata.name;
  // Files become readable when the writer finishes them: every 5 s here (rotate.age in values.yaml).
  const rows = await eventually('decisions in the audit trail', 60_000, async () => {
    const out = await kubectlOk([
      '-n',
      DEMO_NS,
      'exec',
      pod,
      '-c',
      SIDECAR_NAME,
      '--',
      'node',
      '/app/src/cli/main.ts',
      'audit',
      'events',
      '--dir',
      '/var/lib/keywarden/audit',
      '--limit',
      '0',
      '-o',
      'json',
    ]);
    const parsed = JSON.parse(out) as { status?: number }[];
    return parsed.some((r) => r.status === 401) && parsed.some((r) => r.status === 200) ? parsed : undefined;
  });
  expect(JSON.stringify(rows)).not.toContain(keys.dev);
}
