// The audit trail's cost. (1) Writer throughput: events recorded and flushed to Parquet per second,
// against JSON lines appended to a file (a write stream, as a logger would) in the same run. (2) Peak
// memory (max RSS) of a process doing each, measured in child processes so that neither pays for the
// other's garbage. (3) Validator throughput with the audit trail on, against the same validator with
// it off: a real Validator (HTTP server, gate; keys fed to its store) answering /authz under
// keep-alive load, rounds alternating; by the clock and per CPU-second. BENCH_AUDIT_EVENTS (default
// 300000), BENCH_AUDIT_ROUNDS (default 10) and BENCH_AUDIT_ROUND_MS (default 1000) set the sizes.
import { execFile } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { AuditSink } from '../src/api/events.ts';
import type { HashRecord } from '../src/api/hash-record.ts';
import { createAuditSink } from '../src/audit/index.ts';
import type { AuditDecisionEvent } from '../src/audit/schema.ts';
import type { Validator } from '../src/validator/server.ts';
import { authzRequest, type Bench, figure, median } from './lib.ts';

// The validator's modules are imported in run() only: the writer children measure their memory
// without them.

const EVENTS = Number(process.env.BENCH_AUDIT_EVENTS ?? 300_000);
const ROUND_MS = Number(process.env.BENCH_AUDIT_ROUND_MS ?? 1000);
const CONCURRENCY = 16;
const ROUNDS = Number(process.env.BENCH_AUDIT_ROUNDS ?? 10);
const CHILD = process.env.KEYWARDEN_AUDIT_BENCH_CHILD;

function event(i: number, base: number): AuditDecisionEvent {
  return {
    timeMs: base + Math.floor(i / 50),
    door: 'authz',
    keyId: `k${String(i % 500).padStart(11, '0')}`,
    environment: 'production',
    method: i % 4 === 0 ? 'POST' : 'GET',
    path: `/v1/devices/${i % 10_000}`,
    status: i % 9 === 0 ? 403 : 200,
    reason: i % 9 === 0 ? 'permission_denied' : 'ok',
    clientIp: `10.0.${(i >> 8) & 255}.${i & 255}`,
    latencyMs: (i % 100) / 997,
    apiKeyNamespace: 'payments',
    apiKeyName: `key-${i % 500}`,
    requestId: `req-${i}`,
  };
}

interface ChildResult {
  eventsPerSecond: number;
  maxRssBytes: number;
  bytes: number;
}

/**
 * Child mode: record EVENTS events as fast as the writer takes them (yielding every 1000, holding back
 * while two batches wait), flush, report throughput, max RSS and bytes written.
 */
