import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allFiles, Duck, expectNoPlaintextKeys, lastWritten, startWriter } from '../support/audit/trail.ts';

// The writer in a child process, killed: SIGKILL in the middle of a batch (its bytes in the file, not
// yet committed), SIGKILL at an arbitrary moment under load, and SIGTERM. After a restart, DuckDB
// reads every file, and the events present are exactly a prefix of those recorded: nothing committed
// is lost, nothing half-written is visible.

const dirs: string[] = [];
let duck: Duck;

function trail(): string {
  const d = mkdtempSync(join(tmpdir(), 'kw-audit-crash-'));
  dirs.push(d);
  return d;
}

const leftovers = (dir: string) => allFiles(dir).filter((f) => /\.(tmp|journal)$/.test(f));

/** Count, distinct ids and the range of sequence numbers, as DuckDB reads them. */
async function sequences(dir: string): Promise<{ rows: number; distinct: number; min: number; max: number }> {
  if (!allFiles(dir).some((f) => f.endsWith('.parquet'))) return { rows: 0, distinct: 0, min: -1, max: -1 };
  const [r] = await duck.all(
    `SELECT count(*) AS n, count(DISTINCT request_id) AS d,
            min(CAST(substr(request_id, 3) AS BIGINT)) AS lo, max(CAST(substr(request_id, 3) AS BIGINT)) AS hi
     FROM ${Duck.files(dir)}`,
  );
  return { rows: Number(r?.n), distinct: Number(r?.d), min: Number(r?.lo ?? -1), max: Number(r?.hi ?? -1) };
}

/** Every file on its own reads, and its time column is a TIMESTAMP. */
async function everyFileReadable(dir: string): Promise<number> {
  const files = allFiles(dir).filter((f) => f.endsWith('.parquet'));
  for (const f of files) {
    const [d] = await duck.all(
      `SELECT column_type FROM (DESCRIBE SELECT time FROM read_parquet('${join(dir, f)}'))`,
    );
    expect(d?.column_type).toBe('TIMESTAMP');
    const [c] = await duck.all(`SELECT count(*) AS n FROM read_parquet('${join(dir, f)}')`);
    expect(Number(c?.n)).toBeGreaterThan(0);
  }
  return files.length;
}

async function restart(dir: string): Promise<{ files: number; rows: number; removed: number }> {
  const w = startWriter(dir, 'recover');
  const m = await w.waitFor(/^recovered (\d+) (\d+) (\d+)$/);
  expect((await w.exited).code).toBe(0);
  return { files: Number(m[1]), rows: Number(m[2]), removed: Number(m[3]) };
}

beforeAll(async () => {
  duck = await Duck.open();
});

afterAll(async () => {
  for (const d of dirs) await expectNoPlaintextKeys(d);
  duck?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('audit writer, killed', () => {
  it('SIGKILL mid-batch: after a restart every file reads and exactly the committed events are there', async () => {
    const dir = trail();
    const w = startWriter(dir, 'pause', '12'); // files rotate every 8 batches: one finished, one open
    const committed = Number((await w.waitFor(/^paused (\d+)$/))[1]);
    expect(committed).toBeGreaterThan(0);
    w.child.kill('SIGKILL');
    expect((await w.exited).signal).toBe('SIGKILL');

    // The interrupted file is there, hidden: readers globbing *.parquet do not see it.
    expect(leftovers(dir).length).toBeGreaterThan(0);
    const before = await sequences(dir);
    expect(before.rows).toBeGreaterThan(0);
    expect(before.rows).toBeLessThan(committed);

    const r = await restart(dir);
    expect(r.files).toBeGreaterThanOrEqual(1);
    expect(leftovers(dir)).toEqual([]);
    await everyFileReadable(dir);

    // Present: exactly 0..committed-1 (the paused batch and everything after it were not committed).
    const after = await sequences(dir);
    expect(after).toEqual({ rows: committed, distinct: committed, min: 0, max: committed - 1 });
    expect(before.rows + r.rows).toBe(committed);
  });

  it('SIGKILL at an arbitrary moment under load: only the uncommitted tail is missing', async () => {
    const dir = trail();
    const w = startWriter(dir, 'run');
    await w.waitFor(/^written ([1-9]\d{4,})$/); // 10,000+ committed
    await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 50)));
    w.child.kill('SIGKILL');
    await w.exited;
    const floor = lastWritten(w.lines);

    await restart(dir);
    expect(leftovers(dir)).toEqual([]);
    await everyFileReadable(dir);
    const s = await sequences(dir);
    // A prefix with no gaps, at least as long as what was reported committed before the kill.
    expect(s.rows).toBeGreaterThanOrEqual(floor);
    expect(s).toEqual({ rows: s.rows, distinct: s.rows, min: 0, max: s.rows - 1 });
  });

  it('SIGTERM loses none: every recorded event is in a complete file', async () => {
    const dir = trail();
    const w = startWriter(dir, 'run', '0', '30000');
    await w.waitFor(/^written ([1-9]\d{3,})$/);
    w.child.kill('SIGTERM');
    const m = await w.waitFor(/^done (\d+) (\d+) (\d+)$/);
    expect((await w.exited).code).toBe(0);
    const [offered, written, dropped] = [Number(m[1]), Number(m[2]), Number(m[3])];
    expect(dropped).toBe(0);
    expect(written).toBe(offered);
    expect(leftovers(dir)).toEqual([]);
    await everyFileReadable(dir);
    expect(await sequences(dir)).toEqual({ rows: offered, distinct: offered, min: 0, max: offered - 1 });
  });
});
