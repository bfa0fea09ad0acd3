import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import parquet from '@dsnp/parquetjs';
import { afterAll, describe, expect, it } from 'vitest';
import type { Compression } from '../../../src/audit/compress.ts';
import { createAuditSink } from '../../../src/audit/index.ts';
import { readAuditRows } from '../../../src/audit/reader.ts';
import { REDACTED_KEY, redactKeys } from '../../../src/audit/redact.ts';
import { definitionLevels } from '../../../src/audit/rle.ts';
import { findPlaintextKeys } from '../../../src/audit/scan.ts';
import { COLUMNS } from '../../../src/audit/schema.ts';
import { generateKey } from '../../../src/rules/index.ts';
import { decision, removeTrails, T0, tempTrail } from '../../support/audit/events.ts';

afterAll(removeTrails);

describe('definition levels', () => {
  it('one RLE run when all present or all absent, else one bit-packed run, with a length prefix', () => {
    expect([...definitionLevels([1, 1, 1])]).toEqual([2, 0, 0, 0, 6, 1]);
    expect([...definitionLevels([0, 0])]).toEqual([2, 0, 0, 0, 4, 0]);
    // 10 values → 2 groups of 8: header (2 << 1) | 1 = 5, then bits LSB first.
    const v = [1, 0, 1, 1, 0, 0, 0, 1, 0, 1];
    expect([...definitionLevels(v)]).toEqual([3, 0, 0, 0, 5, 0b10001101, 0b00000010]);
  });
});

describe('rows round-trip through a file', () => {
  for (const compression of ['GZIP', 'SNAPPY', 'UNCOMPRESSED'] as Compression[]) {
    it(`keeps every value and every null (${compression})`, async () => {
      const dir = tempTrail();
      const sink = await createAuditSink({
        directory: dir,
        source: 'validator/pod-1',
        compression,
        fsync: false,
      });
      const events = [
        decision(0),
        decision(1, { keyId: undefined, environment: undefined, clientIp: undefined, requestId: undefined }),
        decision(2, { path: '/v1/ünïcødé/日本/🔑', apiKeyNamespace: 'team-a', apiKeyName: 'payments' }),
        decision(3, {
          path: `/v1/${'x'.repeat(5000)}`,
          latencyMs: 12.5,
          status: 429,
          reason: 'rate_limited',
        }),
        ...Array.from({ length: 20 }, (_, i) => decision(10 + i, i % 3 === 0 ? { keyId: undefined } : {})),
      ];
      for (const e of events) sink.record(e);
      sink.recordLifecycle({
        action: 'regenerated',
        namespace: 'team-a',
        name: 'payments',
        keyId: 'abc',
        timeMs: T0 + 100,
        actor: 'alice@example.com',
        detail: 'generation 2',
      });
      await sink.close();
      const rows = await readAuditRows(dir);
      expect(rows).toHaveLength(events.length + 1);
      for (const [i, e] of events.entries()) {
        const r = rows[i];
        expect(r).toEqual({
          time: new Date(e.timeMs),
          event_type: 'decision',
          key_id: e.keyId ?? null,
          api_key_namespace: e.apiKeyNamespace ?? null,
          api_key_name: e.apiKeyName ?? null,
          environment: e.environment ?? null,
          door: e.door,
          method: e.method,
          path: e.path,
          status: e.status,
          reason: e.reason,
          client_ip: e.clientIp ?? null,
          latency_ms: e.latencyMs,
          request_id: e.requestId ?? null,
          action: null,
          actor: null,
          detail: null,
          source: 'validator/pod-1',
        });
      }
      expect(rows.at(-1)).toMatchObject({
        event_type: 'lifecycle',
        action: 'regenerated',
        api_key_namespace: 'team-a',
        api_key_name: 'payments',
        key_id: 'abc',
        actor: 'alice@example.com',
        detail: 'generation 2',
        status: null,
        path: null,
        door: null,
      });
    });
  }
});

