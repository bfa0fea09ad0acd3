// Where a webhook call's time goes (issue 14): `kubectl apply` of N ApiKeys into one namespace per
// variant, on one local control plane, each variant a webhook registered like ours (one mutating, one
// validating entry) but answering differently. Per variant it prints the apply time, the API server's
// and this process's CPU per object, the TLS connections the API server opened, and the API server's
// own admission metrics (per-webhook call time, admission step time, in-tree plugin calls: twice as
// many means the mutating chain was reinvoked because a patch changed the object).
// Not a *.bench.ts (no goal): `nice node bench/webhook-anatomy.ts`; N (default 500), ROUNDS (3) and
// ONLY (comma-separated variant names) set the run.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { LABELS } from '../src/api/metadata.ts';
import { BUILT_IN_POLICY } from '../src/api/policy.ts';
import type { JsonPatchOp } from '../src/kube/admission/review.ts';
import { LocalControlPlane } from '../src/localcluster/cluster.ts';
import { createCa, issueCert, type KeyPairPem } from '../src/pki/index.ts';
import { formatRfc3339 } from '../src/rules/index.ts';
import { buildWebhookConfigurations } from '../src/webhook/configurations.ts';
import { handleReviewAsync } from '../src/webhook/handler.ts';
import { mutateApiKey } from '../src/webhook/mutate.ts';
import { admitApiKey } from '../src/webhook/secret-access.ts';
import { validateApiKey } from '../src/webhook/validate.ts';
import { median } from './lib.ts';
import { startOurWebhook } from './webhook-server.ts';

const N = Number(process.env.N ?? 500);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const ONLY = process.env.ONLY?.split(',');
const run = promisify(execFile);

type Obj = { spec: { environment: string; type: string } };
/** What a bare mutating webhook answers: no patch, a patch that changes nothing, or ours (two labels). */
const BARE_PATCHES: Record<string, (o: Obj) => JsonPatchOp[] | undefined> = {
  none: () => undefined,
  noop: () => [{ op: 'test', path: '/kind', value: 'ApiKey' }],
  labels: (o) => [
    { op: 'add', path: '/metadata/labels', value: { [LABELS.environment]: o.spec.environment } },
    { op: 'add', path: `/metadata/labels/${LABELS.type.replace('/', '~1')}`, value: o.spec.type },
  ],
};

interface Served {
  port: number;
  connections: () => number;
  close: () => void;
  /** One mutating webhook that also validates, no validating webhook. */
  mutatingOnly?: boolean;
  reinvocation?: 'Never' | 'IfNeeded';
}

interface Variant {
  name: string;
  /** labelled: manifests already carry the labels our webhook sets, so its answer is empty. */
  manifest: 'plain' | 'labelled';
  serve?: (pair: KeyPairPem) => Promise<Served>;
}

function reply(res: ServerResponse, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: IncomingMessage, then: (text: string) => void): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => then(Buffer.concat(chunks).toString()));
}

async function listen(server: Server, extra: Partial<Served> = {}): Promise<Served> {
  let connections = 0;
  server.on('secureConnection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { port, connections: () => connections, close: () => server.close(), ...extra };
}

function bare(patchKind: string, extra: Partial<Served> = {}): Variant['serve'] {
  const patcher = BARE_PATCHES[patchKind] ?? (() => undefined);
  return (pair) =>
    listen(
      createServer({ cert: pair.certPem, key: pair.keyPem }, (req, res) =>
        readBody(req, (text) => {
          const { request } = JSON.parse(text) as { request: { uid: string; object: Obj } };
          // The API server appends ?timeout=5s to the configured path.
          const ops = req.url?.startsWith('/apikeys/mutate') ? patcher(request.object) : undefined;
          const patch = ops
            ? { patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(ops)).toString('base64') }
            : {};
          reply(res, {
            apiVersion: 'admission.k8s.io/v1',
            kind: 'AdmissionReview',
            response: { uid: request.uid, allowed: true, ...patch },
          });
        }),
      ),
      extra,
    );
}

/** Our server, as `keywarden webhook` runs it. */
async function ours(pair: KeyPairPem): Promise<Served> {
  const w = await startOurWebhook(pair);
  let connections = 0;
  w.server.on('secureConnection', () => connections++);
  return { port: w.port, connections: () => connections, close: () => void w.close() };
}

