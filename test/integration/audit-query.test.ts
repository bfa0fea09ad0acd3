import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditSink } from '../../src/audit/index.ts';
import { queryEvents, queryUsage } from '../../src/audit/query.ts';
import {
  allFiles,
  Duck,
  expectNoPlaintextKeys,
  type Fixture,
  makeFixture,
  REPO,
} from '../support/audit/trail.ts';

// `keywarden audit` on a trail of 100,000 decisions (3 days, 72 hourly partitions) plus lifecycle
// events. Every answer is checked against DuckDB running the same question in SQL over the same files.

const run = promisify(execFile);
const EVENTS = 100_000;
let dir: string;
let fx: Fixture;
let duck: Duck;
let F: string;
let redactions = 0;

async function cli(...args: string[]): Promise<string> {
  const { stdout } = await run(
    process.execPath,
    [join(REPO, 'src/cli/main.ts'), 'audit', ...args, '--dir', dir],
    {
      cwd: REPO,
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  return stdout;
}

const ids = (rows: Record<string, unknown>[]) =>
  rows.map((r) => String(r.request_id ?? `${r.action}:${r.api_key_name}`));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kw-audit-query-'));
  fx = makeFixture(EVENTS);
  const sink = await createAuditSink({
    directory: dir,
    source: 'validator/fixture',
    bufferEvents: 200_000,
    maxFileAgeMs: 3_600_000,
    fsync: false,
  });
  for (const e of fx.decisions) sink.record(e);
  for (const e of fx.lifecycle) sink.recordLifecycle(e);
  await sink.close();
  expect(sink.stats.dropped).toEqual({ buffer_full: 0, write_error: 0, closed: 0 });
  redactions = sink.stats.redactions;
  duck = await Duck.open();
  F = Duck.files(dir);
});

afterAll(async () => {
  if (dir) await expectNoPlaintextKeys(dir);
  duck?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the fixture as DuckDB reads it', () => {
  it('has real Parquet types, hourly Hive partitions and every event', async () => {
    const types = Object.fromEntries(
      (await duck.all(`DESCRIBE SELECT * FROM ${F}`)).map((r) => [r.column_name, r.column_type]),
    );
    expect(types).toMatchObject({
      time: 'TIMESTAMP',
      event_type: 'VARCHAR',
      key_id: 'VARCHAR',
      status: 'INTEGER',
      latency_ms: 'DOUBLE',
      date: 'DATE',
      hour: 'INTEGER',
    });
    const counts = await duck.all(`SELECT event_type, count(*) AS n FROM ${F} GROUP BY ALL ORDER BY ALL`);
    expect(counts).toEqual([
      { event_type: 'decision', n: String(EVENTS) },
      { event_type: 'lifecycle', n: String(fx.lifecycle.length) },
    ]);
    const partitions = new Set(
      allFiles(dir)
        .filter((f) => f.endsWith('.parquet'))
        .map((f) => f.split('/').slice(0, 2).join('/')),
    );
    expect(partitions.size).toBe(72);
    // Partition columns agree with the event times.
    const [bad] = await duck.all(
      `SELECT count(*) AS n FROM ${F} WHERE date <> CAST(time AS DATE) OR hour <> hour(time)`,
    );
    expect(bad?.n).toBe('0');
  });

  it('holds no key pasted into a URL: redacted before writing', async () => {
    expect(redactions).toBe(fx.decisions.filter((e) => /kw[ps]k_/.test(e.path)).length);
    expect(redactions).toBeGreaterThan(0);
    const [r] = await duck.all(
      `SELECT count(*) FILTER (WHERE path LIKE '%[redacted-key]%') AS redacted, count(*) FILTER (WHERE regexp_matches(path, 'kw[ps]k_')) AS leaked FROM ${F}`,
    );
    expect(r).toEqual({ redacted: String(redactions), leaked: '0' });
  });
});