describe('dictionaries', () => {
  it('columns of few values (dictionary) and of mostly distinct ones (past the dictionary limit) read back exactly', async () => {
    const dir = tempTrail();
    const sink = await createAuditSink({ directory: dir, source: 'v/1', batchRows: 6000, fsync: false });
    // 6,000 rows: request ids all distinct (the dictionary gives up at 4,096), key ids 3, paths 700.
    const events = Array.from({ length: 6000 }, (_, i) =>
      decision(i, { keyId: `key${i % 3}`, requestId: `req-${i}`, path: `/v1/p/${i % 700}` }),
    );
    for (const e of events) sink.record(e);
    await sink.close();
    const rows = await readAuditRows(dir);
    expect(rows.map((r) => [r.key_id, r.request_id, r.path])).toEqual(
      events.map((e) => [e.keyId, e.requestId, e.path]),
    );
  });

  it('a key in a repeated value is redacted on every row, and counted per row', async () => {
    const dir = tempTrail();
    const sink = await createAuditSink({ directory: dir, source: 'v/1', fsync: false });
    const key = generateKey({ type: 'private', environment: 'production' });
    for (let i = 0; i < 5; i++) sink.record(decision(i, { path: i % 2 === 0 ? `/v1/${key}` : '/v1/ok' }));
    await sink.close();
    expect(sink.stats.redactions).toBe(3);
    const rows = await readAuditRows(dir);
    expect(rows.map((r) => r.path)).toEqual([
      `/v1/${REDACTED_KEY}`,
      '/v1/ok',
      `/v1/${REDACTED_KEY}`,
      '/v1/ok',
      `/v1/${REDACTED_KEY}`,
    ]);
  });

  it('a value of the wrong type is converted, never crashes the writer, and keeps the rows aligned', async () => {
    const dir = tempTrail();
    const sink = await createAuditSink({ directory: dir, source: 'v/1', fsync: false });
    const bad = {
      toString: () => {
        throw new Error('no text');
      },
    };
    sink.record(decision(0, { status: '429' as unknown as number, path: 42 as unknown as string }));
    sink.record(decision(1, { status: 'n/a' as unknown as number, method: bad as unknown as string }));
    sink.record(decision(2));
    await sink.close();
    expect(sink.stats.written).toBe(3);
    const rows = await readAuditRows(dir);
    expect(rows.map((r) => [r.status, r.path, r.method])).toEqual([
      [429, '42', 'GET'],
      [null, '/v1/devices/1', null],
      [200, '/v1/devices/2', 'GET'],
    ]);
  });
});

describe('plaintext keys', () => {
  it('redactKeys replaces key-shaped text and leaves the rest alone', () => {
    const key = generateKey({ type: 'private', environment: 'staging' });
    expect(redactKeys(`/v1/x/${key}/y`)).toBe(`/v1/x/${REDACTED_KEY}/y`);
    expect(redactKeys('/v1/devices/42')).toBe('/v1/devices/42');
    const s = '/v1/short';
    expect(redactKeys(s)).toBe(s);
  });

  it('a key pasted into a path or a note never reaches the file', async () => {
    const dir = tempTrail();
    const sink = await createAuditSink({ directory: dir, source: 'validator/pod-1', fsync: false });
    const key = generateKey({ type: 'public', environment: 'production' });
    sink.record(decision(0, { path: `/v1/devices/${key}` }));
    sink.recordLifecycle({ action: 'created', namespace: 'a', name: 'b', detail: `oops ${key}` });
    await sink.close();
    expect(sink.stats.redactions).toBe(2);
    const rows = await readAuditRows(dir);
    expect(rows[0]?.path).toBe(`/v1/devices/${REDACTED_KEY}`);
    expect(JSON.stringify(rows)).not.toContain(key);
    expect((await findPlaintextKeys(dir)).findings).toEqual([]);
  });

  it('the scan finds a key in a file written around the redaction, compressed or not, and names only its id', async () => {
    const dir = tempTrail();
    const key = generateKey({ type: 'private', environment: 'production' });
    const partition = join(dir, 'date=2026-03-01', 'hour=10');
    mkdirSync(partition, { recursive: true });
    // Written with @dsnp/parquetjs's own row writer and our schema: no redaction on this path.
    const type = { timestamp: 'TIMESTAMP_MILLIS', string: 'UTF8', int32: 'INT32', double: 'DOUBLE' } as const;
    const schema = new parquet.ParquetSchema(
      Object.fromEntries(
        COLUMNS.map((c) => [
          c.name,
          {
            type: type[c.kind],
            optional: c.optional,
            compression: 'GZIP' as const,
            ...(c.statistics ? {} : { statistics: false as const }),
          },
        ]),
      ),
    );
    const w = await parquet.ParquetWriter.openFile(schema, join(partition, 'part-rogue-abc-000001.parquet'));
    await w.appendRow({ time: new Date(T0), event_type: 'decision', path: `/v1/${key}`, source: 'rogue' });
    await w.close();
    const scan = await findPlaintextKeys(dir);
    expect(scan.findings).toHaveLength(1);
    expect(scan.findings[0]?.column).toBe('path');
    expect(scan.findings[0]?.hint).toBe(`${key.split('_').slice(0, 3).join('_')}_…`);
    expect(JSON.stringify(scan)).not.toContain(key);
  });
});
