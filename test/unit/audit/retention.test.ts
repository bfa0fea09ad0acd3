import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createAuditSink } from '../../../src/audit/index.ts';
import { applyRetention, listAuditFiles } from '../../../src/audit/retention.ts';
import { decision, files, removeTrails, T0, tempTrail } from '../../support/audit/events.ts';

afterAll(removeTrails);

const H = 3_600_000;

/** One file in each hour from 05:00 to 10:00 on 2026-03-01. */
async function sixHours(): Promise<string> {
  const dir = tempTrail();
  const sink = await createAuditSink({ directory: dir, source: 'v/1', fsync: false });
  for (let h = -5; h <= 0; h++)
    for (let i = 0; i < 20; i++) sink.record(decision(i, { timeMs: T0 + h * H + i }));
  await sink.close();
  return dir;
}

const hours = async (dir: string) => (await listAuditFiles(dir)).map((f) => f.partition.slice(-2));

describe('retention', () => {
  it('by age: deletes files whose whole hour is older than the limit, and their emptied partitions', async () => {
    const dir = await sixHours();
    const now = T0 + 1.5 * H; // 11:30
    const r = await applyRetention(dir, { maxAgeMs: 3 * H }, now); // cut-off 08:30
    expect(r.deletedFiles).toBe(3);
    expect(await hours(dir)).toEqual(['08', '09', '10']);
    expect(existsSync(join(dir, 'date=2026-03-01', 'hour=05'))).toBe(false);
    expect(r.keptFiles).toBe(3);
  });

  it('by total size: deletes the oldest until the rest fits', async () => {
    const dir = await sixHours();
    const all = await listAuditFiles(dir);
    const newestTwo = all.slice(-2).reduce((n, f) => n + f.bytes, 0);
    const r = await applyRetention(dir, { maxTotalBytes: newestTwo }, T0);
    expect(r.deletedFiles).toBe(4);
    expect(r.keptBytes).toBe(newestTwo);
    expect(await hours(dir)).toEqual(['09', '10']);
  });

  it('never touches files being written, nor files not named as the writer names them', async () => {
    const dir = await sixHours();
    const sink = await createAuditSink({ directory: dir, source: 'v/2', fsync: false });
    sink.record(decision(0, { timeMs: T0 - 5 * H }));
    await sink.commit(); // an open file in the oldest partition
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'date=2026-03-01', 'hour=05', 'notes.parquet'), 'not ours');
    await applyRetention(dir, { maxAgeMs: 0, maxTotalBytes: 0 }, T0 + 10 * H);
    expect(files(dir).filter((f) => f.includes('hour=05'))).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/\.tmp$/),
        expect.stringMatching(/\.journal$/),
        'date=2026-03-01/hour=05/notes.parquet',
      ]),
    );
    expect(await listAuditFiles(dir)).toEqual([]);
    await sink.close();
  });

  it('runs in the writer, on start and on demand, and is counted', async () => {
    const dir = await sixHours();
    const sink = await createAuditSink({
      directory: dir,
      source: 'v/1',
      fsync: false,
      now: () => T0 + 1.5 * H,
      retention: { maxAgeMs: 2 * H },
    });
    await sink.runRetention();
    expect(sink.stats.retention.deletedFiles).toBe(4);
    expect(sink.stats.retention.keptFiles).toBe(2);
    await sink.close();
  });
});
