// The validator's key store loading N hash Secrets from a real API server (default 100,000), against
// one raw LIST of the same Secrets in the same run: load time (list, parse, check and index every
// record until the store is synced) and the heap it holds afterwards (against the LIST's items held
// as parsed JSON). Each figure is measured in a child process of its own (bench/validator-child.ts
// `store` and `list`), twice, alternating; medians.
// Sizes: BENCH_KEY_STORE_KEYS (default 100000), BENCH_KEY_STORE_SEED_CONCURRENCY (default 64).
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { HASH_RECORD_KEY, type HashRecord, hashSecretName } from '../src/api/hash-record.ts';
import { COMPONENTS, LABELS, SECRET_TYPES } from '../src/api/metadata.ts';
import { loadKubeConfig } from '../src/kube/config.ts';
import { KubeRest } from '../src/kube/rest.ts';
import { LocalControlPlane } from '../src/localcluster/cluster.ts';
import { generateKey, hashKey, parseKey } from '../src/rules/index.ts';
import { type Bench, figure, median } from './lib.ts';

const CHILD = fileURLToPath(new URL('./validator-child.ts', import.meta.url));
const KEYS = Number(process.env.BENCH_KEY_STORE_KEYS ?? 100_000);
const SEED_CONCURRENCY = Number(process.env.BENCH_KEY_STORE_SEED_CONCURRENCY ?? 64);
const NAMESPACE = 'bench-store';

/**
 * Creates `count` hash Secrets shaped as the controller writes them (labels, owner, record), many at
 * once over one keep-alive connection pool.
 */
export async function seedHashSecrets(rest: KubeRest, ns: string, count: number): Promise<void> {
  await rest.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  const expiresAt = new Date(Date.now() + 300 * 86_400_000).toISOString();
  const issuedAt = new Date().toISOString();
  let next = 0;
  await Promise.all(
    Array.from({ length: SEED_CONCURRENCY }, async () => {
      while (next < count) {
        const i = next++;
        const key = generateKey({ type: 'private', environment: 'production' });
        const parsed = parseKey(key);
        if (!parsed.ok) throw new Error('bad key');
        const name = `k-${i}`;
        const uid = randomUUID();
        const record: HashRecord = {
          version: 1,
          keyId: parsed.key.keyId,
          hash: hashKey(key),
          apiKey: { namespace: ns, name, uid },
          environment: 'production',
          type: 'private',
          permissions: ['devices:read', 'tickets:create'],
          allowedSources: ['10.0.0.0/8'],
          rateLimit: { requests: 100, period: '1m', burst: 20 },
          customers: ['acme'],
          expiresAt,
          disabled: false,
          rotationGeneration: 0,
          issuedAt,
        };
        await rest.create(`/api/v1/namespaces/${ns}/secrets`, {
          apiVersion: 'v1',
          kind: 'Secret',
          type: SECRET_TYPES.hash,
          metadata: {
            name: hashSecretName(name),
            labels: {
              [LABELS.component]: COMPONENTS.hash,
              'app.kubernetes.io/managed-by': 'keywarden',
            },
            ownerReferences: [
              { apiVersion: 'keywarden.dev/v1alpha1', kind: 'ApiKey', name, uid, controller: true },
            ],
          },
          data: { [HASH_RECORD_KEY]: Buffer.from(JSON.stringify(record)).toString('base64') },
        });
      }
    }),
  );
}

interface Probe {
  ms: number;
  heapBytes: number;
  size: number;
}

async function probe(mode: 'store' | 'list', plane: LocalControlPlane): Promise<Probe> {
  const child = spawn(
    process.execPath,
    ['--expose-gc', '--max-old-space-size=4096', CHILD, mode, NAMESPACE],
    {
      env: { ...process.env, KUBECONFIG: plane.kubeconfigPath },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`probe ${mode} exited with ${code}`)));
  });
  return JSON.parse(line) as Probe;
}

const bench: Bench = {
  name: 'key-store',
  async run() {
    const plane = await LocalControlPlane.start({ controllerManager: false, log: () => {} });
    try {
      const rest = new KubeRest(loadKubeConfig(plane.kubeconfigPath));
      const t0 = performance.now();
      await seedHashSecrets(rest, NAMESPACE, KEYS);
      const seedS = (performance.now() - t0) / 1000;
      const store: Probe[] = [];
      const list: Probe[] = [];
      for (let i = 0; i < 2; i++) {
        list.push(await probe('list', plane));
        store.push(await probe('store', plane));
      }
      if ([...store, ...list].some((s) => s.size !== KEYS))
        throw new Error(`loaded ${[...store, ...list].map((s) => s.size)} of ${KEYS} keys`);
      const mb = (b: number) => b / 1024 / 1024;
      return {
        name: 'key-store',
        description: 'the validator key store loading hash Secrets from a real API server vs one raw LIST',
        params: { keys: KEYS, seedConcurrency: SEED_CONCURRENCY, seedSeconds: Math.round(seedS) },
        figures: [
          figure(
            `key store load, ${KEYS} keys`,
            's',
            median(store.map((s) => s.ms)) / 1000,
            median(list.map((s) => s.ms)) / 1000,
            'one raw LIST of the same Secrets, parsed',
          ),
          figure(
            `key store heap, ${KEYS} keys`,
            'MB',
            mb(median(store.map((s) => s.heapBytes))),
            mb(median(list.map((s) => s.heapBytes))),
            'the raw LIST items held as parsed JSON',
          ),
        ],
      };
    } finally {
      await plane.stop();
    }
  },
};

export default bench;
