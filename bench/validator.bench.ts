// The validator's numbers, each against a baseline measured in the same run:
//   - in-process decisions per second  vs  a bare SHA-256 of the same key strings
//   - /authz requests per second, p50 and p99  vs  a bare express handler answering 200 (both in a
//     child process, driven by the same closed-loop load generator here)
//   - `disabled: true` → first 401 at a validator process  vs  a raw watch of the same hash Secret
//     seeing the change (real control plane, real controller, real validator process)
// (The key store's load time and heap are bench/key-store.bench.ts.)
// Sizes: BENCH_VALIDATOR_LOAD_S (seconds per load round).
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Watch } from '@kubernetes/client-node';
import { Pool } from 'undici';
import { HASH_RECORD_KEY, type HashRecord, hashSecretName } from '../src/api/hash-record.ts';
import { ApiKeyController } from '../src/controller/manager.ts';
import { loadKubeConfig } from '../src/kube/config.ts';
import { KubeRest } from '../src/kube/rest.ts';
import { LocalControlPlane } from '../src/localcluster/cluster.ts';
import { createLogger } from '../src/observability/logger.ts';
import { decide } from '../src/validator/decision.ts';
import { KeyStore } from '../src/validator/key-store.ts';
import { RateLimiter } from '../src/validator/rate-limiter.ts';
import { makeKey } from '../test/unit/validator/fixtures.ts';
import { type Bench, type BenchFigure, compareThroughput, figure, median } from './lib.ts';

const CHILD = fileURLToPath(new URL('./validator-child.ts', import.meta.url));
const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const LOAD_MS = Number(process.env.BENCH_VALIDATOR_LOAD_S ?? 4) * 1000;
const CONNECTIONS = 16;
const DISABLE_ROUNDS = 10;

// --- in-process decisions ---------------------------------------------------------------------

function inProcessDecisions(): BenchFigure {
  const store = new KeyStore();
  const limiter = new RateLimiter();
  const keys: string[] = [];
  for (let i = 0; i < 10_000; i++) {
    const k = makeKey({
      permissions: ['devices:read', 'tickets:create'],
      rateLimit: { requests: 1_000_000, period: '1s' },
    });
    store.upsert(k.secret);
    keys.push(k.key);
  }
  const ctx = {
    environment: 'production' as const,
    lookup: (id: string) => store.get(id),
    unmappedRoutes: 'deny' as const,
    takeToken: limiter.take.bind(limiter),
  };
  const requirement = { permission: 'devices:read' };
  const decideAll = () => {
    let ok = 0;
    const nowMs = Date.now();
    for (const key of keys)
      if (decide({ key, clientIp: '203.0.113.7', requirement, nowMs }, ctx).allowed) ok++;
    if (ok !== keys.length) throw new Error('a decision failed');
    return ok;
  };
  const bareHash = () => {
    let x = 0;
    for (const key of keys) x ^= createHash('sha256').update(key).digest()[0] ?? 0;
    return x;
  };
  const r = compareThroughput(decideAll, bareHash, { opsPerBatch: keys.length });
  return figure(
    'in-process decisions',
    'ops/s',
    r.value,
    r.baseline,
    "bare createHash('sha256') of the same keys",
  );
}

// --- /authz throughput and latency --------------------------------------------------------------

async function startChild(args: string[]): Promise<{ child: ChildProcess; port: number; keys: string[] }> {
  const child = spawn(process.execPath, [CHILD, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`child ${args[0]} exited with ${code}`)));
  });
  return { child, ...(JSON.parse(line) as { port: number; keys: string[] }) };
}

