// Time for N ApiKeys to become Ready through the controller, against baselines measured on the same
// local control plane in the same run, from one client with the same concurrency:
// - the raw-write floor: per key, the ApiKey create plus the writes any controller of this contract
//   must make (finalizer patch, delivery Secret create, hash Secret create, status apply);
// - N raw Secret creates (the older, cruder baseline).
// Then a steady-state resync of all N keys, counting the writes it makes (goal: none).
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiKeyController } from '../src/controller/manager.ts';
import { loadKubeConfig } from '../src/kube/config.ts';
import { objectKey } from '../src/kube/informer.ts';
import { KubeRest, type RequestOptions } from '../src/kube/rest.ts';
import { LocalControlPlane } from '../src/localcluster/cluster.ts';
import { createLogger } from '../src/observability/logger.ts';
import { type Bench, figure } from './lib.ts';

const COUNT = Number(process.env.BENCH_APIKEYS ?? 1000);
/** Requests in flight: the bench client's, the floor's, and the controller's workers alike. */
const CONCURRENCY = 20;

async function inParallel(n: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

/** Writes the floor makes per key besides the ApiKey create; see the file comment. */
const FLOOR_WRITES_PER_KEY = 4;

/** The controller's client, counting the writes (everything but GET) it sends. */
class CountingRest extends KubeRest {
  writes = 0;
  override request<T>(
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    path: string,
    opts?: RequestOptions,
  ): Promise<T> {
    if (method !== 'GET') this.writes++;
    return super.request<T>(method, path, opts);
  }
}

const apiKeyBody = (name: string) => ({
  apiVersion: 'keywarden.dev/v1alpha1',
  kind: 'ApiKey',
  metadata: { name },
  spec: { environment: 'production', permissions: ['devices:read'] },
});

/** What a minimal controller must write for one key, one write after the other. */
async function floorWrites(rest: KubeRest, i: number): Promise<void> {
  const ns = 'floor';
  const name = `f-${i}`;
  const akPath = `/apis/keywarden.dev/v1alpha1/namespaces/${ns}/apikeys/${name}`;
  await rest.create(`/apis/keywarden.dev/v1alpha1/namespaces/${ns}/apikeys`, apiKeyBody(name));
  await rest.patch(
    akPath,
    [{ op: 'add', path: '/metadata/finalizers', value: ['keywarden.dev/cleanup'] }],
    'json',
  );
  const secret = (namespace: string, secretName: string, data: Record<string, string>) =>
    rest.create(`/api/v1/namespaces/${namespace}/secrets`, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: secretName, labels: { 'keywarden.dev/component': 'floor' } },
      data,
    });
  await secret('keywarden-system', `${ns}.${name}.delivery`, {
    sealed: Buffer.alloc(300).toString('base64'),
  });
  await secret(ns, `${name}.keywarden-hash`, { 'record.json': Buffer.alloc(400).toString('base64') });
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  await rest.patch(
    `${akPath}/status`,
    {
      apiVersion: 'keywarden.dev/v1alpha1',
      kind: 'ApiKey',
      metadata: { name, namespace: ns },
      status: {
        state: 'Active',
        keyId: 'AbCdEfGh1234',
        rotationGeneration: 0,
        issuedAt: now,
        expiresAt: now,
        observedGeneration: 1,
        delivery: { state: 'Pending', expiresAt: now },
        conditions: [
          { type: 'Ready', status: 'True', reason: 'Active', message: 'floor', lastTransitionTime: now },
        ],
      },
    },
    'apply',
    { fieldManager: 'floor', force: true },
  );
}

/** Resolves once the work queue has been empty and idle for `quietMs`. */
async function drained(controller: ApiKeyController, quietMs = 500, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let idleSince = 0;
  while (Date.now() < deadline) {
    const idle = controller.queue.depth === 0 && controller.queue.inFlight === 0;
    if (!idle) idleSince = 0;
    else if (idleSince === 0) idleSince = Date.now();
    else if (Date.now() - idleSince >= quietMs) return;
    await sleep(50);
  }
  throw new Error('the controller did not settle');
}