describe('keywarden audit (the CLI) against DuckDB', () => {
  it('events of one key id, all of them, newest first (JSON)', async () => {
    const k = fx.keys[3];
    const got = JSON.parse(await cli('--key-id', String(k?.keyId), '--limit', '0', '-o', 'json')) as Record<
      string,
      unknown
    >[];
    const want = await duck.all(
      `SELECT request_id, action, api_key_name FROM ${F} WHERE key_id = '${k?.keyId}' ORDER BY time DESC`,
    );
    expect(got.length).toBe(want.length);
    expect(got.length).toBeGreaterThan(100);
    expect(ids(got)).toEqual(ids(want));
    const times = got.map((r) => Date.parse(String(r.time)));
    expect(times).toEqual([...times].sort((a, b) => b - a));
  });

  it('one ApiKey, a time range and statuses (CSV)', async () => {
    const k = fx.keys[0];
    const csv = await cli(
      '--apikey',
      `${k?.namespace}/${k?.name}`,
      '--since',
      '2026-03-02',
      '--until',
      '2026-03-02T12:00:00Z',
      '--status',
      '401,403',
      '-o',
      'csv',
      '--limit',
      '0',
    );
    const lines = csv.trimEnd().split('\r\n');
    const header = lines[0]?.split(',') ?? [];
    expect(header.slice(0, 3)).toEqual(['time', 'event_type', 'key_id']);
    const rid = header.indexOf('request_id');
    const got = lines.slice(1).map((l) => l.split(',')[rid]);
    const want = await duck.all(
      `SELECT request_id FROM ${F} WHERE api_key_namespace = '${k?.namespace}' AND api_key_name = '${k?.name}'
       AND time >= TIMESTAMP '2026-03-02 00:00:00' AND time < TIMESTAMP '2026-03-02 12:00:00' AND status IN (401, 403)
       ORDER BY time DESC`,
    );
    expect(got.length).toBeGreaterThan(0);
    expect(got).toEqual(want.map((r) => r.request_id));
  });

  it('usage per key (JSON)', async () => {
    const got = JSON.parse(await cli('usage', '--by', 'key', '-o', 'json')) as Record<string, unknown>[];
    // An id sent with a secret that is not the key's has no ApiKey: counted apart, not as the key's use.
    const want = await duck.all(
      `WITH d AS (SELECT *, key_id IS NOT NULL AND api_key_name IS NULL AS failed FROM ${F} WHERE event_type = 'decision')
       SELECT key_id, count(*) FILTER (WHERE NOT failed) AS requests,
              count(*) FILTER (WHERE NOT failed AND status BETWEEN 200 AND 299) AS allowed,
              count(*) FILTER (WHERE NOT failed AND status IN (401, 403)) AS denied,
              count(*) FILTER (WHERE NOT failed AND status = 429) AS rate_limited,
              count(*) FILTER (WHERE failed) AS failed_secret,
              strftime(min(time), '%Y-%m-%dT%H:%M:%S.%gZ') AS first, strftime(max(time), '%Y-%m-%dT%H:%M:%S.%gZ') AS last
       FROM d GROUP BY key_id`,
    );
    const norm = (rows: Record<string, unknown>[]) =>
      rows
        .map((r) => [
          r.key_id ?? null,
          Number(r.requests),
          Number(r.allowed),
          Number(r.denied),
          Number(r.rate_limited),
          Number(r.failed_secret),
          r.first,
          r.last,
        ])
        .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    expect(norm(got)).toEqual(norm(want));
    const failed = fx.decisions.filter((e) => e.keyId && !e.apiKeyName).length;
    expect(failed).toBeGreaterThan(1000);
    expect(got.reduce((n, r) => n + Number(r.failed_secret), 0)).toBe(failed);
    expect(got.reduce((n, r) => n + Number(r.requests), 0)).toBe(EVENTS - failed);
    // ApiKey names come along where the validator knew them.
    expect(got.find((r) => r.key_id === fx.keys[0]?.keyId)?.api_key).toBe(
      `${fx.keys[0]?.namespace}/${fx.keys[0]?.name}`,
    );
  });

  it('usage per key and day for one namespace (CSV), and a table for people', async () => {
    const csv = await cli('usage', '--by', 'key-day', '-n', 'billing', '-o', 'csv');
    const [header, ...rows] = csv.trimEnd().split('\r\n');
    expect(header).toBe(
      'day,key_id,api_key,requests,allowed,denied,rate_limited,other,failed_secret,first,last',
    );
    const got = rows
      .map((l) => l.split(','))
      .map((c) => `${c[0]} ${c[1]} ${c[3]}`)
      .sort();
    const want = (
      await duck.all(
        `SELECT strftime(CAST(time AS DATE), '%Y-%m-%d') AS day, key_id, count(*) AS n FROM ${F}
         WHERE event_type = 'decision' AND api_key_namespace = 'billing' GROUP BY ALL`,
      )
    )
      .map((r) => `${r.day} ${r.key_id} ${r.n}`)
      .sort();
    expect(got).toEqual(want);

    const table = await cli('--reason', 'rate_limited', '--limit', '7');
    const lines = table.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^TIME\s+EVENT\s+KEY ID\s+APIKEY\s+STATUS\s+REASON/);
    expect(lines).toHaveLength(8);
    for (const l of lines.slice(1)) expect(l).toMatch(/\s429\s+rate_limited\s/);
  });
});

