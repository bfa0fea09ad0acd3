// Our admission webhook server as `keywarden webhook` runs it (built-in policy, no default metrics),
// for the benches that measure it: bench/webhook.bench.ts and bench/webhook-anatomy.ts.
import { BUILT_IN_POLICY } from '../src/api/policy.ts';
import { createLogger } from '../src/observability/logger.ts';
import type { KeyPairPem } from '../src/pki/index.ts';
import { WebhookMetrics } from '../src/webhook/metrics.ts';
import {
  type RunningWebhookServer,
  startWebhookServer,
  type WebhookServerOptions,
} from '../src/webhook/server.ts';
import { CertificateHolder } from '../src/webhook/tls/holder.ts';

export function startOurWebhook(
  pair: KeyPairPem,
  onTimed?: WebhookServerOptions['onTimed'],
): Promise<RunningWebhookServer> {
  const holder = new CertificateHolder();
  holder.set(pair);
  return startWebhookServer({
    host: '127.0.0.1',
    port: 0,
    holder,
    metrics: new WebhookMetrics({ defaultMetrics: false }),
    policy: () => BUILT_IN_POLICY,
    ready: () => ({ ok: true }),
    log: createLogger('bench', 'error'),
    ...(onTimed ? { onTimed } : {}),
  });
}
