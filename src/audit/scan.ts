import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AuditFileReader } from './reader.ts';
import { findLeftovers, readableRows } from './recovery.ts';
import { findKeys } from './redact.ts';
import { listAuditFiles } from './retention.ts';
import { COLUMNS, type ColumnName } from './schema.ts';

// Checks over a whole trail: every file reads back, and no file holds a key (`keywarden audit check`,
// and the tests' final scan).

export interface PlaintextFinding {
  path: string;
  column: string;
  /** The key's prefix and id only (`kwsk_prod_<id>_…`), never the secret. */
  hint: string;
}

/**
 * Scans every complete file under the root for key-shaped strings, in every string column (decoded,
 * so compression cannot hide one) and in the raw bytes. Findings name the key id, never the secret.
 */
export async function findPlaintextKeys(
  root: string,
): Promise<{ files: number; rows: number; findings: PlaintextFinding[] }> {
  const strings = COLUMNS.filter((c) => c.kind === 'string').map((c) => c.name as ColumnName);
  const findings: PlaintextFinding[] = [];
  let files = 0;
  let rows = 0;
  const hint = (k: string) => `${k.split('_').slice(0, 3).join('_')}_…`;
  for (const f of await listAuditFiles(root)) {
    files++;
    for (const k of findKeys((await readFile(f.path)).toString('latin1')))
      findings.push({ path: f.path, column: '(raw bytes)', hint: hint(k) });
    const reader = await AuditFileReader.open(f.path);
    try {
      for (const rg of reader.rowGroups) {
        const batch = await reader.read(rg, strings);
        rows += batch.rows;
        for (const [column, values] of batch.columns) {
          for (const v of values) {
            if (typeof v === 'string')
              for (const k of findKeys(v)) findings.push({ path: f.path, column, hint: hint(k) });
          }
        }
      }
    } finally {
      await reader.close();
    }
  }
  return { files, rows, findings };
}

export interface ReadabilityReport {
  files: number;
  rows: number;
  unreadable: { path: string; error: string }[];
  /** Temp or journal files of interrupted writes (or of a writer still running). */
  leftovers: string[];
}

/** Reads every complete file (footer and every row group) and lists leftovers of interrupted writes. */
export async function readableRowsOf(root: string): Promise<ReadabilityReport> {
  const report: ReadabilityReport = { files: 0, rows: 0, unreadable: [], leftovers: [] };
  for (const f of await listAuditFiles(root)) {
    report.files++;
    try {
      report.rows += await readableRows(f.path);
    } catch (err) {
      report.unreadable.push({ path: f.path, error: (err as Error).message });
    }
  }
  report.leftovers = (await findLeftovers(root)).map((l) => join(l.dir, l.finalName));
  return report;
}