describe('queries in process against DuckDB', () => {
  it('the newest 100 (the default) read only the newest partitions', async () => {
    const r = await queryEvents({ directory: dir }, { limit: 100 });
    const want = await duck.all(
      `SELECT request_id, action, api_key_name FROM ${F} ORDER BY time DESC LIMIT 100`,
    );
    expect(ids(r.rows as unknown as Record<string, unknown>[])).toEqual(ids(want));
    expect(r.truncated).toBe(true);
    expect(r.stats.files).toBeLessThan(5);
  });

  it('oldest first, by reason, within a range', async () => {
    const q = {
      directory: dir,
      reason: ['key_expired'],
      sinceMs: Date.parse('2026-03-01T06:00:00Z'),
      untilMs: Date.parse('2026-03-01T09:30:00Z'),
    };
    const r = await queryEvents(q, { order: 'asc' });
    const want = await duck.all(
      `SELECT request_id FROM ${F} WHERE reason = 'key_expired' AND time >= TIMESTAMP '2026-03-01 06:00:00' AND time < TIMESTAMP '2026-03-01 09:30:00' ORDER BY time`,
    );
    expect(r.rows.map((x) => x.request_id)).toEqual(want.map((x) => x.request_id));
    expect(r.stats.files).toBe(4); // hours 06, 07, 08, 09 only
  });

  it('lifecycle events by action, with the actor', async () => {
    const r = await queryEvents(
      { directory: dir, eventType: 'lifecycle', action: ['regenerated'] },
      { order: 'asc' },
    );
    const want = await duck.all(
      `SELECT api_key_name, actor, detail FROM ${F} WHERE action = 'regenerated' ORDER BY time`,
    );
    expect(r.rows.map((x) => ({ api_key_name: x.api_key_name, actor: x.actor, detail: x.detail }))).toEqual(
      want,
    );
    expect(want.length).toBe(fx.lifecycle.filter((e) => e.action === 'regenerated').length);
  });

  it('usage per day', async () => {
    const r = await queryUsage({ directory: dir }, 'day');
    const want = await duck.all(
      `WITH d AS (SELECT *, key_id IS NOT NULL AND api_key_name IS NULL AS failed FROM ${F} WHERE event_type = 'decision')
       SELECT strftime(CAST(time AS DATE), '%Y-%m-%d') AS day, count(*) FILTER (WHERE NOT failed) AS n,
              count(*) FILTER (WHERE NOT failed AND status = 200) AS ok, count(*) FILTER (WHERE failed) AS failed
       FROM d GROUP BY ALL ORDER BY day`,
    );
    expect(
      r.rows.map((x) => ({
        day: x.day,
        n: String(x.requests),
        ok: String(x.allowed),
        failed: String(x.failed_secret),
      })),
    ).toEqual(want);
  });
});
