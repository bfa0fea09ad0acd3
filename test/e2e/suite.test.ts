import { describe, test } from 'vitest';
import { controllerLeads, install, webhookAdmits } from './steps/install.ts';
import { chartAccountsOnly, controllerFailover, uninstallClean, upgradeFromMain } from './steps/lifecycle.ts';
import { auditReadBack, metricsScraped } from './steps/observability.ts';
import {
  disableRefused,
  injectSidecar,
  nginxForwardAuth,
  requestsFromHost,
  requestsFromPod,
} from './steps/requests.ts';
import { webhookCertManagerMode } from './steps/webhook-cert-manager.ts';
import { E2E_STEPS } from './steps.ts';

// One suite, one cluster, steps in order (E2E_STEPS): each step builds on the one before, as a user's
// install does. A failed step fails the ones after it quickly (their preconditions are missing). Each
// step is a function in steps/, grouped by what it shows (state they share: steps/shared.ts); the order
// is this file's, so vitest runs them one after another in one worker.
const [
  INSTALL,
  WEBHOOK,
  CONTROLLER,
  INJECT,
  CLIENT,
  NODEPORT,
  DISABLE,
  NGINX,
  METRICS,
  AUDIT,
  FAILOVER,
  RBAC,
  UPGRADE,
  CERT_MANAGER,
  UNINSTALL,
] = E2E_STEPS;

describe('keywarden on a real node: image, chart and pods', () => {
  test(INSTALL, install);
  test(WEBHOOK, webhookAdmits);
  test(CONTROLLER, controllerLeads);
  test(INJECT, injectSidecar);
  test(CLIENT, requestsFromPod);
  test(NODEPORT, requestsFromHost);
  test(DISABLE, disableRefused);
  test(NGINX, nginxForwardAuth);
  test(METRICS, metricsScraped);
  test(AUDIT, auditReadBack);
  test(FAILOVER, controllerFailover);
  test(RBAC, chartAccountsOnly);
  test(UPGRADE, upgradeFromMain);
  test(CERT_MANAGER, webhookCertManagerMode);
  test(UNINSTALL, uninstallClean);
});