async function load(
  port: number,
  keys: string[],
  ms: number,
): Promise<{ rps: number; p50: number; p99: number; errors: number }> {
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: CONNECTIONS });
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + ms;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async (_, w) => {
      let i = w;
      while (performance.now() < end) {
        const key = keys.length > 0 ? keys[i++ % keys.length] : undefined;
        const t = performance.now();
        const res = await pool.request({
          path: '/authz/traefik',
          method: 'GET',
          headers: {
            'x-forwarded-method': 'GET',
            'x-forwarded-uri': '/v1/devices/42',
            ...(key ? { authorization: `Bearer ${key}` } : {}),
          },
        });
        await res.body.dump();
        latencies.push(performance.now() - t);
        if (res.statusCode !== 200) errors++;
      }
    }),
  );
  const elapsed = performance.now() - start;
  await pool.close();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return { rps: (latencies.length * 1000) / elapsed, p50: at(0.5), p99: at(0.99), errors };
}

async function authzThroughput(): Promise<BenchFigure[]> {
  const validator = await startChild(['serve-validator', '10000']);
  const bare = await startChild(['serve-express']);
  try {
    await load(validator.port, validator.keys, 1000);
    await load(bare.port, [], 1000);
    const v: Awaited<ReturnType<typeof load>>[] = [];
    const b: Awaited<ReturnType<typeof load>>[] = [];
    for (let round = 0; round < 3; round++) {
      // Alternate the order so drift in machine load hits both alike.
      if (round % 2 === 0) {
        v.push(await load(validator.port, validator.keys, LOAD_MS));
        b.push(await load(bare.port, [], LOAD_MS));
      } else {
        b.push(await load(bare.port, [], LOAD_MS));
        v.push(await load(validator.port, validator.keys, LOAD_MS));
      }
    }
    if (v.some((r) => r.errors > 0)) throw new Error('the validator refused requests during the load test');
    const m = (rs: typeof v, f: (r: (typeof v)[number]) => number) => median(rs.map(f));
    const base = 'bare express handler answering 200, same load';
    return [
      figure(
        '/authz throughput',
        'req/s',
        m(v, (r) => r.rps),
        m(b, (r) => r.rps),
        base,
      ),
      figure(
        '/authz p50 latency',
        'ms',
        m(v, (r) => r.p50),
        m(b, (r) => r.p50),
        base,
      ),
      figure(
        '/authz p99 latency',
        'ms',
        m(v, (r) => r.p99),
        m(b, (r) => r.p99),
        base,
      ),
    ];
  } finally {
    validator.child.kill();
    bare.child.kill();
  }
}

// --- disabled: true → first 401 -----------------------------------------------------------------

function cli(args: string[], env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [MAIN, ...args], { env: { ...process.env, ...env } }, (err, stdout, stderr) =>
      err ? reject(new Error(`${args[0]}: ${stderr}`)) : resolve(stdout),
    );
  });
}

async function eventually<T>(f: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await f().catch(() => undefined);
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('timed out');
}

