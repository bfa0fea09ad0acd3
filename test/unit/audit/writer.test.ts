import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { createAuditSink, registerAuditMetrics } from '../../../src/audit/index.ts';
import { AuditFileReader, readAuditFile, readAuditRows } from '../../../src/audit/reader.ts';
import { decision, files, removeTrails, T0, tempTrail } from '../../support/audit/events.ts';

afterAll(removeTrails);

const finals = (dir: string) => files(dir).filter((f) => f.endsWith('.parquet'));
const rowsPerFile = async (dir: string) =>
  Promise.all(finals(dir).map(async (f) => (await readAuditFile(join(dir, f))).length));

describe('batches and rotation', () => {
  it('a committed batch stays hidden until its file is finished; flush finishes it', async () => {
    const dir = tempTrail();
    const sink = await createAuditSink({ directory: dir, source: 'v/1', fsync: false });
    for (let i = 0; i < 10; i++) sink.record(decision(i));
    await sink.commit();
    expect(sink.stats.written).toBe(10);
    expect(finals(dir)).toEqual([]);
    expect(files(dir).some((f) => f.endsWith('.tmp'))).toBe(true);
    await sink.flush();
    expect(finals(dir)).toHaveLength(1);
    expect(files(dir).filter((f) => !f.endsWith('.parquet'))).toEqual([]);
    expect(finals(dir)[0]).toMatch(/^date=2026-03-01\/hour=10\/part-v\.1-[0-9a-z]+-000001\.parquet$/);
    await sink.close();
  });

  it('rotates by rows', async () => {
    const dir = tempTrail();
    const sink = await createAuditSink({
      directory: dir,
      source: 'v/1',
      batchRows: 50,
      maxFileRows: 100,
      fsync: false,
    });
    for (let i = 0; i < 250; i++) sink.record(decision(i));
    await sink.close();
    expect((await rowsPerFile(dir)).sort()).toEqual([100, 100, 50].sort());
    expect(sink.stats.filesFinished).toBe(3);
  });

  it('rotates by size', async () => {
    const dir = tempTrail();
    const sink = await createAuditSink({
      directory: dir,
      source: 'v/1',
      batchRows: 20,
      maxFileBytes: 1500,
      fsync: false,
    });
    for (let i = 0; i < 200; i++) sink.record(decision(i));
    await sink.close();
    const counts = await rowsPerFile(dir);
    expect(counts.length).toBeGreaterThan(2);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(200);
  });

  it('cuts row groups by size as well as by rows: large events make smaller row groups', async () => {
    const dir = tempTrail();
    const sink = await createAuditSink({
      directory: dir,
      source: 'v/1',
      batchRows: 10_000,
      batchBytes: 64 * 1024,
      fsync: false,
    });
    // ~4 KiB of path per event: 64 KiB is reached every 16 events, long before 10,000 rows.
    for (let i = 0; i < 200; i++) sink.record(decision(i, { path: `/v1/${String(i).padStart(4096, 'x')}` }));
    await sink.close();
    const [file] = finals(dir);
    const reader = await AuditFileReader.open(join(dir, file as string));
    const groups = reader.rowGroups.map((rg) => Number(rg.num_rows));
    await reader.close();
    expect(groups.reduce((a, b) => a + b, 0)).toBe(200);
    expect(groups.length).toBeGreaterThanOrEqual(12);
    for (const n of groups) expect(n).toBeLessThanOrEqual(16);
    const rows = await readAuditRows(dir);
    expect(rows.map((r) => r.path)).toEqual(
      Array.from({ length: 200 }, (_, i) => `/v1/${String(i).padStart(4096, 'x')}`),
    );
  });

  it('rotates by row groups (batches)', async () => {
    const dir = tempTrail();
    const sink = await createAuditSink({ directory: dir, source: 'v/1', maxFileRowGroups: 2, fsync: false });
    for (let b = 0; b < 5; b++) {
      for (let i = 0; i < 3; i++) sink.record(decision(b * 3 + i));
      await sink.commit();
    }
    expect(finals(dir)).toHaveLength(2);
    await sink.close();
    expect((await rowsPerFile(dir)).sort()).toEqual([6, 6, 3].sort());
  });

  it('rotates by age, and finishes the previous hour once the clock has moved on', async () => {
    const dir = tempTrail();
    let now = T0 + 1000;
    const sink = await createAuditSink({
      directory: dir,
      source: 'v/1',
      maxFileAgeMs: 60_000,
      fsync: false,
      now: () => now,
    });
    sink.record(decision(0));
    await sink.commit();
    now += 30_000;
    await sink.commit();
    expect(finals(dir)).toEqual([]);
    now += 31_000;
    await sink.commit();
    expect(finals(dir)).toHaveLength(1);

    sink.record(decision(1));
    await sink.commit(); // hour 10, open
    now = T0 + 3_600_000 + 5_000; // 11:00:05
    sink.record(decision(2, { timeMs: now }));
    await sink.commit(); // hour 11 written, hour 10 untouched and past: finished
    expect(finals(dir).map((f) => f.split('/')[1])).toEqual(['hour=10', 'hour=10']);
    await sink.close();
    expect(
      finals(dir)
        .map((f) => f.split('/')[1])
        .sort(),
    ).toEqual(['hour=10', 'hour=10', 'hour=11']);
  });

  it('late events go to the partition of their own time', async () => {
    const dir = tempTrail();
    const sink = await createAuditSink({ directory: dir, source: 'v/1', fsync: false });
    sink.record(decision(0, { timeMs: T0 + 2 * 3_600_000 }));
    sink.record(decision(1, { timeMs: T0 - 1 }));
    sink.record(decision(2, { timeMs: T0 + 5 }));
    await sink.close();
    expect(finals(dir).map((f) => f.split('/').slice(0, 2).join('/'))).toEqual([
      'date=2026-03-01/hour=09',
      'date=2026-03-01/hour=10',
      'date=2026-03-01/hour=12',
    ]);
    expect((await readAuditRows(dir)).map((r) => r.request_id)).toEqual(['r-1', 'r-2', 'r-0']);
  });
});

