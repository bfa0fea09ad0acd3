import type { RecordSigningKey } from '../api/hash-record.ts';
import { APIKEY_RESOURCE } from '../api/index.ts';
import { COMPONENTS, CONTROLLER_NAME, LABELS, SECRET_ANNOTATIONS } from '../api/metadata.ts';
import {
  createAuditSink,
  type ParquetAuditSink,
  parseAuditSettings,
  registerAuditMetrics,
} from '../audit/index.ts';
import { EventRecorder } from '../kube/events.ts';
import { Informer, type KubeObject, objectKey } from '../kube/informer.ts';
import { LeaderElector } from '../kube/leader.ts';
import { PolicyWatcher } from '../kube/policy-watcher.ts';
import { SECRETS } from '../kube/resources.ts';
import { KubeError, type KubeRest } from '../kube/rest.ts';
import { WorkQueue } from '../kube/workqueue.ts';
import type { Logger } from '../observability/logger.ts';
import { type Check, type Component, OK } from '../runtime/component.ts';
import type { SecretObject } from './delivery.ts';
import { ControllerMetrics } from './metrics.ts';
import type { ControllerOptions } from './options.ts';
import { type LiveApiKey, Reconciler } from './reconcile.ts';
import { ensureRecordSigningKey, publishRecordKeys } from './record-signing.ts';

/**
 * The ApiKey controller: informers feed a work queue keyed by namespace/name; `concurrency` workers
 * reconcile, only while this process holds the leader Lease. A component: the runner (src/runtime)
 * serves its checks and metrics, and is told through `fail` when the Lease is lost.
 */
export class ApiKeyController implements Component {
  readonly name = 'controller';
  readonly #rest: KubeRest;
  readonly #opts: ControllerOptions;
  readonly #log: Logger;
  readonly queue = new WorkQueue({
    onQueueLatency: (seconds) => this.metrics.waited(seconds),
  });
  readonly apiKeys: Informer<LiveApiKey & KubeObject>[];
  readonly secrets: Informer<KubeObject>[];
  readonly policy: PolicyWatcher;
  readonly metrics: ControllerMetrics;
  readonly #reconciler: Reconciler;
  #elector: LeaderElector | undefined;
  #resync: NodeJS.Timeout | undefined;
  #workers: Promise<void>[] = [];
  #leading = false;
  #audit: ParquetAuditSink | undefined;
  #signingKey: RecordSigningKey | undefined;
  /** Told that this process can no longer go on (the Lease is lost); a fresh start rejoins. */
  readonly #fail: (reason: string) => void;

  constructor(
    rest: KubeRest,
    opts: ControllerOptions,
    log: Logger,
    fail: (reason: string) => void = () => {},
  ) {
    this.#rest = rest;
    this.#fail = fail;
    this.#opts = opts;
    this.#log = log;
    const onError = (what: string) => (err: unknown, attempt: number) =>
      log.warn({ err: describe(err), attempt }, `${what} watch failed; retrying with backoff`);
    const scopes = opts.namespaces.length > 0 ? opts.namespaces : [undefined];
    this.apiKeys = scopes.map(
      (namespace) =>
        new Informer<LiveApiKey & KubeObject>(rest, {
          resource: APIKEY_RESOURCE,
          namespace,
          onError: onError('ApiKey'),
        }),
    );
    this.secrets = [
      ...scopes.map(
        (namespace) =>
          new Informer<KubeObject>(rest, {
            resource: SECRETS,
            namespace,
            labelSelector: `${LABELS.component}=${COMPONENTS.hash}`,
            onError: onError('hash Secret'),
          }),
      ),
      new Informer<KubeObject>(rest, {
        resource: SECRETS,
        namespace: opts.operatorNamespace,
        labelSelector: `${LABELS.component}=${COMPONENTS.delivery}`,
        onError: onError('delivery Secret'),
      }),
    ];
    this.policy = new PolicyWatcher(rest, onError('ApiKeyPolicy'));
    const events = new EventRecorder(rest, CONTROLLER_NAME, opts.identity, (err) =>
      log.warn({ err: describe(err) }, 'could not record an Event'),
    );
    const signingKey = () => {
      if (!this.#signingKey) throw new Error('the record signing key is not loaded yet');
      return this.#signingKey;
    };
    this.#reconciler = new Reconciler({
      rest,
      events,
      operatorNamespace: opts.operatorNamespace,
      deliveryTtlMs: opts.deliveryTtlMs,
      get recordSigningKey() {
        return signingKey();
      },
      audit: { recordLifecycle: (e) => this.#audit?.recordLifecycle(e) },
      expiringSoonMs: () => this.policy.current.expiringSoonDays * 86_400_000,
      consumerSecretNamespaces: () => this.policy.current.consumerSecretNamespaces,
      now: () => new Date(),
      cache: {
        secret: (namespace, name) => {
          for (const inf of this.secrets) {
            const o = inf.get(`${namespace}/${name}`);
            if (o) return o as SecretObject;
          }
          return undefined;
        },
      },
    });
    this.metrics = new ControllerMetrics(this.queue, () => this.apiKeys.flatMap((i) => i.list()));
  }

  get isLeader(): boolean {
    return this.#leading;
  }

  get registry() {
    return this.metrics.registry;
  }

