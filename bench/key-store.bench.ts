// The validator's key store loading N hash Secrets from a real API server (default 100,000), against
// one raw LIST of the same Secrets in the same run: load time (list, parse, check and index every
// record until the store is synced) and the heap it holds afterwards (against the LIST's items held
// as parsed JSON). The records are signed as the controller signs them and the store verifies them
// with the published key set, as every validator configured with keyStore.recordKeys does (without
// it a validator warns that records are believed unsigned); the unsigned load is a figure of its own.
// "load" is until synced (the validator is ready: a lookup verifies its record first); the time until
// the background pass has verified every signature is its own figure, and the heap is read after it.
// Each figure is measured in a child process of its own (bench/validator-child.ts `store` and `list`),
// twice, alternating; medians.
// Sizes: BENCH_KEY_STORE_KEYS (default 100000), BENCH_KEY_STORE_SEED_CONCURRENCY (default 64).
import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  HASH_RECORD_KEY,
  HASH_RECORD_SIGNATURE_KEY,
  type HashRecord,
  hashSecretName,
  RECORD_KEYS_KEY,
  type RecordSigningKey,
  recordKeyId,
  recordKeySetJson,
  signRecordText,
} from '../src/api/hash-record.ts';
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
export async function seedHashSecrets(
  rest: KubeRest,
  ns: string,
  count: number,
  signingKey?: RecordSigningKey,
): Promise<void> {
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
        const text = JSON.stringify(record);
        const signature = signingKey && signRecordText(text, signingKey);
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
          data: {
            [HASH_RECORD_KEY]: Buffer.from(text).toString('base64'),
            ...(signature ? { [HASH_RECORD_SIGNATURE_KEY]: Buffer.from(signature).toString('base64') } : {}),
          },
        });
      }
    }),
  );
}

interface Probe {
  /** Until synced (the validator ready); in store mode `verifiedMs`: until every signature is verified. */
  ms: number;
  verifiedMs?: number;
  /** Store mode: records waiting for their signature when the store synced; whether it verifies at all. */
  unverifiedAtSync?: number;
  verifying?: boolean;
  heapBytes: number;
  size: number;
}

/** `recordKeysFile`: the store verifies every record with that key set (store mode only). */
async function probe(
  mode: 'store' | 'list',
  plane: LocalControlPlane,
  recordKeysFile?: string,
): Promise<Probe> {
  const child = spawn(
    process.execPath,
    [
      '--expose-gc',
      '--max-old-space-size=4096',
      CHILD,
      mode,
      NAMESPACE,
      ...(recordKeysFile ? [recordKeysFile] : []),
    ],
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
      // The controller's record signing key, and the key set validators read (here from a file).
      const { publicKey, privateKey } = generateKeyPairSync('ed25519');
      const signingKey = { kid: recordKeyId(publicKey), publicKey, privateKey };
      const keysDir = mkdtempSync(join(tmpdir(), 'keywarden-bench-keys-'));
      const recordKeysFile = join(keysDir, RECORD_KEYS_KEY);
      writeFileSync(recordKeysFile, recordKeySetJson([publicKey]));
      const t0 = performance.now();
      await seedHashSecrets(rest, NAMESPACE, KEYS, signingKey);
      const seedS = (performance.now() - t0) / 1000;
      const store: Probe[] = [];
      const unsigned: Probe[] = [];
      const list: Probe[] = [];
      for (let i = 0; i < 2; i++) {
        list.push(await probe('list', plane));
        store.push(await probe('store', plane, recordKeysFile));
        unsigned.push(await probe('store', plane));
      }
      rmSync(keysDir, { recursive: true, force: true });
      // The signed loads must have verified (a store without the key set believes records unsigned).
      if (store.some((s) => !s.verifying) || unsigned.some((s) => s.verifying))
        throw new Error('the signed loads did not verify signatures, or the unsigned ones did');
      if ([...store, ...unsigned, ...list].some((s) => s.size !== KEYS))
        throw new Error(`loaded ${[...store, ...unsigned, ...list].map((s) => s.size)} of ${KEYS} keys`);
      const mb = (b: number) => b / 1024 / 1024;
      return {
        name: 'key-store',
        description: 'the validator key store loading hash Secrets from a real API server vs one raw LIST',
        params: {
          keys: KEYS,
          seedConcurrency: SEED_CONCURRENCY,
          seedSeconds: Math.round(seedS),
          unverifiedAtSync: median(store.map((s) => s.unverifiedAtSync ?? 0)),
        },
        figures: [
          figure(
            `key store load, ${KEYS} keys`,
            's',
            median(store.map((s) => s.ms)) / 1000,
            median(list.map((s) => s.ms)) / 1000,
            'one raw LIST of the same Secrets, parsed',
          ),
          figure(
            `key store load, ${KEYS} keys, until every signature is verified`,
            's',
            median(store.map((s) => s.verifiedMs ?? Number.NaN)) / 1000,
            median(list.map((s) => s.ms)) / 1000,
            'one raw LIST of the same Secrets, parsed',
          ),
          figure(
            `key store load, ${KEYS} keys, records believed unsigned (no keyStore.recordKeys)`,
            's',
            median(unsigned.map((s) => s.ms)) / 1000,
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