const bench: Bench = {
  name: 'controller-ready',
  async run() {
    const plane = await LocalControlPlane.start({ controllerManager: false, log: () => {} });
    try {
      const kubectl = (...args: string[]) =>
        execFileSync(plane.kubectlPath, args, { env: { ...process.env, ...plane.env } });
      kubectl('apply', '--server-side', '-f', 'crds/');
      kubectl(
        'wait',
        '--for=condition=Established',
        'crd/apikeys.keywarden.dev',
        'crd/apikeypolicies.keywarden.dev',
      );
      kubectl('create', 'namespace', 'bench');
      kubectl('create', 'namespace', 'baseline');
      kubectl('create', 'namespace', 'floor');
      kubectl('create', 'namespace', 'keywarden-system');
      const rest = new KubeRest(loadKubeConfig(plane.kubeconfigPath));

      // Baseline: N raw writes.
      const t0 = performance.now();
      await inParallel(COUNT, (i) =>
        rest.create('/api/v1/namespaces/baseline/secrets', {
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name: `s-${i}` },
          data: { v: 'eA==' },
        }),
      );
      const baselineMs = performance.now() - t0;

      // The raw-write floor: the same ApiKey creates plus the writes a minimal controller must make.
      const tf = performance.now();
      await inParallel(COUNT, (i) => floorWrites(rest, i));
      const floorMs = performance.now() - tf;

      const log = createLogger('bench', 'error');
      const counting = new CountingRest(loadKubeConfig(plane.kubeconfigPath));
      const controller = new ApiKeyController(
        counting,
        {
          operatorNamespace: 'keywarden-system',
          namespaces: ['bench'],
          deliveryTtlMs: 3600_000,
          concurrency: CONCURRENCY,
          resyncMs: 3600_000,
          leaderElection: false,
          leaseName: 'bench',
          identity: 'bench',
        },
        log,
      );
      await controller.start();
      counting.writes = 0; // the signing key Secret and key-set ConfigMap made at start are not per key
      const ready = new Set<string>();
      let resolveAll: () => void = () => {};
      const allReady = new Promise<void>((r) => {
        resolveAll = r;
      });
      const watchReady = (o: { metadata: { name: string }; status?: { state?: string } }) => {
        if (o.status?.state === 'Active') ready.add(o.metadata.name);
        if (ready.size === COUNT) resolveAll();
      };
      for (const inf of controller.apiKeys) {
        inf.on('add', watchReady);
        inf.on('update', watchReady);
      }
      const t1 = performance.now();
      await inParallel(COUNT, (i) =>
        rest.create('/apis/keywarden.dev/v1alpha1/namespaces/bench/apikeys', apiKeyBody(`k-${i}`)),
      );
      await allReady;
      const readyMs = performance.now() - t1;
      // Wake-ups of our own writes settle; what it took per key is counted after that.
      await drained(controller);
      const writesToReady = counting.writes;

      // Steady state: every key reconciled again with nothing changed.
      counting.writes = 0;
      for (const inf of controller.apiKeys) for (const o of inf.list()) controller.queue.add(objectKey(o));
      await drained(controller);
      const resyncWrites = counting.writes;
      await controller.stop();
      return {
        name: 'controller-ready',
        description: `${COUNT} ApiKeys created and made Active by the controller vs the raw-write floor (per key: ApiKey create, finalizer patch, delivery Secret create, hash Secret create, status apply, one client) and vs ${COUNT} raw Secret creates; then a steady-state resync of all keys`,
        params: {
          apiKeys: COUNT,
          clientConcurrency: CONCURRENCY,
          workers: CONCURRENCY,
          floorWritesPerKey: FLOOR_WRITES_PER_KEY,
        },
        figures: [
          figure(
            `${COUNT} ApiKeys Ready`,
            's',
            readyMs / 1000,
            floorMs / 1000,
            `raw-write floor: ${COUNT} x (ApiKey create + finalizer patch + delivery Secret create + hash Secret create + status apply), one client`,
          ),
          figure(
            `${COUNT} ApiKeys Ready (vs raw Secret creates)`,
            's',
            readyMs / 1000,
            baselineMs / 1000,
            `${COUNT} raw Secret creates, one client`,
          ),
          figure(
            'controller writes per key to Ready',
            'writes',
            writesToReady / COUNT,
            FLOOR_WRITES_PER_KEY,
            'the floor: finalizer patch, delivery Secret create, hash Secret create, status apply',
          ),
          figure(
            `steady-state resync of ${COUNT} keys: writes made`,
            'writes',
            resyncWrites,
            COUNT,
            `one status write per key (what every resync cost before the plan/apply reconcile)`,
          ),
        ],
      };
    } finally {
      await plane.stop();
    }
  },
};

export default bench;