/** Measurement only: the mutating path validates too (the object as sent; the cost is what counts). */
function oneHook(pair: KeyPairPem): Promise<Served> {
  const server = createServer({ cert: pair.certPem, key: pair.keyPem }, (req, res) =>
    readBody(req, async (text) => {
      const ctx = { policy: BUILT_IN_POLICY, now: new Date() };
      const handled = await handleReviewAsync(
        'mutate',
        text,
        async (r, c) => {
          const verdict = await admitApiKey(validateApiKey, r, c);
          return verdict.allowed ? mutateApiKey(r, c) : verdict;
        },
        ctx,
      );
      reply(res, handled.body);
    }),
  );
  return listen(server, { mutatingOnly: true, reinvocation: 'IfNeeded' });
}

const VARIANTS: Variant[] = [
  { name: 'without', manifest: 'plain' },
  { name: 'bare-none', manifest: 'plain', serve: bare('none') },
  { name: 'bare-noop', manifest: 'plain', serve: bare('noop') },
  { name: 'bare-labels', manifest: 'plain', serve: bare('labels') },
  { name: 'bare-mutating-only', manifest: 'plain', serve: bare('none', { mutatingOnly: true }) },
  { name: 'ours', manifest: 'plain', serve: ours },
  { name: 'ours-labelled', manifest: 'labelled', serve: ours },
  { name: 'ours-one-webhook', manifest: 'plain', serve: oneHook },
];

const METRICS =
  /^apiserver_admission_(webhook_admission_duration_seconds|step_admission_duration_seconds|controller_admission_duration_seconds)_(sum|count)\{[^}]*operation="CREATE"/;

// Of the in-tree plugins, LimitRanger stands for all: its count doubles when the chain is reinvoked.
const OTHER_PLUGINS = /^apiserver_admission_controller_.*name="(?!LimitRanger"|MutatingAdmissionWebhook")/;

function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!METRICS.test(line) || OTHER_PLUGINS.test(line)) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

function manifest(dir: string, name: string, round: number, labelled: boolean): string {
  const expiresAt = formatRfc3339(new Date(Date.now() + 30 * 86_400_000));
  const labels = labelled ? { labels: { [LABELS.environment]: 'staging', [LABELS.type]: 'private' } } : {};
  const docs = Array.from({ length: N }, (_, i) =>
    stringify({
      apiVersion: 'keywarden.dev/v1alpha1',
      kind: 'ApiKey',
      metadata: { name: `k-${round}-${i}`, ...labels },
      spec: { environment: 'staging', expiresAt, permissions: ['tickets:read'] },
    }),
  );
  const file = join(dir, `${name}-${round}.yaml`);
  writeFileSync(file, docs.join('---\n'));
  return file;
}

interface Sample {
  ms: number;
  apiCpuMs: number;
  selfCpuMs: number;
  connections: number;
  metrics: Map<string, number>;
}

type Kubectl = (...args: string[]) => Promise<string>;

/** Starts the variant's webhook and registers it for the variant's namespace only. */
async function register(kubectl: Kubectl, dir: string, ca: KeyPairPem, pair: KeyPairPem, v: Variant) {
  await kubectl('create', 'namespace', v.name);
  if (!v.serve) return undefined;
  await kubectl('label', 'namespace', v.name, `anatomy=${v.name}`);
  const s = await v.serve(pair);
  const { mutating, validating } = buildWebhookConfigurations({
    name: `anatomy-${v.name}`,
    target: { url: `https://127.0.0.1:${s.port}` },
    caBundlePem: ca.certPem,
    namespaceSelector: { matchLabels: { anatomy: v.name } },
    // Every variant is called for every object (the cost of a call is what this measures): without
    // matchConditions, which would skip our mutating webhook for these complete manifests.
    mutateEveryObject: true,
  });
  const [hook] = mutating.webhooks;
  if (hook && s.reinvocation) hook.reinvocationPolicy = s.reinvocation;
  const docs = [mutating, ...(s.mutatingOnly ? [] : [validating])].map((d) => stringify(d));
  writeFileSync(join(dir, `${v.name}.yaml`), docs.join('---\n'));
  await kubectl('apply', '-f', join(dir, `${v.name}.yaml`));
  return s;
}

function cpuOf(pid: number | undefined): () => number {
  return () => {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(f[11]) + Number(f[12])) * 10; // utime + stime, in 10 ms ticks
  };
}

