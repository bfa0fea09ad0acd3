import { PolicyWatcher } from '../kube/policy-watcher.ts';
import type { KubeRest } from '../kube/rest.ts';
import type { Logger } from '../observability/logger.ts';
import { type Check, type Component, OK } from '../runtime/component.ts';
import { WebhookMetrics } from './metrics.ts';
import type { WebhookOptions } from './options.ts';
import { subjectAccessReviewer } from './secret-access.ts';
import { type RunningWebhookServer, startWebhookServer } from './server.ts';
import { CertificateBootstrapper } from './tls/bootstrap.ts';
import { CaBundlePatcher } from './tls/ca-bundle.ts';
import { FileCertificateSource } from './tls/files.ts';
import { CertificateHolder } from './tls/holder.ts';

/**
 * `keywarden webhook`: policy cache, serving certificate (bootstrapped or from files) and the HTTPS
 * admission server, as a component the runner (src/runtime) serves /healthz, /readyz and /metrics
 * for. It only starts answering once the policy is synced,
 * so a strict catalogue is never bypassed by admitting against the built-in defaults during start-up.
 */
export class AdmissionWebhook implements Component {
  readonly name = 'webhook';
  readonly metrics = new WebhookMetrics();
  readonly holder = new CertificateHolder();
  readonly policy: PolicyWatcher;
  readonly #opts: WebhookOptions;
  readonly #log: Logger;
  readonly #rest: KubeRest;
  #bootstrapper: CertificateBootstrapper | undefined;
  #patcher: CaBundlePatcher | undefined;
  #files: FileCertificateSource | undefined;
  #server: RunningWebhookServer | undefined;
  #stopping = false;

  constructor(rest: KubeRest, opts: WebhookOptions, log: Logger) {
    this.#rest = rest;
    this.#opts = opts;
    this.#log = log;
    this.policy = new PolicyWatcher(rest, (err) =>
      log.warn({ err: String(err) }, 'ApiKeyPolicy watch failed; retrying'),
    );
    this.holder.on('change', (c) => {
      this.metrics.certificateExpiry.set(c.notAfter.getTime() / 1000);
      this.metrics.certificateRenewals.inc();
    });
  }

  get port(): number {
    return this.#server?.port ?? 0;
  }

  get registry() {
    return this.metrics.registry;
  }

  health(): Check {
    return this.#stopping ? { ok: false, reason: 'shutting down' } : OK;
  }

  ready(): Check {
    if (this.#stopping) return { ok: false, reason: 'shutting down' };
    if (!this.holder.current) return { ok: false, reason: 'no serving certificate yet' };
    if (!this.policy.informer.hasSynced) return { ok: false, reason: 'ApiKeyPolicy cache not synced' };
    return OK;
  }

  async start(): Promise<void> {
    this.policy.start();
    await this.policy.informer.waitForSync(this.#opts.policySyncTimeoutMs);
    await this.#startTls();
    this.#server = await startWebhookServer({
      host: this.#opts.host,
      port: this.#opts.port,
      holder: this.holder,
      metrics: this.metrics,
      policy: () => this.policy.current,
      ready: () => this.ready(),
      log: this.#log,
      maxBodyBytes: this.#opts.maxBodyBytes,
      injector: this.#opts.injector,
      operatorNamespace: this.#opts.operatorNamespace,
      access: subjectAccessReviewer(this.#rest),
    });
  }

  async #startTls(): Promise<void> {
    const tls = this.#opts.tls;
    if (tls.mode === 'files') {
      this.#files = new FileCertificateSource({
        certFile: tls.certFile,
        keyFile: tls.keyFile,
        holder: this.holder,
        log: this.#log,
        intervalMs: tls.reloadIntervalMs,
      });
      await this.#files.start();
      return;
    }
    const patcher = new CaBundlePatcher(
      this.#rest,
      { mutating: tls.mutatingConfigurations, validating: tls.validatingConfigurations },
      this.#log,
    );
    this.#patcher = patcher;
    patcher.start();
    this.#bootstrapper = new CertificateBootstrapper(this.#rest, tls, this.holder, this.#log, (caPem) =>
      patcher.setCa(caPem),
    );
    await this.#bootstrapper.start();
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    this.#bootstrapper?.stop();
    this.#patcher?.stop();
    this.#files?.stop();
    this.policy.stop();
    await this.#server?.close();
  }
}
