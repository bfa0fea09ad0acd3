import { spawnSync } from 'node:child_process';
import {
  appendFileSync,
  existsSync,
  readFileSync,
  renameSync,
  statSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createAuditSink } from '../../../src/audit/index.ts';
import { entryFrame, headerFrame, parseJournal } from '../../../src/audit/journal.ts';
import { journalName, tempName } from '../../../src/audit/naming.ts';
import { PartFile } from '../../../src/audit/part-file.ts';
import { readAuditFile, readAuditRows } from '../../../src/audit/reader.ts';
import { recoverFile } from '../../../src/audit/recovery.ts';
import type { BufferedEvent } from '../../../src/audit/schema.ts';
import { decision, files, removeTrails, tempTrail } from '../../support/audit/events.ts';

afterAll(removeTrails);

const batch = (from: number, n: number): BufferedEvent[] =>
  Array.from({ length: n }, (_, i) => ({
    type: 'decision' as const,
    timeMs: decision(from + i).timeMs,
    event: decision(from + i),
  }));

const opts = { compression: 'GZIP' as const, source: 'v/1', fsync: false };

/** A file with `committed` batches of 10 committed, as a killed writer leaves it (handles just closed). */
async function interrupted(
  dir: string,
  committed: number,
  name = 'part-v.1-abc-000001.parquet',
): Promise<{ name: string }> {
  const f = await PartFile.create(dir, name, opts, Date.now());
  for (let b = 0; b < committed; b++) await f.append(batch(b * 10, 10));
  await f.abandon();
  return { name };
}

describe('recovering one file', () => {
  it('cuts off an uncommitted, half-written row group and keeps every committed one', async () => {
    const dir = tempTrail();
    const { name } = await interrupted(dir, 3);
    const committedSize = statSync(join(dir, tempName(name))).size;
    appendFileSync(join(dir, tempName(name)), Buffer.alloc(777, 0xab)); // the open batch, torn
    const r = await recoverFile(dir, name);
    expect(r).toEqual({ outcome: 'recovered', path: join(dir, name), rows: 30 });
    expect(files(dir)).toEqual([name]);
    const rows = await readAuditFile(join(dir, name));
    expect(rows.map((x) => x.request_id)).toEqual(Array.from({ length: 30 }, (_, i) => `r-${i}`));
    const bytes = readFileSync(join(dir, name));
    expect(bytes.length).toBeGreaterThan(committedSize); // the committed bytes and a footer...
    expect(bytes.includes(Buffer.alloc(64, 0xab))).toBe(false); // ...without the torn batch
  });

  it('ignores a torn journal frame (the batch it was committing)', async () => {
    const dir = tempTrail();
    const { name } = await interrupted(dir, 2);
    appendFileSync(join(dir, journalName(name)), Buffer.from('KWAJ\x40\x00\x00\x00partial'));
    expect(await recoverFile(dir, name)).toMatchObject({ outcome: 'recovered', rows: 20 });
  });

  it('drops row groups the data file lost (the journal is ahead of the data after a power cut)', async () => {
    const dir = tempTrail();
    const { name } = await interrupted(dir, 3);
    const size = statSync(join(dir, tempName(name))).size;
    truncateSync(join(dir, tempName(name)), size - 10);
    expect(await recoverFile(dir, name)).toMatchObject({ outcome: 'recovered', rows: 20 });
    expect((await readAuditFile(join(dir, name))).length).toBe(20);
  });

  it('removes a file with nothing committed, a data file without a journal, and an orphaned journal', async () => {
    const dir = tempTrail();
    const a = await interrupted(dir, 0, 'part-v.1-abc-000001.parquet');
    expect(await recoverFile(dir, a.name)).toMatchObject({ outcome: 'removed' });

    const b = await interrupted(dir, 2, 'part-v.1-abc-000002.parquet');
    writeFileSync(join(dir, journalName(b.name)), ''); // journal lost
    expect(await recoverFile(dir, b.name)).toMatchObject({ outcome: 'removed' });

    writeFileSync(join(dir, journalName('part-v.1-abc-000003.parquet')), 'KWAJ');
    expect(await recoverFile(dir, 'part-v.1-abc-000003.parquet')).toMatchObject({ outcome: 'removed' });
    expect(files(dir)).toEqual([]);
  });

  it('renames a complete file that was killed just before its rename', async () => {
    const dir = tempTrail();
    const name = 'part-v.1-abc-000001.parquet';
    const f = await PartFile.create(dir, name, opts, Date.now());
    await f.append(batch(0, 7));
    await f.finish();
    renameSync(join(dir, name), join(dir, tempName(name)));
    expect(await recoverFile(dir, name)).toMatchObject({ outcome: 'recovered', rows: 7 });
    expect(files(dir)).toEqual([name]);
  });

  it('removes a file from another schema version rather than guess', async () => {
    const dir = tempTrail();
    const { name } = await interrupted(dir, 1);
    const j = join(dir, journalName(name));
    // Rewrite the header frame's schema version, with a valid CRC (a journal from a future version).
    const { parseJournal, headerFrame, entryFrame } = await import('../../../src/audit/journal.ts');
    const parsed = parseJournal(readFileSync(j));
    if (!parsed.header) throw new Error('no header');
    writeFileSync(
      j,
      Buffer.concat([
        headerFrame({ ...parsed.header, schemaVersion: 99 }),
        ...parsed.entries.map(entryFrame),
      ]),
    );
    expect(await recoverFile(dir, name)).toMatchObject({ outcome: 'removed' });
  });
});