describe('bounded memory and losses', () => {
  it('a full buffer blocks briefly, then drops and counts; nothing accepted is lost', async () => {
    const dir = tempTrail();
    const { promise: gate, resolve: release } = Promise.withResolvers<void>();
    const sink = await createAuditSink({
      directory: dir,
      source: 'v/1',
      batchRows: 5,
      bufferEvents: 10,
      overflowEvents: 5,
      blockMs: 10_000,
      fsync: false,
      beforeCommit: () => gate,
    });
    for (let i = 0; i < 30; i++) sink.record(decision(i));
    expect(sink.stats.buffered).toBe(10);
    expect(sink.stats.waiting).toBe(5);
    expect(sink.stats.dropped.buffer_full).toBe(15);
    release();
    await sink.close();
    expect(sink.stats).toMatchObject({ offered: 30, accepted: 15, written: 15, blocked: 5 });
    expect((await readAuditRows(dir)).map((r) => r.request_id)).toEqual(
      Array.from({ length: 15 }, (_, i) => `r-${i}`),
    );

    const registry = new Registry();
    registerAuditMetrics(registry, sink);
    const text = await registry.metrics();
    expect(text).toContain('keywarden_audit_events_dropped_total{reason="buffer_full"} 15');
    expect(text).toContain('keywarden_audit_events_written_total 15');
    expect(text).toContain('keywarden_audit_events_blocked_total 5');
    expect(text).toContain('keywarden_audit_buffer_capacity_events 10');
  });

  it('events that waited too long for room are dropped', async () => {
    const dir = tempTrail();
    const { promise: gate, resolve: release } = Promise.withResolvers<void>();
    const sink = await createAuditSink({
      directory: dir,
      source: 'v/1',
      bufferEvents: 2,
      overflowEvents: 10,
      blockMs: 30,
      fsync: false,
      beforeCommit: () => gate,
    });
    for (let i = 0; i < 5; i++) sink.record(decision(i));
    void sink.commit();
    await new Promise((r) => setTimeout(r, 60));
    release();
    await sink.close();
    expect(sink.stats.written).toBe(2);
    expect(sink.stats.dropped.buffer_full).toBe(3);
  });

  it('a failed write drops its batch as write_error and the writer carries on', async () => {
    const dir = tempTrail();
    // A file where the partition directory should be: creating it fails.
    writeFileSync(join(dir, 'date=2026-03-01'), 'in the way');
    const sink = await createAuditSink({ directory: dir, source: 'v/1', fsync: false });
    sink.record(decision(0));
    await sink.commit();
    expect(sink.stats.dropped.write_error).toBe(1);
    expect(sink.stats.writeErrors).toBe(1);
    sink.record(decision(1, { timeMs: Date.parse('2026-03-02T00:00:00Z') }));
    await sink.close();
    expect(sink.stats.written).toBe(1);
  });

  it('refuses to start on a directory it cannot write, rather than drop everything later', async () => {
    const dir = tempTrail();
    writeFileSync(join(dir, 'a-file'), '');
    await expect(createAuditSink({ directory: join(dir, 'a-file', 'audit'), source: 'v/1' })).rejects.toThrow(
      /audit directory .* is not writable/,
    );
  });

  it('after close, events are dropped as closed', async () => {
    const dir = tempTrail();
    const sink = await createAuditSink({ directory: dir, source: 'v/1', fsync: false });
    await sink.close();
    sink.record(decision(0));
    sink.recordLifecycle({ action: 'deleted', namespace: 'a', name: 'b' });
    expect(sink.stats.dropped.closed).toBe(2);
  });

  it('with fsync on (the default), files are complete all the same', async () => {
    const dir = tempTrail();
    const sink = await createAuditSink({ directory: dir, source: 'v/1' });
    for (let i = 0; i < 5; i++) sink.record(decision(i));
    await sink.close();
    expect(await rowsPerFile(dir)).toEqual([5]);
  });
});
