import parquet from '@dsnp/parquetjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Compression } from '../../../src/audit/compress.ts';
import { createAuditSink } from '../../../src/audit/index.ts';
import { readAuditRows } from '../../../src/audit/reader.ts';
import { listAuditFiles } from '../../../src/audit/retention.ts';
import type { AuditDecisionEvent, AuditRow } from '../../../src/audit/schema.ts';
import { COLUMN_NAMES } from '../../../src/audit/schema.ts';
import { decision, removeTrails, T0, tempTrail } from '../../support/audit/events.ts';
import { Duck } from '../../support/audit/trail.ts';

// Our own Parquet container (format.ts, thrift.ts, encode.ts and its column-builder.ts, rle.ts) read back by two independent readers:
// @dsnp/parquetjs (what `keywarden audit` uses) and DuckDB (what users analyse with), on the values
// that break hand-written encoders: empty strings, nulls everywhere, very long and non-ASCII text, many
// row groups, a dictionary that overflows mid row group, columns all null in a row group.

afterAll(removeTrails);

let duck: Duck;
beforeAll(async () => {
  duck = await Duck.open();
});
afterAll(() => duck.close());

/** Writes the events (one hour) and returns the trail. */
async function write(
  events: AuditDecisionEvent[],
  opts: { batchRows?: number; compression?: Compression } = {},
): Promise<string> {
  const dir = tempTrail();
  const sink = await createAuditSink({ directory: dir, source: 'validator/edge', fsync: false, ...opts });
  for (const e of events) sink.record(e);
  await sink.close();
  expect(sink.stats.written).toBe(events.length);
  return dir;
}

/** What a reader must give back for a decision event. */
function expected(e: AuditDecisionEvent): Partial<Record<keyof AuditRow, unknown>> {
  return {
    time: e.timeMs,
    event_type: 'decision',
    key_id: e.keyId ?? null,
    environment: e.environment ?? null,
    method: e.method ?? null,
    path: e.path ?? null,
    status: e.status ?? null,
    reason: e.reason ?? null,
    client_ip: e.clientIp ?? null,
    latency_ms: e.latencyMs ?? null,
    request_id: e.requestId ?? null,
    source: 'validator/edge',
  };
}

const COMPARED = [
  'time',
  'event_type',
  'key_id',
  'environment',
  'method',
  'path',
  'status',
  'reason',
  'client_ip',
  'latency_ms',
  'request_id',
  'source',
] as const;

async function viaParquetjs(dir: string) {
  return (await readAuditRows(dir)).map((r) =>
    Object.fromEntries(COMPARED.map((c) => [c, c === 'time' ? r.time.getTime() : r[c]])),
  );
}

async function viaDuckDB(dir: string) {
  const rows = await duck.all(
    `SELECT epoch_ms(time) AS time, ${COMPARED.filter((c) => c !== 'time').join(', ')} FROM ${Duck.files(dir)} ORDER BY time`,
  );
  return rows.map((r) => ({ ...r, time: Number(r.time) }));
}

async function expectBothRead(dir: string, events: AuditDecisionEvent[]): Promise<void> {
  const want = events.map(expected);
  expect(await viaParquetjs(dir)).toEqual(want);
  expect(await viaDuckDB(dir)).toEqual(want);
}

