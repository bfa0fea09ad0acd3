// The validator's numbers, each against a baseline measured in the same run:
//   - in-process decisions per second  vs  a bare SHA-256 of the same key strings, twice: through a Hash
//     object (the baseline issue 14 set its goal against) and one-shot (lib.ts bareSha256, the fastest)
//   - /authz requests per second, p50 and p99  vs  a bare node:http handler and a bare express handler
//     answering 200 (each in a child process, driven by the same closed-loop load generator here)
//   - the sidecar reverse proxy (keep-alive both sides) in front of a bare node:http app  vs  the same
//     client straight to that app; beside it, what any proxy costs on this machine: a minimal Node
//     proxy with no checks (same libraries) and a real nginx `proxy_pass` with no checks, each vs direct
//   - a real nginx (Debian nginx-light) `auth_request` → the validator's /authz/nginx  vs  the same
//     nginx asking a bare node:http handler (skipped, with a note, when /usr/sbin/nginx is missing)
//   - `disabled: true` → first 401 at a validator process  vs  a raw watch of the same hash Secret
//     seeing the change (real control plane, real controller, real validator process)
// (The key store's load time and heap are bench/key-store.bench.ts.)
// Sizes: BENCH_VALIDATOR_LOAD_S (seconds per load round);
// BENCH_VALIDATOR_CONTROL_PLANE=0 skips the figures that need a control plane.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
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
import { NODE_FLAGS } from '../src/runtime/node-flags.ts';
import { decide } from '../src/validator/decision.ts';
import { KeyStore } from '../src/validator/key-store.ts';
import { RateLimiter } from '../src/validator/rate-limiter.ts';
import { freePort, NGINX_BIN, type Nginx, startNginx } from '../test/support/http/nginx.ts';
import { makeKey } from '../test/support/validator/keys.ts';
import {
  BARE_SHA256,
  type Bench,
  type BenchFigure,
  type BenchResult,
  bareSha256,
  compareThroughput,
  figure,
  HASH_OBJECT_SHA256,
  hashObjectSha256,
  median,
  processCpuMs,
} from './lib.ts';
import { startChild } from './validator-children.ts';

const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const LOAD_MS = Number(process.env.BENCH_VALIDATOR_LOAD_S ?? 4) * 1000;
const CONNECTIONS = 16;
/** BENCH_VALIDATOR_CONTROL_PLANE=0: only the figures that need no control plane (decisions, HTTP doors). */
const WITH_CONTROL_PLANE = process.env.BENCH_VALIDATOR_CONTROL_PLANE !== '0';
const DISABLE_ROUNDS = 10;

// --- in-process decisions ---------------------------------------------------------------------

function inProcessDecisions(): BenchFigure[] {
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
  const options = { opsPerBatch: keys.length };
  const goal = compareThroughput(decideAll, () => hashObjectSha256(keys), options);
  const tight = compareThroughput(decideAll, () => bareSha256(keys), options);
  return [
    figure('in-process decisions', 'ops/s', goal.value, goal.baseline, HASH_OBJECT_SHA256),
    figure('in-process decisions, vs a one-shot hash', 'ops/s', tight.value, tight.baseline, BARE_SHA256),
  ];
}

// --- the HTTP doors under load -----------------------------------------------------------------

/** One kind of request: the path and headers for the i-th request (key: the key it carries, if any). */
type Shape = (i: number, key: string | undefined) => { path: string; headers: Record<string, string> };

/** A forward-auth question as Traefik asks it. */
const traefikAuthz: Shape = (_i, key) => ({
  path: '/authz/traefik',
  headers: {
    'x-forwarded-method': 'GET',
    'x-forwarded-uri': '/v1/devices/42',
    ...(key ? { authorization: `Bearer ${key}` } : {}),
  },
});
/** The app's own request, as a client sends it (through a proxy, or straight to the app). */
const appRequest: Shape = (i, key) => ({
  path: `/v1/devices/${i % 1000}`,
  headers: key ? { authorization: `Bearer ${key}` } : ({} as Record<string, string>),
});

interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  /** The answering process's CPU time per request, in µs (when the arm names its pid). */
  cpuUs?: number;
  requests: number;
}

