import { join } from 'node:path';
import type { Logger } from '../observability/logger.ts';
import type { DictionaryHints } from './column-builder.ts';
import type { RowGroupBuilder } from './encode.ts';
import { FileNamer, partitionOf } from './naming.ts';
import type { ResolvedAuditOptions } from './options.ts';
import { PartFile } from './part-file.ts';
import { recoverFile } from './recovery.ts';
import type { WriteCounters } from './writer-stats.ts';

// The audit writer's open files, one per hourly partition: a row group is appended to its hour's file
// (opened on first use), a file is finished when it is full, old or its hour is over. A file that fails
// is abandoned and recovered at once, keeping what it committed before the error.

export class OpenFiles {
  readonly #open = new Map<number, PartFile>();
  readonly #options: ResolvedAuditOptions;
  readonly #namer: FileNamer;
  readonly #hints: DictionaryHints;
  readonly #counters: WriteCounters;
  readonly #log: Logger | undefined;

  constructor(
    options: ResolvedAuditOptions,
    hints: DictionaryHints,
    counters: WriteCounters,
    log: Logger | undefined,
  ) {
    this.#options = options;
    this.#namer = new FileNamer(options.source, options.now());
    this.#hints = hints;
    this.#counters = counters;
    this.#log = log;
  }

  get size(): number {
    return this.#open.size;
  }

  /** Appends (commits) one row group to its hour's file; false when it could not be written. */
  async append(hour: number, rows: RowGroupBuilder): Promise<boolean> {
    let file = this.#open.get(hour);
    try {
      file ??= await this.#create(hour);
      const before = file.bytes;
      const redactionsBefore = file.redactions;
      await file.append(rows);
      const c = this.#counters;
      c.written += rows.rows;
      c.batches++;
      c.bytesWritten += file.bytes - before;
      c.redactions += file.redactions - redactionsBefore;
      c.lastCommitMs = this.#options.now();
      if (this.#isFull(file)) await this.#finish(hour, file);
      return true;
    } catch (err) {
      this.#counters.writeErrors++;
      this.#log?.error(
        { err: (err as Error).message, rows: rows.rows },
        'audit: writing a batch failed; its events are dropped',
      );
      if (file) await this.#abandon(hour, file);
      return false;
    }
  }

  /**
   * Finishes the files that are due: every one when `all`, else those open for maxFileAgeMs and those
   * of a past hour that nothing is being written to (`busy`).
   */
  async finishDue(all: boolean, busy: (hour: number) => boolean): Promise<void> {
    const now = this.#options.now();
    const currentHour = partitionOf(now).hourStartMs;
    for (const [hour, file] of this.#open) {
      const due =
        all || now - file.openedAtMs >= this.#options.maxFileAgeMs || (hour < currentHour && !busy(hour));
      if (due) await this.#finish(hour, file);
    }
  }

  async #create(hour: number): Promise<PartFile> {
    const o = this.#options;
    const file = await PartFile.create(
      join(o.directory, partitionOf(hour).path),
      this.#namer.next(),
      { compression: o.compression, source: o.source, fsync: o.fsync, beforeCommit: o.beforeCommit },
      o.now(),
      this.#hints,
    );
    this.#open.set(hour, file);
    return file;
  }

  #isFull(file: PartFile): boolean {
    const o = this.#options;
    return file.rows >= o.maxFileRows || file.bytes >= o.maxFileBytes || file.rowGroups >= o.maxFileRowGroups;
  }

  async #finish(hour: number, file: PartFile): Promise<void> {
    this.#open.delete(hour);
    try {
      const path = await file.finish();
      if (path) {
        this.#counters.filesFinished++;
        this.#log?.debug({ file: path, rows: file.rows }, 'audit: file finished');
      }
    } catch (err) {
      this.#counters.writeErrors++;
      this.#log?.error(
        { err: (err as Error).message, file: file.finalName },
        'audit: finishing a file failed; recovering it',
      );
      await this.#abandon(hour, file);
    }
  }

  /** Keeps what the file committed before an error: recovered now rather than at the next start. */
  async #abandon(hour: number, file: PartFile): Promise<void> {
    this.#open.delete(hour);
    await file.abandon();
    await recoverFile(file.dir, file.finalName).catch(() => {});
  }
}
