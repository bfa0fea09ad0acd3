import { Informer, type KubeObject } from '../../kube/informer.ts';
import { MUTATING_WEBHOOK_CONFIGURATIONS, VALIDATING_WEBHOOK_CONFIGURATIONS } from '../../kube/resources.ts';
import { isNotFound, type KubeRest, resourcePath } from '../../kube/rest.ts';
import type { Logger } from '../../observability/logger.ts';

// Keeps `caBundle` of the named webhook configurations equal to our CA. Watched, not patched once:
// the configurations may be created after the webhook starts, and a GitOps tool re-applying them
// without caBundle would otherwise break admission until the next restart.

const KINDS = {
  mutating: MUTATING_WEBHOOK_CONFIGURATIONS,
  validating: VALIDATING_WEBHOOK_CONFIGURATIONS,
} as const;

interface WebhookConfigurationObject extends KubeObject {
  webhooks?: { name: string; clientConfig?: { caBundle?: string } }[];
}

export interface CaBundleTargets {
  mutating: string[];
  validating: string[];
}

export class CaBundlePatcher {
  readonly #rest: KubeRest;
  readonly #log: Logger;
  readonly #informers: {
    kind: keyof typeof KINDS;
    name: string;
    informer: Informer<WebhookConfigurationObject>;
  }[];
  #caBundle: string | undefined;
  #stopped = false;
  /** Patches sent, for tests and logs. */
  patches = 0;

  constructor(rest: KubeRest, targets: CaBundleTargets, log: Logger) {
    this.#rest = rest;
    this.#log = log;
    this.#informers = (['mutating', 'validating'] as const).flatMap((kind) =>
      targets[kind].map((name) => {
        const informer = new Informer<WebhookConfigurationObject>(rest, {
          resource: KINDS[kind],
          fieldSelector: `metadata.name=${name}`,
          onError: (err) =>
            log.warn({ err: String(err), kind, name }, 'webhook configuration watch failed; retrying'),
        });
        const check = (obj: WebhookConfigurationObject) => void this.#ensure(kind, obj);
        informer.on('add', check);
        informer.on('update', check);
        return { kind, name, informer };
      }),
    );
  }

  start(): void {
    this.#stopped = false;
    for (const { informer } of this.#informers) informer.start();
  }

  stop(): void {
    this.#stopped = true;
    for (const { informer } of this.#informers) informer.stop();
  }

  /** Sets the CA to publish (PEM) and patches every known configuration that differs. */
  setCa(caPem: string): void {
    const bundle = Buffer.from(caPem).toString('base64');
    if (bundle === this.#caBundle) return;
    this.#caBundle = bundle;
    for (const { kind, name, informer } of this.#informers) {
      const obj = informer.get(name);
      if (obj) void this.#ensure(kind, obj);
    }
  }

  /** True when every named configuration exists and carries the CA. */
  get inSync(): boolean {
    return this.#informers.every(({ name, informer }) => {
      const hooks = informer.get(name)?.webhooks ?? [];
      return hooks.length > 0 && hooks.every((w) => w.clientConfig?.caBundle === this.#caBundle);
    });
  }

  async #ensure(kind: keyof typeof KINDS, obj: WebhookConfigurationObject): Promise<void> {
    const bundle = this.#caBundle;
    if (!bundle || this.#stopped) return;
    // `test` on each webhook's name: if the list changed under us the patch fails instead of
    // writing into the wrong entry; the watch brings the new version and we try again.
    const ops = (obj.webhooks ?? []).flatMap((w, i) =>
      w.clientConfig?.caBundle === bundle
        ? []
        : [
            { op: 'test', path: `/webhooks/${i}/name`, value: w.name },
            { op: 'add', path: `/webhooks/${i}/clientConfig/caBundle`, value: bundle },
          ],
    );
    if (ops.length === 0) return;
    try {
      await this.#rest.patch(resourcePath(KINDS[kind], undefined, obj.metadata.name), ops, 'json');
      this.patches++;
      this.#log.info({ kind, name: obj.metadata.name }, 'patched caBundle into the webhook configuration');
    } catch (err) {
      if (isNotFound(err)) return;
      this.#log.warn({ err: String(err), kind, name: obj.metadata.name }, 'caBundle patch failed; retrying');
      const retry = setTimeout(() => this.#retry(kind, obj.metadata.name), 2_000);
      retry.unref();
    }
  }

  #retry(kind: keyof typeof KINDS, name: string): void {
    const entry = this.#informers.find((i) => i.kind === kind && i.name === name);
    const obj = entry?.informer.get(name);
    if (obj) void this.#ensure(kind, obj);
  }
}