  health(): Check {
    return this.#informers().every((i) => i.healthy)
      ? OK
      : { ok: false, reason: 'a watch has not reached the API server for too long' };
  }

  ready(): Check {
    return this.#informers().every((i) => i.hasSynced) ? OK : { ok: false, reason: 'caches not synced yet' };
  }

  #informers(): { healthy: boolean; hasSynced: boolean }[] {
    return [...this.apiKeys, ...this.secrets, this.policy.informer];
  }

  async start(): Promise<void> {
    if (this.#opts.auditDirectory) {
      this.#audit = await createAuditSink(
        parseAuditSettings({ directory: this.#opts.auditDirectory }, `controller/${this.#opts.identity}`),
        this.#log,
      );
      registerAuditMetrics(this.metrics.registry, this.#audit);
    }
    for (const inf of this.apiKeys) {
      inf.on('add', (o) => {
        this.#reconciler.seenApiKey(o, false);
        this.queue.add(objectKey(o));
      });
      inf.on('update', (o) => {
        this.#reconciler.seenApiKey(o, false);
        this.queue.add(objectKey(o));
      });
      inf.on('delete', (o) => {
        this.#reconciler.seenApiKey(o, true);
        this.queue.add(objectKey(o));
      });
    }
    const owner = (s: KubeObject) => {
      const a = s.metadata.annotations ?? {};
      const ns = a[SECRET_ANNOTATIONS.apiKeyNamespace] ?? s.metadata.namespace;
      const name = a[SECRET_ANNOTATIONS.apiKeyName];
      if (ns && name) this.queue.add(`${ns}/${name}`);
    };
    for (const inf of this.secrets) {
      inf.on('add', (s) => this.#reconciler.seenSecret(s as SecretObject, false));
      inf.on('update', (s) => {
        this.#reconciler.seenSecret(s as SecretObject, false);
        owner(s);
      });
      inf.on('delete', (s) => {
        this.#reconciler.seenSecret(s as SecretObject, true);
        owner(s);
      });
    }
    this.policy.start();
    for (const inf of [...this.apiKeys, ...this.secrets]) inf.start();
    await Promise.all(
      [...this.apiKeys, ...this.secrets, this.policy.informer].map((i) => i.waitForSync(120_000)),
    );
    this.#log.info({ keys: this.apiKeys.reduce((n, i) => n + i.size, 0) }, 'caches synced');
    this.#signingKey = await ensureRecordSigningKey(this.#rest, this.#opts.operatorNamespace);
    await publishRecordKeys(this.#rest, this.#opts.operatorNamespace, this.#signingKey);
    this.#log.info({ kid: this.#signingKey.kid }, 'record signing key loaded and published');

    if (!this.#opts.leaderElection) {
      this.#startWorkers();
      return;
    }
    this.#elector = new LeaderElector(this.#rest, {
      namespace: this.#opts.operatorNamespace,
      name: this.#opts.leaseName,
      identity: this.#opts.identity,
      onStartedLeading: () => {
        this.#log.info({ identity: this.#opts.identity }, 'became leader');
        this.#startWorkers();
      },
      onStoppedLeading: () => {
        this.#log.error('lost the leader Lease; stopping so that a fresh start rejoins the election');
        this.#leading = false;
        this.queue.shutDown();
        this.#fail('lost the leader Lease');
      },
      onError: (err) => this.#log.warn({ err: describe(err) }, 'leader election attempt failed'),
    });
    this.#elector.start();
  }

  #startWorkers(): void {
    this.#leading = true;
    for (const inf of this.apiKeys) for (const o of inf.list()) this.queue.add(objectKey(o));
    this.#resync = setInterval(() => {
      for (const inf of this.apiKeys) for (const o of inf.list()) this.queue.add(objectKey(o));
    }, this.#opts.resyncMs);
    this.#resync.unref();
    for (let i = 0; i < this.#opts.concurrency; i++) this.#workers.push(this.#work());
  }

  async #work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      const started = performance.now();
      try {
        const ak = this.#find(key);
        const result = ak ? await this.#reconciler.reconcile(ak) : {};
        this.queue.forget(key);
        if (result.requeueAfterMs !== undefined) this.queue.addAfter(key, result.requeueAfterMs);
        this.metrics.observe(
          result.requeueAfterMs !== undefined ? 'requeue_after' : 'success',
          (performance.now() - started) / 1000,
        );
      } catch (err) {
        this.metrics.observe('error', (performance.now() - started) / 1000);
        const conflict = err instanceof KubeError && err.status === 409;
        (conflict ? this.#log.debug : this.#log.warn).call(
          this.#log,
          { key, err: describe(err), attempt: this.queue.failures(key) + 1 },
          'reconcile failed; retrying with backoff',
        );
        this.queue.addRateLimited(key);
      } finally {
        this.queue.done(key);
      }
    }
  }

  #find(key: string): LiveApiKey | undefined {
    for (const inf of this.apiKeys) {
      const o = inf.get(key);
      if (o) return o;
    }
    return undefined;
  }

  async stop(): Promise<void> {
    if (this.#resync) clearInterval(this.#resync);
    this.queue.shutDown();
    await Promise.allSettled(this.#workers);
    await this.#elector?.stop();
    for (const inf of [...this.apiKeys, ...this.secrets]) inf.stop();
    this.policy.stop();
    await this.#audit?.close();
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