async function disableToDeny(plane: LocalControlPlane, rest: KubeRest): Promise<BenchFigure> {
  const ns = 'bench-disable';
  await rest.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  const controller = new ApiKeyController(
    rest,
    {
      operatorNamespace: 'keywarden-system',
      namespaces: [ns],
      deliveryTtlMs: 3_600_000,
      concurrency: 4,
      resyncMs: 3_600_000,
      leaderElection: false,
      leaseName: 'bench',
      identity: 'bench',
      healthPort: 0,
    },
    createLogger('bench', 'error'),
  );
  await controller.start();
  const config = join(mkdtempSync(join(tmpdir(), 'kw-bench-')), 'validator.yaml');
  writeFileSync(
    config,
    `environment: production\nkeyStore: {namespaces: [${ns}]}\nunmappedRoutes: allow\nlastUsed: {enabled: false}\n`,
  );
  const validator = spawn(
    process.execPath,
    [MAIN, 'validator', '--config', config, '--port', '0', '--admin-port', '0', '--host', '127.0.0.1'],
    {
      env: { ...process.env, KUBECONFIG: plane.kubeconfigPath },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  try {
    const port = await new Promise<number>((resolve) => {
      createInterface({ input: validator.stdout as NodeJS.ReadableStream }).on('line', (l) => {
        const e = JSON.parse(l) as { msg?: string; port?: number };
        if (e.msg === 'validator listening') resolve(Number(e.port));
      });
    });
    const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 1 });
    const authz = async (key: string) => {
      const res = await pool.request({
        path: '/authz/traefik',
        method: 'GET',
        headers: { 'x-api-key': key, 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/' },
      });
      await res.body.dump();
      return res.statusCode;
    };
    const apiKeys = `/apis/keywarden.dev/v1alpha1/namespaces/${ns}/apikeys`;
    const toDeny: number[] = [];
    const toWatch: number[] = [];
    for (let i = 0; i < DISABLE_ROUNDS; i++) {
      const name = `k-${i}`;
      await rest.create(apiKeys, {
        apiVersion: 'keywarden.dev/v1alpha1',
        kind: 'ApiKey',
        metadata: { name },
        spec: { environment: 'production', permissions: ['devices:read'] },
      });
      const key = (
        await eventually(() =>
          cli(['reveal', name, '-n', ns, '--operator-namespace', 'keywarden-system'], {
            KUBECONFIG: plane.kubeconfigPath,
          }),
        )
      ).trim();
      await eventually(async () => ((await authz(key)) === 200 ? true : undefined));
      // The raw watch: the same hash Secret, as any client would watch it.
      let watchSaw = 0;
      const abort = await new Watch(loadKubeConfig(plane.kubeconfigPath)).watch(
        `/api/v1/namespaces/${ns}/secrets`,
        { fieldSelector: `metadata.name=${hashSecretName(name)}` },
        (phase, obj: { data?: Record<string, string> }) => {
          if (phase !== 'MODIFIED' || watchSaw) return;
          const record = JSON.parse(
            Buffer.from(obj.data?.[HASH_RECORD_KEY] ?? '', 'base64').toString(),
          ) as HashRecord;
          if (record.disabled) watchSaw = performance.now();
        },
        () => {},
      );
      await new Promise((r) => setTimeout(r, 300));
      const t0 = performance.now();
      await rest.patch(`${apiKeys}/${name}`, { spec: { disabled: true } }, 'merge');
      let denied = 0;
      while (!denied && performance.now() - t0 < 30_000) {
        if ((await authz(key)) === 401) denied = performance.now();
      }
      await eventually(async () => (watchSaw ? true : undefined), 30_000);
      abort.abort();
      toDeny.push(denied - t0);
      toWatch.push(watchSaw - t0);
    }
    await pool.close();
    return figure(
      'disabled: true → first 401',
      'ms',
      median(toDeny),
      median(toWatch),
      'a raw watch of the same hash Secret sees the change',
    );
  } finally {
    validator.kill('SIGTERM');
    await controller.stop();
  }
}

const bench: Bench = {
  name: 'validator',
  async run() {
    const figures: BenchFigure[] = [inProcessDecisions(), ...(await authzThroughput())];
    const plane = await LocalControlPlane.start({ controllerManager: false, log: () => {} });
    try {
      execFileSync(plane.kubectlPath, ['apply', '--server-side', '-f', 'crds/'], {
        env: { ...process.env, ...plane.env },
      });
      execFileSync(plane.kubectlPath, ['wait', '--for=condition=Established', 'crd/apikeys.keywarden.dev'], {
        env: { ...process.env, ...plane.env },
      });
      const rest = new KubeRest(loadKubeConfig(plane.kubeconfigPath));
      await rest.create('/api/v1/namespaces', {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: 'keywarden-system' },
      });
      figures.push(await disableToDeny(plane, rest));
    } finally {
      await plane.stop();
    }
    return {
      name: 'validator',
      description: 'validator decisions, /authz under load, disable-to-deny latency',
      figures,
      params: {
        loadSeconds: LOAD_MS / 1000,
        connections: CONNECTIONS,
        disableRounds: DISABLE_ROUNDS,
      },
    };
  },
};

export default bench;
