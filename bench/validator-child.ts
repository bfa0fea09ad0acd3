// Child processes for bench/validator.bench.ts, so that servers and memory figures are measured in a
// process of their own (not sharing a heap or an event loop with the load generator):
//   node bench/validator-child.ts serve-validator N [URL]   the validator's front doors, N keys fed
//                                                     in-process; with URL, a reverse proxy to it
//   node bench/validator-child.ts serve-express       a bare express handler answering 200
//   node bench/validator-child.ts serve-node          a bare node:http handler answering 200
//   node bench/validator-child.ts serve-node-proxy URL  a minimal Node reverse proxy to URL, no checks
//   node --expose-gc bench/validator-child.ts store NS [KEYS.json]   the key store synced from
//                                                     KUBECONFIG's API server (verifying with KEYS.json)
//   node --expose-gc bench/validator-child.ts list    baseline: one raw LIST of the same Secrets, kept
// Each prints one JSON line on stdout.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { type Dispatcher, Pool } from 'undici';
import { HASH_SECRET_SELECTOR } from '../src/api/metadata.ts';
import { loadKubeConfig } from '../src/kube/config.ts';
import { KubeRest } from '../src/kube/rest.ts';
import { createLogger } from '../src/observability/logger.ts';
import { parseConfig } from '../src/validator/config/load.ts';
import { generateSigningKeyPem } from '../src/validator/identity/signer.ts';
import { KeyStore } from '../src/validator/key-store.ts';
import { Validator } from '../src/validator/server.ts';
import { makeKey } from '../test/support/validator/keys.ts';

const [mode = '', arg = ''] = process.argv.slice(2);
const out = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);
const gc = () => (globalThis as { gc?: () => void }).gc?.();
// Exit normally on a signal, so `--cpu-prof` can write its profile.
process.once('SIGINT', () => process.exit(0));

if (mode === 'serve-validator') {
  const count = Number(arg || 10_000);
  const upstream = process.argv[4];
  const store = new KeyStore();
  const keys: string[] = [];
  for (let i = 0; i < count; i++) {
    const k = makeKey({ permissions: ['devices:read'], customers: ['acme'] });
    store.upsert(k.secret);
    if (i < 100) keys.push(k.key);
  }
  const dir = mkdtempSync(join(tmpdir(), 'kw-bench-'));
  // The bench stops its children with SIGTERM: the key file goes with them.
  process.once('SIGTERM', () => {
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  });
  writeFileSync(join(dir, 'jwt.pem'), generateSigningKeyPem('EdDSA'));
  const cfg = parseConfig(
    `environment: production\nroutes: [{path: /v1/devices/**, methods: [GET], permission: devices:read}]\nidentity: {jwt: {signingKey: {file: ${join(dir, 'jwt.pem')}}}}\n${upstream ? `upstream: {url: "${upstream}"}\n` : ''}`,
  );
  if (!cfg.ok) throw new Error(JSON.stringify(cfg.problems));
  const v = new Validator(cfg.value, { rest: undefined, log: createLogger('bench', 'error'), store });
  await v.start({ port: 0, host: '127.0.0.1' });
  while (!v.ready().ok) await new Promise((r) => setTimeout(r, 10));
  out({ port: v.port, keys });
} else if (mode === 'serve-express') {
  const app = express();
  app.disable('x-powered-by');
  app.all('/authz/traefik', (_req, res) => {
    res.status(200).end();
  });
  const server = app.listen(0, '127.0.0.1', () => {
    const a = server.address();
    out({ port: typeof a === 'object' && a ? a.port : 0, keys: [] });
  });
} else if (mode === 'serve-node') {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Length': '0' });
    res.end();
  });
  server.listen(0, '127.0.0.1', () => {
    const a = server.address();
    out({ port: typeof a === 'object' && a ? a.port : 0, keys: [] });
  });
} else if (mode === 'serve-node-proxy') {
  // A minimal reverse proxy in Node, for scale: the same server and client libraries as the sidecar's
  // proxy (node:http in, undici's keep-alive Pool out, the answer streamed back), and no checks at all.
  const pool = new Pool(arg, { connections: 64 });
  const hopByHop = ['connection', 'keep-alive', 'transfer-encoding'];
  const server = createServer((req, res) => {
    const headers = { ...req.headers };
    for (const h of hopByHop) delete headers[h];
    pool
      .request({
        method: (req.method ?? 'GET') as Dispatcher.HttpMethod,
        path: req.url ?? '/',
        headers: headers as Record<string, string>,
        body: req.method === 'GET' || req.method === 'HEAD' ? null : req,
      })
      .then(
        ({ statusCode, headers: answer, body }) => {
          for (const h of hopByHop) delete answer[h];
          res.writeHead(statusCode, answer as Record<string, string>);
          body.pipe(res);
        },
        () => res.writeHead(502).end(),
      );
  });
  server.listen(0, '127.0.0.1', () => {
    const a = server.address();
    out({ port: typeof a === 'object' && a ? a.port : 0, keys: [] });
  });
} else if (mode === 'store' || mode === 'list') {
  const rest = new KubeRest(loadKubeConfig());
  const namespace = arg;
  gc();
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  let held: unknown;
  if (mode === 'store') {
    const recordKeysFile = process.argv[4];
    const store = KeyStore.watching(rest, {
      namespaces: [namespace],
      labelSelector: HASH_SECRET_SELECTOR,
      ...(recordKeysFile ? { recordKeys: { file: recordKeysFile } } : {}),
    });
    store.start();
    await store.waitForSync(600_000);
    // Synced: the validator is ready (a lookup verifies its key's record first).
    const ms = performance.now() - t0;
    const unverifiedAtSync = store.unverified;
    await store.verified();
    const verifiedMs = performance.now() - t0;
    held = store;
    gc();
    out({
      ms,
      verifiedMs,
      unverifiedAtSync,
      verifying: store.recordKeys !== undefined,
      heapBytes: process.memoryUsage().heapUsed - heap0,
      size: store.size,
    });
  } else {
    const list = await rest.request<{ items: unknown[] }>('GET', `/api/v1/namespaces/${namespace}/secrets`, {
      query: { labelSelector: HASH_SECRET_SELECTOR },
      timeoutMs: 600_000,
    });
    const ms = performance.now() - t0;
    held = list.items;
    gc();
    out({ ms, heapBytes: process.memoryUsage().heapUsed - heap0, size: list.items.length });
  }
  if (!held) throw new Error('nothing loaded');
  process.exit(0);
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}
