import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditSink, type ParquetAuditSink } from '../../src/audit/index.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { parseConfig } from '../../src/validator/config/load.ts';
import { KeyStore } from '../../src/validator/key-store.ts';
import { Validator } from '../../src/validator/server.ts';
import { Duck, expectNoPlaintextKeys } from '../support/audit/trail.ts';
import { makeKey } from '../support/validator/keys.ts';

// A real validator (its HTTP server and gate; keys fed to its store directly) writing its decisions
// through the Parquet sink, under concurrent load. After the validator's own shutdown (which flushes
// the sink), DuckDB reads the files: one row per request sent, statuses and key ids as answered.

const REQUESTS = 4_000;
const CONCURRENCY = 32;
let dir: string;
let sink: ParquetAuditSink;
let v: Validator;
let duck: Duck;
const store = new KeyStore();
const reader = makeKey({ permissions: ['devices:read'] });
const writer = makeKey({ permissions: ['devices:read', 'devices:write'] });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kw-audit-validator-'));
  sink = await createAuditSink({ directory: dir, source: 'validator/test', fsync: false });
  const cfg = parseConfig(
    [
      'environment: production',
      'routes:',
      '  - { path: /v1/devices/**, methods: [GET], permission: devices:read }',
      '  - { path: /v1/devices/**, methods: [POST], permission: devices:write }',
      'lastUsed: { enabled: false }',
    ].join('\n'),
  );
  if (!cfg.ok) throw new Error(JSON.stringify(cfg.problems));
  for (const k of [reader, writer]) store.upsert(structuredClone(k.secret));
  v = new Validator(cfg.value, { rest: undefined, log: createLogger('test', 'silent'), store, audit: sink });
  await v.start({ port: 0, host: '127.0.0.1' });
  for (let i = 0; i < 100 && !v.ready().ok; i++) await new Promise((r) => setTimeout(r, 20));
  duck = await Duck.open();
});

afterAll(async () => {
  await v?.stop();
  if (dir) await expectNoPlaintextKeys(dir);
  duck?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function authz(agent: Agent, method: string, path: string, key: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: v.port,
        path: '/authz/traefik',
        agent,
        headers: {
          'x-forwarded-method': method,
          'x-forwarded-uri': path,
          ...(key ? { authorization: `Bearer ${key}` } : {}),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('a validator writing the audit trail under load', () => {
  it('writes one row per request, as answered, read back by DuckDB', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const sent = new Map<string, number>(); // `${keyId}|${status}` → count
    let next = 0;
    const worker = async () => {
      while (next < REQUESTS) {
        const i = next++;
        const [method, key, keyId] =
          i % 4 === 0
            ? ['GET', reader.key, reader.keyId]
            : i % 4 === 1
              ? ['POST', reader.key, reader.keyId] // 403: reader cannot write
              : i % 4 === 2
                ? ['POST', writer.key, writer.keyId]
                : ['GET', undefined, null]; // 401: no key
        const status = await authz(agent, method, `/v1/devices/${i}?secret=never-logged`, key);
        const k = `${keyId}|${status}`;
        sent.set(k, (sent.get(k) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    agent.destroy();
    await v.stop(); // flushes the sink: every file complete and visible

    const F = Duck.files(dir);
    const [total] = await duck.all(
      `SELECT count(*) AS n, count(*) FILTER (WHERE path LIKE '%?%') AS with_query FROM ${F}`,
    );
    expect(total).toEqual({ n: String(REQUESTS), with_query: '0' });
    const got = new Map(
      (
        await duck.all(
          `SELECT coalesce(key_id, 'null') || '|' || status AS k, count(*) AS n FROM ${F} GROUP BY ALL`,
        )
      ).map((r) => [String(r.k), Number(r.n)]),
    );
    expect(got).toEqual(sent);
    expect([...sent.keys()].sort()).toEqual(
      [`${reader.keyId}|200`, `${reader.keyId}|403`, `${writer.keyId}|200`, 'null|401'].sort(),
    );
    const [types] = await duck.all(
      `SELECT typeof(time) AS t, typeof(status) AS s, typeof(latency_ms) AS l FROM ${F} LIMIT 1`,
    );
    expect(types).toEqual({ t: 'TIMESTAMP', s: 'INTEGER', l: 'DOUBLE' });
    expect(sink.stats.dropped).toEqual({ buffer_full: 0, write_error: 0, closed: 0 });
  });
});
