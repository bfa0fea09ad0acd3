import { open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../observability/logger.ts';
import { footer } from './format.ts';
import { PROCESS_TOKEN, parseJournal } from './journal.ts';
import {
  DATE_DIR_RE,
  finalNameOf,
  HOUR_DIR_RE,
  journalName,
  sourceOfName,
  sourceToken,
  tempName,
} from './naming.ts';
import type { ResolvedAuditOptions } from './options.ts';
import { syncDirectory } from './part-file.ts';
import { SCHEMA_VERSION } from './schema.ts';

// Leftovers of an interrupted write, dealt with at the next start: a temp file whose journal has
// committed row groups is cut back to the last of them, given its footer, checked by reading it back
// and renamed into place; anything else (nothing committed, unreadable) is removed. Nothing is left
// half-written: after recovery a directory holds only complete files.

const COMPRESSIONS: ReadonlySet<string> = new Set(['GZIP', 'SNAPPY', 'UNCOMPRESSED']);

export type RecoveryOutcome =
  | { outcome: 'recovered'; path: string; rows: number }
  | { outcome: 'removed'; reason: string };

/** Recovers (or removes) the leftovers of one file, given the directory and its final name. */
export async function recoverFile(dir: string, finalName: string): Promise<RecoveryOutcome> {
  const temp = join(dir, tempName(finalName));
  const journal = join(dir, journalName(finalName));
  const finalPath = join(dir, finalName);
  const remove = async (reason: string): Promise<RecoveryOutcome> => {
    await unlink(temp).catch(() => {});
    await unlink(journal).catch(() => {});
    return { outcome: 'removed', reason };
  };

  const tempSize = await stat(temp).then(
    (s) => s.size,
    () => undefined,
  );
  if (tempSize === undefined) return remove('journal without a data file');
  const parsed = await readFile(journal).then(parseJournal, () => undefined);

  if (parsed?.header && parsed.entries.length > 0) {
    const h = parsed.header;
    if (h.schemaVersion !== SCHEMA_VERSION || !COMPRESSIONS.has(h.compression)) {
      return remove(`written by another version (schema ${h.schemaVersion}, ${h.compression})`);
    }
    const entries = parsed.entries.filter((e) => e.dataEnd <= tempSize);
    const last = entries[entries.length - 1];
    if (!last) return remove('no committed row group survived');
    const rows = entries.reduce((n, e) => n + e.rows, 0);
    try {
      const tail = footer(
        entries.map((e) => e.rowGroup),
        rows,
        { ...h.metadata, 'keywarden.audit.recovered': 'true' },
      );
      const fh = await open(temp, 'r+');
      try {
        await fh.truncate(last.dataEnd);
        await fh.write(tail, 0, tail.length, last.dataEnd);
        await fh.sync();
      } finally {
        await fh.close();
      }
      if ((await readableRows(temp)) !== rows) return remove('the rebuilt file did not read back');
    } catch (err) {
      return remove(`could not rebuild: ${(err as Error).message}`);
    }
    await rename(temp, finalPath);
    await unlink(journal).catch(() => {});
    await syncDirectory(dir);
    return { outcome: 'recovered', path: finalPath, rows };
  }

  // No usable journal: keep the data file only if it is already complete on its own.
  const rows = await readableRows(temp).catch(() => undefined);
  if (rows === undefined || rows === 0) return remove('nothing committed');
  await rename(temp, finalPath);
  await unlink(journal).catch(() => {});
  return { outcome: 'recovered', path: finalPath, rows };
}

/**
 * Whether the process that wrote a leftover is known to be gone: it ran on this host, and its pid
 * runs nothing, or is ours while it was another process (a restarted container's predecessor). Not
 * known otherwise (another host, an older journal, a pid reused since): then only age tells.
 */
async function writerIsGone(dir: string, finalName: string): Promise<boolean> {
  const header = await readFile(join(dir, journalName(finalName))).then(
    (b) => parseJournal(b).header,
    () => undefined,
  );
  if (header?.host !== hostname() || header.pid === undefined) return false;
  if (header.pid === process.pid) return header.process !== PROCESS_TOKEN;
  try {
    process.kill(header.pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Rows in a Parquet file, after reading its footer and every row group; throws if unreadable. */
export async function readableRows(path: string): Promise<number> {
  // Loaded when needed: recovery is rare, and the reader is heavy (see format.ts).
  const { ParquetReader } = await import('@dsnp/parquetjs/dist/lib/reader.js');
  const reader = await ParquetReader.openFile(path);
  try {
    const envelope = reader.envelopeReader;
    const metadata = reader.metadata;
    if (!envelope || !metadata) throw new Error('no metadata');
    let rows = 0;
    for (const rg of metadata.row_groups) {
      // Reading one column of each row group proves the offsets and pages decode.
      const data = await envelope.readRowGroup(reader.schema, rg, [['time']]);
      rows += data.rowCount ?? 0;
    }
    if (rows !== Number(reader.getRowCount())) throw new Error('row count mismatch');
    return rows;
  } finally {
    await reader.close();
  }
}

export interface LeftoverFile {
  dir: string;
  finalName: string;
  /** Latest modification of its temp or journal file. */
  mtimeMs: number;
}

/** Every temp/journal leftover under the root's date=/hour= partitions. */
export async function findLeftovers(root: string): Promise<LeftoverFile[]> {
  const found = new Map<string, LeftoverFile>();
  for (const dateDir of await listDirs(root, DATE_DIR_RE)) {
    for (const hourDir of await listDirs(join(root, dateDir), HOUR_DIR_RE)) {
      const dir = join(root, dateDir, hourDir);
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        const of = finalNameOf(name);
        if (!of) continue;
        const mtimeMs = await stat(join(dir, name)).then(
          (s) => s.mtimeMs,
          () => 0,
        );
        const key = join(dir, of.finalName);
        const prev = found.get(key);
        found.set(key, { dir, finalName: of.finalName, mtimeMs: Math.max(prev?.mtimeMs ?? 0, mtimeMs) });
      }
    }
  }
  return [...found.values()];
}

export async function listDirs(dir: string, re: RegExp): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isDirectory() && re.test(e.name))
    .map((e) => e.name)
    .sort();
}

/**
 * Recovers or removes leftovers of interrupted writes at a writer's start: its own source's, and those
 * of a process on this host that no longer runs, at once; any other only once stale (it may be a live
 * neighbour's).
 */
export async function recoverLeftovers(
  options: Pick<ResolvedAuditOptions, 'directory' | 'source' | 'now' | 'staleAfterMs'>,
  log: Logger | undefined,
): Promise<{ files: number; rows: number; removed: number }> {
  const counts = { files: 0, rows: 0, removed: 0 };
  const own = sourceToken(options.source);
  const now = options.now();
  for (const left of await findLeftovers(options.directory)) {
    const mine = sourceOfName(left.finalName) === own;
    const stale = now - left.mtimeMs >= options.staleAfterMs;
    if (!mine && !stale && !(await writerIsGone(left.dir, left.finalName))) continue;
    const r = await recoverFile(left.dir, left.finalName);
    if (r.outcome === 'recovered') {
      counts.files++;
      counts.rows += r.rows;
      log?.warn({ file: r.path, rows: r.rows }, 'audit: recovered a file left by an interrupted writer');
    } else {
      counts.removed++;
      log?.warn(
        { file: join(left.dir, left.finalName), reason: r.reason },
        'audit: removed an unrecoverable leftover',
      );
    }
  }
  return counts;
}