async function child(kind: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'kw-audit-bench-'));
  const base = Date.now();
  const start = performance.now();
  let bytes = 0;
  if (kind === 'parquet') {
    const sink = await createAuditSink({ directory: dir, source: 'bench/writer', fsync: true });
    for (let i = 0; i < EVENTS; i++) {
      sink.record(event(i, base));
      if (i % 1000 === 999) {
        await new Promise((r) => setImmediate(r));
        // Backpressure, as the JSON lines stream has with 'drain': measure what the writer sustains.
        while (sink.stats.buffered >= 2 * sink.options.batchRows) await new Promise((r) => setTimeout(r, 1));
      }
    }
    await sink.close();
    if (sink.stats.written !== EVENTS) throw new Error(`wrote ${sink.stats.written} of ${EVENTS}`);
    bytes = sink.stats.bytesWritten;
  } else {
    const out = createWriteStream(join(dir, 'audit.jsonl'));
    for (let i = 0; i < EVENTS; i++) {
      const line = `${JSON.stringify(event(i, base))}\n`;
      bytes += line.length;
      if (!out.write(line)) await new Promise<void>((r) => out.once('drain', () => r()));
      if (i % 1000 === 999) await new Promise((r) => setImmediate(r));
    }
    await new Promise<void>((resolve, reject) =>
      out.end((err?: Error | null) => (err ? reject(err) : resolve())),
    );
  }
  const seconds = (performance.now() - start) / 1000;
  rmSync(dir, { recursive: true, force: true });
  const result: ChildResult = {
    eventsPerSecond: EVENTS / seconds,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    bytes,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

async function inChild(kind: 'parquet' | 'jsonl'): Promise<ChildResult> {
  const { stdout } = await promisify(execFile)(process.execPath, [import.meta.filename], {
    env: { ...process.env, KEYWARDEN_AUDIT_BENCH_CHILD: kind },
    maxBuffer: 1024 * 1024,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as ChildResult;
}

/**
 * Requests per second a validator answers on /authz for `ms` with CONCURRENCY keep-alive clients, by
 * the clock and per CPU-second of this process (clients and validators share it, so the second is the
 * steadier figure on a busy machine: other processes' load changes it much less).
 */
async function validatorRps(port: number, key: string, ms: number): Promise<{ wall: number; cpu: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const deadline = performance.now() + ms;
  let done = 0;
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < deadline) await authzRequest(agent, port, key, done++);
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  const wall = done / ((performance.now() - start) / 1000);
  agent.destroy();
  return { wall, cpu: done / ((cpu.user + cpu.system) / 1e6) };
}

async function startValidator(audit: AuditSink): Promise<{ v: Validator; key: string }> {
  const { HASH_RECORD_KEY, hashSecretName } = await import('../src/api/hash-record.ts');
  const { SECRET_TYPES } = await import('../src/api/metadata.ts');
  const { createLogger } = await import('../src/observability/logger.ts');
  const { generateKey, hashKey, parseKey } = await import('../src/rules/index.ts');
  const { parseConfig } = await import('../src/validator/config/load.ts');
  const { KeyStore } = await import('../src/validator/key-store.ts');
  const { Validator } = await import('../src/validator/server.ts');
  const key = generateKey({ type: 'private', environment: 'production' });
  const parsed = parseKey(key);
  if (!parsed.ok) throw new Error('bench key does not parse');
  const record: HashRecord = {
    version: 1,
    keyId: parsed.key.keyId,
    hash: hashKey(key),
    apiKey: { namespace: 'bench', name: 'bench-key', uid: '00000000-0000-0000-0000-000000000001' },
    environment: 'production',
    type: 'private',
    permissions: ['devices:read'],
    allowedSources: [],
    customers: [],
    expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
    disabled: false,
    rotationGeneration: 0,
    issuedAt: new Date().toISOString(),
  };
  const store = new KeyStore();
  store.upsert({
    type: SECRET_TYPES.hash,
    metadata: {
      name: hashSecretName('bench-key'),
      namespace: 'bench',
      resourceVersion: '1',
      ownerReferences: [{ kind: 'ApiKey', name: 'bench-key', uid: record.apiKey.uid }],
    },
    data: { [HASH_RECORD_KEY]: Buffer.from(JSON.stringify(record)).toString('base64') },
  });
  const cfg = parseConfig(
    [
      'environment: production',
      'routes:',
      '  - { path: /v1/devices/**, methods: [GET], permission: devices:read }',
      'lastUsed: { enabled: false }',
    ].join('\n'),
  );
  if (!cfg.ok) throw new Error(JSON.stringify(cfg.problems));
  const v = new Validator(cfg.value, {
    rest: undefined,
    log: createLogger('bench', 'silent'),
    store,
    audit,
  });
  await v.start({ port: 0, host: '127.0.0.1' });
  for (let i = 0; i < 100 && !v.ready().ok; i++) await new Promise((r) => setTimeout(r, 20));
  return { v, key };
}

const bench: Bench = {
  name: 'audit',
  async run() {
    // (1) and (2): one child each, twice, alternating; medians.
    const parquet: ChildResult[] = [];
    const jsonl: ChildResult[] = [];
    for (let round = 0; round < 2; round++) {
      parquet.push(await inChild('parquet'));
      jsonl.push(await inChild('jsonl'));
    }
    const p = (k: keyof ChildResult, xs: ChildResult[]) => median(xs.map((x) => x[k]));

    // (3): a validator with the trail off and one with it on, in turns.
    const dir = mkdtempSync(join(tmpdir(), 'kw-audit-bench-v-'));
    const sink = await createAuditSink({ directory: dir, source: 'bench/validator' });
    // One validator whose sink is switched on and off between rounds: the same server, sockets and
    // JIT state for both figures; only the audit trail differs.
    let auditOn = false;
    const switchable: AuditSink = {
      record: (e) => {
        if (auditOn) sink.record(e);
      },
      flush: () => sink.flush(),
    };
    const { v, key } = await startValidator(switchable);
    const measure = async (on: boolean) => {
      auditOn = on;
      const r = await validatorRps(v.port, key, ROUND_MS);
      await sink.commit(); // what was recorded is written now, not in the next round
      return r;
    };
    await measure(false); // warm-up
    await measure(true);
    const offRps: { wall: number; cpu: number }[] = [];
    const onRps: { wall: number; cpu: number }[] = [];
    // Alternating which goes first, so drift in machine load hits both alike.
    for (let round = 0; round < ROUNDS; round++) {
      if (round % 2 === 0) {
        offRps.push(await measure(false));
        onRps.push(await measure(true));
      } else {
        onRps.push(await measure(true));
        offRps.push(await measure(false));
      }
    }
    await v.stop();
    await sink.close();
    const written = sink.stats.written;
    const dropped = sink.stats.dropped.buffer_full;
    rmSync(dir, { recursive: true, force: true });

    const baselineName = 'JSON lines written to a file stream (same events, same process shape)';
    return {
      name: 'audit',
      description:
        'audit writer throughput and memory vs JSON lines; validator throughput with the audit trail on vs off',
      params: {
        events: EVENTS,
        rounds: ROUNDS,
        roundMs: ROUND_MS,
        concurrency: CONCURRENCY,
        validatorEventsWritten: written,
        validatorEventsDropped: dropped,
      },
      figures: [
        figure(
          'writer throughput',
          'events/s',
          p('eventsPerSecond', parquet),
          p('eventsPerSecond', jsonl),
          baselineName,
        ),
        figure(
          'writer peak memory (max RSS)',
          'MiB',
          p('maxRssBytes', parquet) / 2 ** 20,
          p('maxRssBytes', jsonl) / 2 ** 20,
          baselineName,
        ),
        figure(
          'bytes on disk',
          'MiB',
          p('bytes', parquet) / 2 ** 20,
          p('bytes', jsonl) / 2 ** 20,
          baselineName,
        ),
        figure(
          'validator throughput, audit on',
          'req/s',
          median(onRps.map((r) => r.wall)),
          median(offRps.map((r) => r.wall)),
          'the same validator with the audit trail off',
        ),
        figure(
          'validator requests per CPU-second, audit on',
          'req/cpu-s',
          median(onRps.map((r) => r.cpu)),
          median(offRps.map((r) => r.cpu)),
          'the same validator with the audit trail off (clients in the same process)',
        ),
      ],
    };
  },
};

export default bench;

if (CHILD) await child(CHILD);