/** One timed apply, with the deltas of everything measured around it. */
async function measure(
  kubectl: Kubectl,
  file: string,
  ns: string,
  apiCpu: () => number,
  conns: () => number,
) {
  const [m0, c0, a0, s0] = [
    parseMetrics(await kubectl('get', '--raw', '/metrics')),
    conns(),
    apiCpu(),
    process.cpuUsage(),
  ];
  const t0 = performance.now();
  await kubectl('apply', '-n', ns, '-f', file);
  const ms = performance.now() - t0;
  const self = process.cpuUsage(s0);
  const [a1, c1] = [apiCpu(), conns()];
  const m1 = parseMetrics(await kubectl('get', '--raw', '/metrics'));
  const metrics = new Map(
    [...m1].map(([k, x]) => [k, x - (m0.get(k) ?? 0)] as const).filter(([, d]) => d !== 0),
  );
  return {
    ms,
    apiCpuMs: a1 - a0,
    selfCpuMs: (self.user + self.system) / 1000,
    connections: c1 - c0,
    metrics,
  };
}

async function main(): Promise<void> {
  const plane = await LocalControlPlane.start({ controllerManager: false, log: () => {} });
  const apiCpu = cpuOf(plane.processes.get('kube-apiserver')?.child.pid);
  const dir = mkdtempSync(join(tmpdir(), 'kw-anatomy-'));
  const kubectl: Kubectl = async (...args) =>
    (await run(plane.kubectlPath, args, { env: { ...process.env, ...plane.env }, maxBuffer: 1 << 28 }))
      .stdout;
  const served: Served[] = [];
  try {
    await kubectl('apply', '--server-side', '-f', 'crds/');
    await kubectl('wait', '--for=condition=Established', 'crd/apikeys.keywarden.dev');
    const ca = await createCa('anatomy-ca', new Date(Date.now() + 3600_000));
    const notAfter = new Date(Date.now() + 3600_000);
    const pair = await issueCert(ca, {
      commonName: 'x',
      ipAddresses: ['127.0.0.1'],
      usage: 'server',
      notAfter,
    });
    const variants = VARIANTS.filter((v) => !ONLY || v.name === 'without' || ONLY.includes(v.name));
    const connections = new Map<string, () => number>();
    for (const v of variants) {
      const s = await register(kubectl, dir, ca, pair, v);
      if (s) served.push(s);
      if (s) connections.set(v.name, s.connections);
    }
    await new Promise((r) => setTimeout(r, 3000)); // the API server picks up configurations asynchronously
    const samples = new Map<string, Sample[]>();
    for (let round = 0; round < ROUNDS; round++) {
      // Turning order, so drift in machine load hits every variant alike.
      for (const [i] of variants.entries()) {
        const v = variants[(i + round) % variants.length] as Variant;
        const file = manifest(dir, v.name, round, v.manifest === 'labelled');
        const sample = await measure(kubectl, file, v.name, apiCpu, connections.get(v.name) ?? (() => 0));
        samples.set(v.name, [...(samples.get(v.name) ?? []), sample]);
        process.stderr.write(`round ${round} ${v.name}: ${(sample.ms / 1000).toFixed(2)} s\n`);
      }
    }
    report(samples);
  } finally {
    for (const s of served) s.close();
    await plane.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function report(samples: Map<string, Sample[]>): void {
  const base = median(samples.get('without')?.map((s) => s.ms) ?? [1]);
  for (const [name, xs] of samples) {
    const t = median(xs.map((s) => s.ms));
    const perObject = (f: (s: Sample) => number) => (median(xs.map(f)) / N).toFixed(2);
    console.log(
      `\n${name}: apply ${(t / 1000).toFixed(2)} s (${(t / base).toFixed(3)}x), CPU per object: API server ${perObject((s) => s.apiCpuMs)} ms, this process ${perObject((s) => s.selfCpuMs)} ms; new TLS connections ${xs.map((s) => s.connections).join(',')}`,
    );
    const total = new Map<string, number>();
    for (const s of xs) for (const [k, d] of s.metrics) total.set(k, (total.get(k) ?? 0) + d);
    for (const [k, count] of total) {
      if (!k.includes('_count{')) continue;
      const sum = total.get(k.replace('_count{', '_sum{')) ?? 0;
      const label = k
        .replace(/^apiserver_admission_|_duration_seconds_count|,?(operation="CREATE"|rejected="false")/g, '')
        .replace('{,', '{');
      console.log(`  ${label}: ${count} calls, mean ${((sum / count) * 1000).toFixed(3)} ms`);
    }
  }
}

await main();