/** A closed loop of CONNECTIONS keep-alive connections for `ms`, each sending the next request when answered. */
async function load(port: number, keys: string[], ms: number, shape: Shape): Promise<LoadResult> {
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: CONNECTIONS });
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + ms;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async (_, w) => {
      let i = w;
      while (performance.now() < end) {
        const key = keys.length > 0 ? keys[i % keys.length] : undefined;
        const { path, headers } = shape(i++, key);
        const t = performance.now();
        const res = await pool.request({ path, method: 'GET', headers });
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
  return {
    rps: (latencies.length * 1000) / elapsed,
    p50: at(0.5),
    p99: at(0.99),
    errors,
    requests: latencies.length,
  };
}

interface Arm {
  name: string;
  port: number;
  keys: string[];
  shape: Shape;
  /** The process that answers (the validator, or the bare handler in its place), for CPU per request. */
  pid?: number | undefined;
}

/** One load round of an arm, with the CPU its answering process used per request. */
async function measure(a: Arm, ms: number): Promise<LoadResult> {
  const cpu0 = a.pid === undefined ? 0 : processCpuMs(a.pid);
  const r = await load(a.port, a.keys, ms, a.shape);
  if (a.pid !== undefined) r.cpuUs = ((processCpuMs(a.pid) - cpu0) * 1000) / r.requests;
  return r;
}

/**
 * Medians over 3 rounds of each arm (after a warm-up), the order rotating every round so drift in
 * machine load hits every arm alike. Any non-200 answer fails the bench.
 */
async function compareArms(arms: Arm[]): Promise<Map<string, LoadResult>> {
  for (const a of arms) await load(a.port, a.keys, 1000, a.shape);
  const runs = new Map<string, LoadResult[]>(arms.map((a) => [a.name, []]));
  for (let round = 0; round < 3; round++) {
    const order = round % 2 === 0 ? arms : [...arms].reverse();
    for (const a of order) runs.get(a.name)?.push(await measure(a, LOAD_MS));
  }
  const out = new Map<string, LoadResult>();
  for (const [name, rs] of runs) {
    if (rs.some((r) => r.errors > 0)) throw new Error(`${name}: requests were refused during the load test`);
    const cpu = rs.flatMap((r) => (r.cpuUs === undefined ? [] : [r.cpuUs]));
    out.set(name, {
      rps: median(rs.map((r) => r.rps)),
      p50: median(rs.map((r) => r.p50)),
      p99: median(rs.map((r) => r.p99)),
      errors: 0,
      requests: rs.reduce((n, r) => n + r.requests, 0),
      ...(cpu.length > 0 ? { cpuUs: median(cpu) } : {}),
    });
  }
  return out;
}

/** req/s, p50 and p99 of `subject` against `base`. */
function loadFigures(
  label: string,
  subject: LoadResult | undefined,
  base: LoadResult | undefined,
  baseName: string,
): BenchFigure[] {
  if (!subject || !base) throw new Error(`${label}: missing a measurement`);
  const figures = [
    figure(`${label} throughput`, 'req/s', subject.rps, base.rps, baseName),
    figure(`${label} p50 latency`, 'ms', subject.p50, base.p50, baseName),
    figure(`${label} p99 latency`, 'ms', subject.p99, base.p99, baseName),
  ];
  // What the answering process spends per request: unlike req/s, barely moved by other load.
  if (subject.cpuUs !== undefined && base.cpuUs !== undefined)
    figures.push(figure(`${label} CPU per request`, 'µs', subject.cpuUs, base.cpuUs, baseName));
  return figures;
}

/** nginx `auth_request` in front of a bare app, asking `authPort` (/authz/nginx) about every request. */
function nginxFront(listen: number, authPort: number, appPort: number): string {
  return `
  upstream app_${listen} { server 127.0.0.1:${appPort}; keepalive 32; }
  upstream auth_${listen} { server 127.0.0.1:${authPort}; keepalive 32; }
  server {
    listen 127.0.0.1:${listen};
    location / {
      auth_request /_keywarden;
      auth_request_set $kw_key_id $upstream_http_x_keywarden_key_id;
      auth_request_set $kw_jwt $upstream_http_x_keywarden_jwt;
      proxy_set_header X-Keywarden-Key-Id $kw_key_id;
      proxy_set_header X-Keywarden-Jwt $kw_jwt;
      proxy_set_header Authorization "";
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass http://app_${listen};
    }
    location = /_keywarden {
      internal;
      proxy_pass http://auth_${listen}/authz/nginx;
      proxy_pass_request_body off;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URI $request_uri;
      proxy_set_header X-Original-Method $request_method;
    }
  }`;
}

/** nginx as a plain reverse proxy (keep-alive upstream, no auth): what a proxy in C costs here. */
function nginxPlainProxy(listen: number, appPort: number): string {
  return `
  upstream plain_${listen} { server 127.0.0.1:${appPort}; keepalive 32; }
  server {
    listen 127.0.0.1:${listen};
    location / {
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass http://plain_${listen};
    }
  }`;
}

async function httpFigures(): Promise<BenchFigure[]> {
  const validator = await startChild(['serve-validator', '10000']);
  const express = await startChild(['serve-express']);
  const node = await startChild(['serve-node']);
  const proxy = await startChild(['serve-validator', '10000', `http://127.0.0.1:${node.port}`]);
  const nodeProxy = await startChild(['serve-node-proxy', `http://127.0.0.1:${node.port}`]);
  const children = [validator, express, node, proxy, nodeProxy];
  const nginxPorts = [await freePort(), await freePort(), await freePort()];
  const [toNode = 0, toValidator = 0, plainProxy = 0] = nginxPorts;
  let nginx: Nginx | undefined;
  try {
    if (existsSync(NGINX_BIN)) {
      nginx = await startNginx(
        nginxFront(toNode, node.port, node.port) +
          nginxFront(toValidator, validator.port, node.port) +
          nginxPlainProxy(plainProxy, node.port),
        nginxPorts,
      );
    } else {
      process.stderr.write(
        `validator bench: ${NGINX_BIN} is missing, no nginx figures (apt-get install -y nginx-light)\n`,
      );
    }
    const authz = await compareArms([
      // CPU per request only here: behind the proxy or nginx the bare app answers twice per request.
      {
        name: 'authz',
        port: validator.port,
        keys: validator.keys,
        shape: traefikAuthz,
        pid: validator.child.pid,
      },
      { name: 'node', port: node.port, keys: [], shape: traefikAuthz, pid: node.child.pid },
      { name: 'express', port: express.port, keys: [], shape: traefikAuthz, pid: express.child.pid },
    ]);
    const proxied = await compareArms([
      { name: 'proxy', port: proxy.port, keys: proxy.keys, shape: appRequest },
      { name: 'direct', port: node.port, keys: [], shape: appRequest },
      { name: 'node-proxy', port: nodeProxy.port, keys: [], shape: appRequest },
      ...(nginx ? [{ name: 'nginx-proxy', port: plainProxy, keys: [], shape: appRequest }] : []),
    ]);
    const figures = [
      ...loadFigures(
        '/authz',
        authz.get('authz'),
        authz.get('node'),
        'bare node:http handler answering 200, same load',
      ),
      ...loadFigures(
        '/authz (express baseline)',
        authz.get('authz'),
        authz.get('express'),
        'bare express handler answering 200, same load',
      ),
      ...loadFigures(
        'sidecar reverse proxy',
        proxied.get('proxy'),
        proxied.get('direct'),
        'the same client straight to the upstream (bare node:http answering 200)',
      ),
      ...loadFigures(
        'minimal Node proxy, no checks (what a Node proxy costs here)',
        proxied.get('node-proxy'),
        proxied.get('direct'),
        'the same client straight to the upstream (bare node:http answering 200)',
      ),
      figure(
        'sidecar reverse proxy vs a minimal Node proxy, throughput',
        'req/s',
        proxied.get('proxy')?.rps ?? 0,
        proxied.get('node-proxy')?.rps ?? 0,
        'the minimal Node proxy (node:http in, undici Pool out, no checks), same load',
      ),
    ];
    if (nginx) {
      figures.push(
        ...loadFigures(
          'nginx proxy_pass, no checks (what a proxy in C costs here)',
          proxied.get('nginx-proxy'),
          proxied.get('direct'),
          'the same client straight to the upstream (bare node:http answering 200)',
        ),
      );
      const viaNginx = await compareArms([
        { name: 'validator', port: toValidator, keys: validator.keys, shape: appRequest },
        { name: 'node', port: toNode, keys: validator.keys, shape: appRequest },
      ]);
      figures.push(
        ...loadFigures(
          'nginx auth_request → validator',
          viaNginx.get('validator'),
          viaNginx.get('node'),
          'nginx auth_request → bare node:http answering 200 (same nginx, same app)',
        ),
      );
    }
    return figures;
  } finally {
    await nginx?.stop();
    for (const c of children) c.child.kill();
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
    [
      ...NODE_FLAGS,
      MAIN,
      'validator',
      '--config',
      config,
      '--port',
      '0',
      '--admin-port',
      '0',
      '--host',
      '127.0.0.1',
    ],
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
  async run(): Promise<BenchResult> {
    const figures: BenchFigure[] = [...inProcessDecisions(), ...(await httpFigures())];
    if (!WITH_CONTROL_PLANE)
      return {
        name: 'validator',
        description:
          'validator decisions, the HTTP doors under load (no control plane: BENCH_VALIDATOR_CONTROL_PLANE=0)',
        figures,
        params: { loadSeconds: LOAD_MS / 1000, connections: CONNECTIONS },
      };
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
      description: 'validator decisions, the HTTP doors under load, disable-to-deny latency',
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