/** Rewrites a leftover's journal as if another process (pid, process token) had written it. */
function writtenBy(dir: string, name: string, writer: { pid: number; process: string }): void {
  const path = join(dir, journalName(name));
  const parsed = parseJournal(readFileSync(path));
  if (!parsed.header) throw new Error('no journal header');
  writeFileSync(
    path,
    Buffer.concat([headerFrame({ ...parsed.header, ...writer }), ...parsed.entries.map(entryFrame)]),
  );
}

describe('recovery when a writer starts', () => {
  it('recovers at once what a process on this host left when it no longer runs, or had our pid before us', async () => {
    const dir = tempTrail();
    const part = join(dir, 'date=2026-03-01', 'hour=11');
    const dead = 'part-validator.vm_1-ddd-000001.parquet';
    const restarted = 'part-validator.vm_2-eee-000001.parquet';
    const alive = 'part-validator.vm_3-fff-000001.parquet';
    await interrupted(part, 2, dead);
    await interrupted(part, 1, restarted);
    await interrupted(part, 1, alive);
    // A process that has exited (and been reaped): its pid runs nothing now.
    writtenBy(part, dead, { pid: spawnSync(process.execPath, ['-e', '0']).pid ?? 0, process: 'gone' });
    // Our own pid, but an earlier process (a container restarted in the same pod).
    writtenBy(part, restarted, { pid: process.pid, process: 'earlier' });
    // A live process (our parent): maybe a neighbour writing that file now.
    writtenBy(part, alive, { pid: process.ppid, process: 'neighbour' });
    const sink = await createAuditSink({ directory: dir, source: 'validator/vm_4', fsync: false });
    expect(sink.stats.recovered).toEqual({ files: 2, rows: 30, removed: 0 });
    await sink.close();
    expect(existsSync(join(part, dead))).toBe(true);
    expect(existsSync(join(part, restarted))).toBe(true);
    expect(existsSync(join(part, tempName(alive)))).toBe(true);
  });

  it("recovers its own source's leftovers at once, and another's only once stale", async () => {
    const dir = tempTrail();
    const part = join(dir, 'date=2026-03-01', 'hour=10');
    await interrupted(part, 2, 'part-validator.pod-a-aaa-000001.parquet');
    await interrupted(part, 1, 'part-validator.pod-b-bbb-000001.parquet'); // pod-b may be alive
    await interrupted(part, 1, 'part-validator.pod-c-ccc-000001.parquet');
    const old = new Date(Date.now() - 3_600_000);
    for (const n of ['part-validator.pod-c-ccc-000001.parquet']) {
      utimesSync(join(part, tempName(n)), old, old);
      utimesSync(join(part, journalName(n)), old, old);
    }
    const sink = await createAuditSink({ directory: dir, source: 'validator/pod-a', fsync: false });
    expect(sink.stats.recovered).toEqual({ files: 2, rows: 30, removed: 0 });
    await sink.close();
    expect(existsSync(join(part, tempName('part-validator.pod-b-bbb-000001.parquet')))).toBe(true);
    expect((await readAuditRows(dir)).length).toBe(30);
  });

  it('keeps what a file committed before a write error, in the same process', async () => {
    const dir = tempTrail();
    let n = 0;
    const sink = await createAuditSink({
      directory: dir,
      source: 'v/1',
      fsync: false,
      beforeCommit: async () => {
        if (++n === 3) throw new Error('disk full');
      },
    });
    for (let b = 0; b < 4; b++) {
      for (let i = 0; i < 5; i++) sink.record(decision(b * 5 + i));
      await sink.commit();
    }
    await sink.close();
    expect(sink.stats.dropped.write_error).toBe(5);
    expect(files(dir).filter((f) => !f.endsWith('.parquet'))).toEqual([]);
    expect((await readAuditRows(dir)).map((r) => r.request_id)).toEqual(
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 18, 19].map((i) => `r-${i}`),
    );
  });
});
