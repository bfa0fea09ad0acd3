import { readdir, rmdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { DATE_DIR_RE, HOUR_DIR_RE, HOUR_MS, isFinalName, parsePartitionPath } from './naming.ts';
import { listDirs } from './recovery.ts';

// Retention by age and by total size, oldest first. Only complete files are touched (never one being
// written), and only files named as the writer names them. Age is judged by the partition: a file is
// old enough once the whole hour it covers is. Emptied partition directories are removed, except
// recent ones a writer may be about to use.

export interface RetentionPolicy {
  /** Delete files whose partition hour ended more than this long ago. */
  maxAgeMs?: number | undefined;
  /** Then delete the oldest files until the total is at most this. */
  maxTotalBytes?: number | undefined;
}

export interface AuditFileInfo {
  path: string;
  /** `date=…/hour=…` */
  partition: string;
  hourStartMs: number;
  name: string;
  bytes: number;
  mtimeMs: number;
}

export interface RetentionResult {
  deletedFiles: number;
  deletedBytes: number;
  keptFiles: number;
  keptBytes: number;
}

/** Every complete audit file under the root, oldest partition first (then by modification time, name). */
export async function listAuditFiles(root: string): Promise<AuditFileInfo[]> {
  const files: AuditFileInfo[] = [];
  for (const dateDir of await listDirs(root, DATE_DIR_RE)) {
    for (const hourDir of await listDirs(join(root, dateDir), HOUR_DIR_RE)) {
      const partition = `${dateDir}/${hourDir}`;
      const hourStartMs = parsePartitionPath(partition);
      if (hourStartMs === undefined) continue;
      const dir = join(root, dateDir, hourDir);
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        if (!isFinalName(name)) continue;
        const s = await stat(join(dir, name)).catch(() => undefined);
        if (!s?.isFile()) continue;
        files.push({
          path: join(dir, name),
          partition,
          hourStartMs,
          name,
          bytes: s.size,
          mtimeMs: s.mtimeMs,
        });
      }
    }
  }
  return files.sort(
    (a, b) => a.hourStartMs - b.hourStartMs || a.mtimeMs - b.mtimeMs || a.name.localeCompare(b.name),
  );
}

export async function applyRetention(
  root: string,
  policy: RetentionPolicy,
  nowMs: number,
): Promise<RetentionResult> {
  const files = await listAuditFiles(root);
  let total = files.reduce((n, f) => n + f.bytes, 0);
  const result: RetentionResult = {
    deletedFiles: 0,
    deletedBytes: 0,
    keptFiles: files.length,
    keptBytes: total,
  };
  const emptied = new Set<string>();
  const drop = async (f: AuditFileInfo) => {
    try {
      await unlink(f.path);
    } catch {
      return; // gone already (another writer's retention), or not ours to delete
    }
    total -= f.bytes;
    result.deletedFiles++;
    result.deletedBytes += f.bytes;
    emptied.add(f.partition);
  };
  let i = 0;
  if (policy.maxAgeMs !== undefined) {
    const cutoff = nowMs - policy.maxAgeMs;
    for (; i < files.length; i++) {
      const f = files[i] as AuditFileInfo;
      if (f.hourStartMs + HOUR_MS > cutoff) break;
      await drop(f);
    }
  }
  if (policy.maxTotalBytes !== undefined) {
    for (; i < files.length && total > policy.maxTotalBytes; i++) await drop(files[i] as AuditFileInfo);
  }
  for (const partition of emptied) {
    const hourStartMs = parsePartitionPath(partition) ?? 0;
    if (hourStartMs + 2 * HOUR_MS > nowMs) continue;
    const [dateDir = ''] = partition.split('/');
    await rmdir(join(root, partition)).catch(() => {});
    await rmdir(join(root, dateDir)).catch(() => {});
  }
  result.keptFiles = files.length - result.deletedFiles;
  result.keptBytes = total;
  return result;
}