describe('audit files read back by @dsnp/parquetjs and DuckDB', () => {
  for (const compression of ['GZIP', 'UNCOMPRESSED'] as Compression[]) {
    it(`empty strings, nulls, long and non-ASCII values (${compression})`, async () => {
      const events = [
        decision(0, { path: '', keyId: '', reason: '', requestId: '' }),
        decision(1, {
          keyId: undefined,
          environment: undefined,
          clientIp: undefined,
          requestId: undefined,
          method: undefined,
          path: undefined,
          status: undefined,
          reason: undefined,
          latencyMs: undefined,
        }),
        decision(2, { path: `/v1/${'é'.repeat(70_000)}`, requestId: 'x'.repeat(200_000) }),
        decision(3, { path: '/v1/日本/🔑/\u0000/\ufffd', keyId: '🔑', reason: 'ünïcødé' }),
        decision(4, { path: '/v1/a', latencyMs: 0, status: 0 }),
        decision(5, { latencyMs: -0.5, status: -1 }),
      ];
      const dir = await write(events, { compression });
      await expectBothRead(dir, events);
    });
  }

  it('many row groups (and the files they rotate into) read back in order', async () => {
    const events = Array.from({ length: 700 }, (_, i) =>
      decision(i, i % 3 === 0 ? { keyId: undefined } : {}),
    );
    const dir = await write(events, { batchRows: 7 });
    await expectBothRead(dir, events);
    const groups = await duck.all(
      `SELECT count(DISTINCT (file_name, row_group_id)) AS n FROM parquet_metadata('${dir}/**/*.parquet')`,
    );
    expect(Number(groups[0]?.n)).toBe(100);
  });

  it('a dictionary that overflows in the middle of a row group, and one that never does', async () => {
    // 5,000 distinct request ids in one row group (the dictionary gives up at 4,096 and rewrites what
    // it held as PLAIN), with nulls between them; key ids from a handful of values.
    const events = Array.from({ length: 5000 }, (_, i) =>
      decision(i, {
        requestId: i % 11 === 0 ? undefined : `req-${i}-${'ü'.repeat(i % 5)}`,
        keyId: `key${i % 4}`,
      }),
    );
    const dir = await write(events, { batchRows: 10_000 });
    await expectBothRead(dir, events);
    // And the next row groups, told by the writer's hint to skip the dictionary for request ids.
    const more = Array.from({ length: 9000 }, (_, i) => decision(i, { requestId: `r${i}` }));
    await expectBothRead(await write(more, { batchRows: 3000 }), more);
  });

  it('a column all null in a row group, and a row group of lifecycle events only', async () => {
    const dir = tempTrail();
    const sink = await createAuditSink({ directory: dir, source: 'validator/edge', fsync: false });
    for (let i = 0; i < 3; i++) {
      sink.recordLifecycle({ action: 'created', namespace: 'ns', name: `k${i}`, timeMs: T0 + i });
    }
    await sink.close();
    const rows = await duck.all(
      `SELECT api_key_name, action, path, status, latency_ms, actor FROM ${Duck.files(dir)} ORDER BY time`,
    );
    expect(rows).toEqual(
      [0, 1, 2].map((i) => ({
        api_key_name: `k${i}`,
        action: 'created',
        path: null,
        status: null,
        latency_ms: null,
        actor: null,
      })),
    );
    expect((await readAuditRows(dir)).map((r) => [r.api_key_name, r.path, r.status])).toEqual([
      ['k0', null, null],
      ['k1', null, null],
      ['k2', null, null],
    ]);
  });

  it('statistics are the values as stored, ordered as Parquet orders them, and declared so', async () => {
    // status 2^31 + 5 is stored as an INT32 (wrapped): the statistics must describe what is stored.
    const events = [
      decision(0, { status: 200 }),
      decision(1, { status: 2 ** 31 + 5 }),
      decision(2, { status: 404 }),
    ];
    const dir = await write(events);
    const [file] = await listAuditFiles(dir);
    if (!file) throw new Error('no file');
    const stats = await duck.all(
      `SELECT path_in_schema AS col, stats_min_value AS min, stats_max_value AS max, stats_null_count AS nulls
       FROM parquet_metadata('${file.path}') WHERE path_in_schema IN ('status', 'time', 'event_type') ORDER BY col`,
    );
    expect(stats).toEqual([
      { col: 'event_type', min: 'decision', max: 'decision', nulls: '0' },
      { col: 'status', min: String((2 ** 31 + 5) | 0), max: '404', nulls: '0' },
      {
        col: 'time',
        min: expect.stringMatching(/^2026-03-01 10:00:00/),
        max: expect.stringMatching(/^2026-03-01 10:00:00\.002/),
        nulls: '0',
      },
    ]);
    // A filter that prunes by these statistics still finds the row.
    const found = await duck.all(
      `SELECT count(*) AS n FROM ${Duck.files(dir)} WHERE status < 0 AND event_type = 'decision'`,
    );
    expect(Number(found[0]?.n)).toBe(1);
    // The footer says how min_value/max_value are ordered: column_orders, TYPE_ORDER for each column.
    const reader = await parquet.ParquetReader.openFile(file.path);
    try {
      const orders = reader.metadata?.column_orders ?? [];
      expect(orders).toHaveLength(COLUMN_NAMES.length);
      for (const o of orders) expect(o.TYPE_ORDER).toBeDefined();
    } finally {
      await reader.close();
    }
  });
});
